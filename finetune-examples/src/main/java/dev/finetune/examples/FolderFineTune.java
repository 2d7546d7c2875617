package dev.finetune.examples;

import ai.djl.Model;
import ai.djl.inference.Predictor;
import ai.djl.modality.Classifications;
import ai.djl.modality.cv.Image;
import ai.djl.modality.cv.ImageFactory;
import ai.djl.repository.zoo.ZooModel;
import dev.finetune.core.FineTuner;
import dev.finetune.core.result.Evaluation;
import dev.finetune.core.result.FineTuneResult;
import dev.finetune.core.stage.Stage;
import dev.finetune.core.TrainingInterruptedException;
import dev.finetune.vision.backbone.Heads;
import dev.finetune.vision.backbone.TorchScriptBackbone;
import dev.finetune.vision.data.DataSplit;
import dev.finetune.vision.data.ImageCatalog;
import dev.finetune.vision.data.ImageDataset;
import dev.finetune.vision.data.IdxImages;
import dev.finetune.vision.export.ClassifierExport;
import dev.finetune.vision.transform.ImagePipeline;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import javax.imageio.ImageIO;

/**
 * Fine-tunes a TorchScript backbone on a folder of images (one sub-folder per class), exports the
 * result as a DJL model directory, reloads it and predicts: the ten lines of {@link #fineTune} are
 * all a host application writes. Without arguments it uses the committed backbone pretrained on five
 * Fashion-MNIST classes and writes an image folder of the five other classes.
 *
 * <p>Usage: {@code FolderFineTune [BACKBONE.pt [IMAGE_FOLDER [EXPORT_DIR]]]} ({@code --help} lists
 * the defaults). The best epoch is kept in {@code <EXPORT_DIR>-best.ckpt}; Ctrl-C stops the fine-tune
 * at the next step and keeps it (exit status 130).
 */
@Command(name = "FolderFineTune", mixinStandardHelpOptions = true,
        description = "Fine-tunes a TorchScript backbone on a folder of images (one sub-folder per class),"
                + " exports it as a DJL model directory, reloads it and predicts. Ctrl-C stops at the next"
                + " step and keeps the best epoch.",
        exitCodeListHeading = "Exit status:%n",
        exitCodeList = {"0:done", "1:failed", "2:bad arguments", "130:stopped by Ctrl-C"})
public final class FolderFineTune implements Callable<Integer> {

    @Parameters(index = "0", arity = "0..1", paramLabel = "BACKBONE.pt",
            description = "a TorchScript backbone exported without its head"
                    + " (default: the committed models/fashion-source-resnet-embedding.pt)")
    private Path backbone;

    @Parameters(index = "1", arity = "0..1", paramLabel = "IMAGE_FOLDER",
            description = "the images, one sub-folder per class (default: target/fashion-target-folder,"
                    + " written with 60 images of each of five Fashion-MNIST classes if missing)")
    private Path folder;

    @Parameters(index = "2", arity = "0..1", paramLabel = "EXPORT_DIR",
            description = "where the DJL model directory goes; the best epoch is kept in"
                    + " EXPORT_DIR-best.ckpt (default: ${DEFAULT-VALUE})")
    private Path export = Paths.get("target", "fashion-target-classifier");

    private FolderFineTune() {}

    /**
     * What the run gives.
     *
     * @param result the per-epoch history and best epoch
     * @param test the held-out test result, measured once
     * @param images the scanned folder
     */
    public record Outcome(FineTuneResult result, Evaluation test, ImageCatalog images) {}

    /**
     * The whole fine-tune: scan, split, pipelines, two stages, test once, export.
     *
     * @param backbone a TorchScript file exported without its head
     * @param folder the image folder
     * @param export where the DJL model directory goes
     * @return the outcome
     * @throws Exception if a file is missing or unreadable
     */
    public static Outcome fineTune(Path backbone, Path folder, Path export) throws Exception {
        return fineTune(backbone, folder, export, null);
    }

    /**
     * The whole fine-tune, keeping the best epoch's weights in a checkpoint file as it goes.
     *
     * @param backbone a TorchScript file exported without its head
     * @param folder the image folder
     * @param export where the DJL model directory goes
     * @param checkpoint the best-epoch checkpoint file, or null for none
     * @return the outcome
     * @throws Exception if a file is missing or unreadable
     * @throws TrainingInterruptedException if the thread was interrupted (Ctrl-C): the checkpoint
     *     keeps the best completed epoch
     */
    public static Outcome fineTune(Path backbone, Path folder, Path export, Path checkpoint) throws Exception {
        ImageCatalog images = ImageCatalog.scan(folder);
        DataSplit.Splits parts = DataSplit.builder().optSeed(7).build().split(images);
        ImagePipeline pipeline = ImagePipeline.builder().setSize(32).optEvalResize(32).optAllowUpscale(true)
                .optScale(0.7, 1).optRotation(5).optColorJitter(0.2f, 0.2f, 0f, 0f).build();
        try (Model model = TorchScriptBackbone.load(backbone)) {
            FineTuner tuner = FineTuner.from(model).optHeadReplacer(Heads.auto()).replaceHead(images.classNames().size())
                    .optClassNames(images.classNames())
                    .stage(Stage.headOnly().withEpochs(3).withLearningRate(1e-2))
                    .stage(Stage.discriminative(2.6).withEpochs(3).withLearningRate(1e-3));
            if (checkpoint != null) {
                tuner.optCheckpoint(checkpoint);
            }
            System.out.println("Training on " + parts.train().size() + " images"
                    + (checkpoint == null ? "" : ", best epoch kept in " + checkpoint)
                    + "; Ctrl-C stops at the next step.");
            FineTuneResult result = tuner.fit(data(parts.train(), pipeline, true), data(parts.validation(), pipeline, false));
            Evaluation test = tuner.evaluate(data(parts.test(), pipeline, false));
            ClassifierExport.save(model, export, "classifier", images.classNames(), pipeline.toPreprocessing());
            return new Outcome(result, test, images);
        }
    }

    private static ImageDataset data(ImageCatalog part, ImagePipeline pipeline, boolean training) {
        return ImageDataset.builder().setCatalog(part)
                .optPipeline(training ? pipeline.training() : pipeline.evaluation())
                .setSampling(32, training).build();
    }

    /**
     * Runs the example; {@code --help} lists the arguments.
     *
     * @param args optional: backbone file, image folder, export directory
     */
    public static void main(String[] args) {
        Interrupts.exit(new CommandLine(new FolderFineTune()).execute(args));
    }

    /**
     * Fine-tunes, exports, reloads and predicts.
     *
     * @return 0, or 130 when Ctrl-C stopped the fine-tune
     * @throws Exception on a failed run
     */
    @Override
    public Integer call() throws Exception {
        Path backboneFile = backbone != null ? backbone : sourceBackbone();
        Path imageFolder = folder;
        if (imageFolder == null) {
            imageFolder = Paths.get("target", "fashion-target-folder");
            if (!Files.isDirectory(imageFolder)) {
                writeFashionFolder(imageFolder, 60);
            }
        }
        Path checkpoint = export.resolveSibling(export.getFileName() + "-best.ckpt");
        Outcome o;
        try (Interrupts.Handle ctrlC = Interrupts.stopOnCtrlC()) {
            o = fineTune(backboneFile, imageFolder, export, checkpoint);
        } catch (TrainingInterruptedException e) {
            System.out.println("Stopped: " + e.getMessage());
            if (Files.exists(checkpoint)) {
                System.out.println("Resume or use the best epoch from " + checkpoint.toAbsolutePath());
            }
            return 130;
        }
        System.out.println(o.images());
        System.out.println(o.images().classCounts().describe());
        System.out.println(o.result());
        System.out.printf(Locale.ROOT, "test accuracy %.3f, macro-F1 %.3f (measured once)%n",
                o.test().accuracy(), o.test().macroF1());
        try (ZooModel<Image, Classifications> served = ClassifierExport.load(export);
                Predictor<Image, Classifications> predictor = served.newPredictor()) {
            Path first = o.images().samples().get(0).path();
            Image image = ImageFactory.getInstance().fromFile(first);
            System.out.println("reloaded from " + export + ", " + first.getFileName() + " -> " + predictor.predict(image).best());
        }
        return 0;
    }

    /**
     * The committed backbone: a narrow ResNet-18-shaped net pretrained on the five Fashion-MNIST
     * source classes, exported without its head by {@code models/pretrain_fashion_source.py}.
     *
     * @return its path, from the module or the repository root
     */
    public static Path sourceBackbone() {
        Path inModule = Paths.get("models", "fashion-source-resnet-embedding.pt");
        return Files.exists(inModule) ? inModule : Paths.get("finetune-examples").resolve(inModule);
    }

    /**
     * Writes {@code perClass} Fashion-MNIST training items of each target class as PNG files.
     *
     * @param folder the image folder to create
     * @param perClass images per class
     * @throws Exception if the data is missing
     */
    public static void writeFashionFolder(Path folder, int perClass) throws Exception {
        IdxImages train = IdxImages.readSplit(Paths.get("/usr/share/datasets/fashion-mnist"), true);
        for (int c : FashionTransfer.TARGET) {
            Path dir = folder.resolve(FashionTransfer.NAMES.get(c).replace('/', '-').replace(' ', '_'));
            Files.createDirectories(dir);
            int written = 0;
            for (int i = 0; i < train.size() && written < perClass; i++) {
                if (train.label(i) == c) {
                    BufferedImage img = new BufferedImage(28, 28, BufferedImage.TYPE_BYTE_GRAY);
                    img.getRaster().setDataElements(0, 0, 28, 28, train.image(i));
                    ImageIO.write(img, "png", dir.resolve(String.format("%05d.png", i)).toFile());
                    written++;
                }
            }
        }
    }
}
