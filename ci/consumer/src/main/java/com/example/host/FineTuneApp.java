package com.example.host;

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
import dev.finetune.vision.backbone.Heads;
import dev.finetune.vision.backbone.TorchScriptBackbone;
import dev.finetune.vision.data.DataSplit;
import dev.finetune.vision.data.IdxImages;
import dev.finetune.vision.data.ImageCatalog;
import dev.finetune.vision.data.ImageDataset;
import dev.finetune.vision.data.ImageSample;
import dev.finetune.vision.export.ClassifierExport;
import dev.finetune.vision.transform.ImagePipeline;

import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.List;
import java.util.Locale;
import javax.imageio.ImageIO;

/**
 * A host application that knows finetune only by its published coordinates: it writes an image
 * folder (five Fashion-MNIST classes as PNG files), fine-tunes a TorchScript backbone on it in two
 * stages, tests once, exports a DJL model directory, reloads it and scores the test images again. It
 * fails (exit status 1) when the test accuracy is not at least twice chance or the reloaded model
 * scores differently.
 *
 * <p>Usage: {@code FineTuneApp backbone.pt fashion-mnist-dir work-dir}.
 */
public final class FineTuneApp {

    private static final List<String> NAMES = List.of("pullover", "coat", "shirt", "sneaker", "ankle-boot");
    private static final int[] LABELS = {2, 4, 6, 7, 9};
    private static final int PER_CLASS = 40;

    private FineTuneApp() {}

    public static void main(String[] args) throws Exception {
        if (args.length != 3) {
            System.err.println("usage: FineTuneApp backbone.pt fashion-mnist-dir work-dir");
            System.exit(2);
        }
        Path backbone = Paths.get(args[0]);
        Path work = Paths.get(args[2]);
        Path folder = work.resolve("images");
        Path export = work.resolve("classifier");
        writeImages(Paths.get(args[1]), folder);

        ImageCatalog images = ImageCatalog.scan(folder);
        DataSplit.Splits parts = DataSplit.builder().optSeed(7).build().split(images);
        ImagePipeline pipeline = ImagePipeline.builder().setSize(32).optEvalResize(32).optAllowUpscale(true).build();
        FineTuneResult result;
        Evaluation test;
        try (Model model = TorchScriptBackbone.load(backbone)) {
            FineTuner tuner = FineTuner.from(model).optHeadReplacer(Heads.auto())
                    .replaceHead(images.classNames().size()).optClassNames(images.classNames()).optProgress(false)
                    .stage(Stage.headOnly().withEpochs(2).withLearningRate(1e-2))
                    .stage(Stage.discriminative(2.6).withEpochs(2).withLearningRate(3e-3));
            result = tuner.fit(data(parts.train(), pipeline, true), data(parts.validation(), pipeline, false));
            test = tuner.evaluate(data(parts.test(), pipeline, false));
            ClassifierExport.save(model, export, "classifier", images.classNames(), pipeline.toPreprocessing());
        }
        System.out.println(result);
        System.out.printf(Locale.ROOT, "test accuracy %.3f, macro-F1 %.3f%n", test.accuracy(), test.macroF1());

        // the served model (a fresh Model read back from the directory) scores the test part as the
        // in-memory model did
        List<ImageSample> testImages = parts.test().samples();
        int correct = 0;
        try (ZooModel<Image, Classifications> served = ClassifierExport.load(export);
                Predictor<Image, Classifications> predictor = served.newPredictor()) {
            for (ImageSample s : testImages) {
                Image image = ImageFactory.getInstance().fromFile(s.path());
                if (predictor.predict(image).best().getClassName().equals(images.classNames().get(s.label()))) {
                    correct++;
                }
            }
        }
        System.out.printf(Locale.ROOT, "reloaded from %s: %d of %d test images right%n", export, correct,
                testImages.size());

        double chance = 1.0 / NAMES.size();
        if (!(test.accuracy() > 2 * chance) || Math.abs(correct - test.accuracy() * testImages.size()) > 1.0) {
            System.err.printf(Locale.ROOT, "FAILED: test accuracy %.3f (chance %.2f), served %d of %d right%n",
                    test.accuracy(), chance, correct, testImages.size());
            System.exit(1);
        }
        System.out.println("consumer check passed");
    }

    private static ImageDataset data(ImageCatalog part, ImagePipeline pipeline, boolean training) {
        return ImageDataset.builder().setCatalog(part)
                .optPipeline(training ? pipeline.training() : pipeline.evaluation())
                .setSampling(32, training).build();
    }

    /** The first {@link #PER_CLASS} training images of each class, one sub-folder per class. */
    private static void writeImages(Path fashion, Path folder) throws Exception {
        IdxImages train = IdxImages.readSplit(fashion, true);
        for (int c = 0; c < LABELS.length; c++) {
            Path dir = folder.resolve(NAMES.get(c));
            Files.createDirectories(dir);
            int written = 0;
            for (int i = 0; i < train.size() && written < PER_CLASS; i++) {
                if (train.label(i) == LABELS[c]) {
                    BufferedImage img = new BufferedImage(train.cols(), train.rows(), BufferedImage.TYPE_BYTE_GRAY);
                    img.getRaster().setDataElements(0, 0, train.cols(), train.rows(), train.image(i));
                    ImageIO.write(img, "png", dir.resolve(String.format(Locale.ROOT, "%05d.png", i)).toFile());
                    written++;
                }
            }
        }
    }
}
