package dev.finetune.examples.auto;

import ai.djl.inference.Predictor;
import ai.djl.modality.Classifications;
import ai.djl.modality.cv.Image;
import ai.djl.modality.cv.ImageFactory;
import ai.djl.repository.zoo.ZooModel;
import dev.finetune.core.result.Evaluation;
import dev.finetune.examples.FolderFineTune;
import dev.finetune.vision.auto.AutoFineTune;
import dev.finetune.vision.auto.AutoResult;
import dev.finetune.vision.data.DataSplit;
import dev.finetune.vision.data.ImageCatalog;
import dev.finetune.vision.export.ClassifierExport;
import dev.finetune.vision.transform.ImagePipeline;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** Smoke runs of the automatic plan on real images (Fashion-MNIST PNG folders) with the committed pretrained backbone. */
class AutoFineTuneTest {

    static final Path BACKBONE = Paths.get("models/fashion-source-resnet-embedding.pt");

    @TempDir
    Path dir;

    private static ImagePipeline pipeline() {
        return ImagePipeline.builder().setSize(32).optEvalResize(32).optAllowUpscale(true).build();
    }

    @Test
    void fewImagesPerClassKeepTheLinearClassifierAndSayWhy() throws Exception {
        FolderFineTune.writeFashionFolder(dir.resolve("images"), 24);
        ImageCatalog images = ImageCatalog.scan(dir.resolve("images"));
        DataSplit.Splits parts = DataSplit.builder().optSeed(3).build().split(images);
        try (AutoResult auto = AutoFineTune.builder().setBackbone(BACKBONE).setData(parts.train(), parts.validation())
                .optPipeline(pipeline()).optSeed(1).build().run()) {
            assertThat(auto.tried()).hasSize(1);
            assertThat(auto.explanation()).contains("chose the linear classifier on frozen features", "Chu et al.",
                    "images per class", "mirror images");
            Evaluation test = auto.evaluate(parts.test());
            assertThat(test.accuracy()).as("five classes: chance is 0.2").isGreaterThan(0.4);
            ClassifierExport.save(auto.model(), dir.resolve("export"), "auto", images.classNames(), auto.preprocessing());
            // the export, loaded from its directory alone, serves what the model in memory predicts
            List<Path> files = parts.test().samples().stream().limit(6).map(s -> s.path()).toList();
            try (Predictor<Image, Classifications> inMemory = auto.model().newPredictor(
                            ClassifierExport.translator(auto.preprocessing(), images.classNames()));
                    ZooModel<Image, Classifications> served = ClassifierExport.load(dir.resolve("export"));
                    Predictor<Image, Classifications> fromDisk = served.newPredictor()) {
                for (Path file : files) {
                    Image image = ImageFactory.getInstance().fromFile(file);
                    Classifications a = inMemory.predict(image);
                    Classifications b = fromDisk.predict(image);
                    for (String name : images.classNames()) {
                        assertThat(b.get(name).getProbability()).as("%s %s", file.getFileName(), name)
                                .isCloseTo(a.get(name).getProbability(), within(1e-5));
                    }
                }
            }
        }
    }

    @Test
    void withDataAndTimeItFineTunesFromTheLinearClassifierAndKeepsTheBetter() throws Exception {
        FolderFineTune.writeFashionFolder(dir.resolve("images"), 40);
        ImageCatalog images = ImageCatalog.scan(dir.resolve("images"));
        DataSplit.Splits parts = DataSplit.builder().optSeed(3).build().split(images);
        try (AutoResult auto = AutoFineTune.builder().setBackbone(BACKBONE).setData(parts.train(), parts.validation())
                .optPipeline(pipeline()).optSeed(1).optTimeBudget(Duration.ofMinutes(10)).build().run()) {
            assertThat(auto.tried()).hasSize(2);
            assertThat(auto.tried().get(1).settings()).contains("learning-rate search", "early stopping");
            double best = Math.max(auto.tried().get(0).validationAccuracy(), auto.tried().get(1).validationAccuracy());
            assertThat(auto.chosen().validationAccuracy()).isEqualTo(best);
            if (auto.chosen() == auto.tried().get(0)) { // the linear classifier won: every labelled image trains it
                assertThat(auto.explanation()).contains("refit on the training and validation images");
            }
            assertThat(auto.evaluate(parts.test()).accuracy()).isGreaterThan(0.4);
        }
    }
}
