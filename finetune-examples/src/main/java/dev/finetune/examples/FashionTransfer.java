package dev.finetune.examples;

import ai.djl.MalformedModelException;
import ai.djl.Model;
import ai.djl.ndarray.NDManager;
import ai.djl.training.dataset.ArrayDataset;
import dev.finetune.core.FineTuner;
import dev.finetune.core.result.Evaluation;
import dev.finetune.core.result.FineTuneResult;
import dev.finetune.core.plan.BatchNormPolicy;
import dev.finetune.core.stage.Stage;
import dev.finetune.vision.data.IdxImages;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * The main job: a CNN pretrained on five Fashion-MNIST classes is fine-tuned to the five others,
 * head first, then with discriminative learning rates; prints the per-epoch table, the groups, and
 * the held-out test result (measured once). Runs offline on the Debian dataset, no arguments needed.
 *
 * <p>Options: {@code --target-per-class N} (default 100), {@code --data DIR} (default
 * {@code /usr/share/datasets/fashion-mnist}), {@code --work DIR} (default {@code target/fashion-transfer});
 * {@code --help}.
 */
@Command(name = "FashionTransfer", mixinStandardHelpOptions = true,
        description = "Fine-tunes a small CNN pretrained on five Fashion-MNIST classes to the five others, head"
                + " first, then with discriminative learning rates; prints the per-epoch table, the layer groups"
                + " and the held-out test result.")
public final class FashionTransfer implements Callable<Integer> {

    /** Class names of Fashion-MNIST, label order. */
    static final List<String> NAMES = List.of(
            "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
            "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot");
    static final int[] SOURCE = {0, 1, 3, 5, 8};
    static final int[] TARGET = {2, 4, 6, 7, 9};

    @Option(names = "--target-per-class", paramLabel = "N",
            description = "training images per target class (default: ${DEFAULT-VALUE})")
    private int perClass = 100;

    @Option(names = "--data", paramLabel = "DIR", description = "the Fashion-MNIST IDX files (default: ${DEFAULT-VALUE})")
    private Path dataDir = Paths.get("/usr/share/datasets/fashion-mnist");

    @Option(names = "--work", paramLabel = "DIR",
            description = "where the pretrained source network is cached and the checkpoint goes (default: ${DEFAULT-VALUE})")
    private Path work = Paths.get("target", "fashion-transfer");

    private FashionTransfer() {}

    /**
     * Runs the demonstration; {@code --help} lists the options.
     *
     * @param args optional flags
     */
    public static void main(String[] args) {
        System.exit(new CommandLine(new FashionTransfer()).execute(args));
    }

    /**
     * Pretrains the source network (once), fine-tunes it to the target classes, tests once.
     *
     * @return 0
     * @throws Exception on missing data or a failed run
     */
    @Override
    public Integer call() throws Exception {
        Files.createDirectories(work);
        IdxImages train = IdxImages.readSplit(dataDir, true);
        IdxImages test = IdxImages.readSplit(dataDir, false);
        System.out.printf(Locale.ROOT, "Fashion-MNIST: %d training and %d test images from %s%n",
                train.size(), test.size(), dataDir);
        System.out.println("source classes " + names(SOURCE) + " -> target classes " + names(TARGET));

        Path pretrained = work.resolve("source-cnn.params");
        if (!Files.exists(pretrained)) {
            pretrain(train, pretrained);
        }
        try (Model model = Model.newInstance("fashion-transfer"); NDManager data = NDManager.newBaseManager()) {
            model.setBlock(SmallCnn.build(SOURCE.length));
            try (DataInputStream in = new DataInputStream(Files.newInputStream(pretrained))) {
                model.getBlock().loadParameters(model.getNDManager(), in);
            } catch (MalformedModelException e) {
                throw new IOException("Cached source model " + pretrained + " is unreadable; delete it to retrain", e);
            }
            ArrayDataset targetTrain = train.toDataset(data, train.sample(TARGET, perClass, 0, 1), TARGET, 32, true);
            ArrayDataset targetVal = train.toDataset(data, train.sample(TARGET, 200, perClass, 1), TARGET, 250, false);
            ArrayDataset targetTest = test.toDataset(data, test.sample(TARGET, 1000, 0, 1), TARGET, 250, false);
            System.out.printf(Locale.ROOT, "target: %d training, %d validation, %d test images%n",
                    targetTrain.size(), targetVal.size(), targetTest.size());

            Stage head = Stage.headOnly().withEpochs(3).withLearningRate(3e-2);
            Stage tune = Stage.discriminative(2.6).withEpochs(5).withLearningRate(3e-3);
            FineTuner tuner = FineTuner.from(model)
                    .replaceHead(TARGET.length)
                    .optClassNames(names(TARGET))
                    .optCheckpoint(work.resolve("best.ckpt"))
                    .stage(head)
                    .stage(tune);
            FineTuneResult result = tuner.fit(targetTrain, targetVal);
            System.out.println();
            System.out.println("layer groups in the discriminative stage:");
            System.out.print(tuner.describeGroups(tune));
            System.out.println();
            System.out.print(result);
            Evaluation onTest = tuner.evaluate(targetTest);
            System.out.println("held-out test set (measured once, best checkpoint): " + onTest);
        }
        return 0;
    }

    private static void pretrain(IdxImages train, Path out) throws IOException {
        System.out.println("pretraining the source network on " + names(SOURCE) + " (once; cached in " + out + ")");
        try (Model model = Model.newInstance("source"); NDManager data = NDManager.newBaseManager()) {
            model.setBlock(SmallCnn.build(SOURCE.length));
            ArrayDataset sourceTrain = train.toDataset(data, train.sample(SOURCE, 3000, 0, 7), SOURCE, 64, true);
            ArrayDataset sourceVal = train.toDataset(data, train.sample(SOURCE, 300, 3000, 7), SOURCE, 250, false);
            FineTuneResult r = FineTuner.from(model)
                    .optNumClasses(SOURCE.length)
                    .optClassNames(names(SOURCE))
                    .stage(Stage.full().withEpochs(3).withLearningRate(3e-3).withBatchNormPolicy(BatchNormPolicy.TRAIN))
                    .fit(sourceTrain, sourceVal);
            System.out.printf(Locale.ROOT, "source network: validation accuracy %.4f%n", r.bestEpoch().validationAccuracy());
            Path tmp = out.resolveSibling(out.getFileName() + ".tmp");
            try (DataOutputStream dos = new DataOutputStream(Files.newOutputStream(tmp))) {
                model.getBlock().saveParameters(dos);
            }
            Files.move(tmp, out, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        }
    }

    private static List<String> names(int[] classes) {
        List<String> out = new ArrayList<>();
        for (int c : classes) {
            out.add(NAMES.get(c));
        }
        return out;
    }
}
