package dev.finetune.examples;

import ai.djl.inference.Predictor;
import ai.djl.modality.Classifications;
import ai.djl.modality.cv.Image;
import ai.djl.modality.cv.ImageFactory;
import ai.djl.repository.zoo.ZooModel;
import dev.finetune.vision.data.DataSplit;
import dev.finetune.vision.data.ImageSample;
import dev.finetune.vision.export.ClassifierExport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** The README's ten-line example: TorchScript backbone + image folder -> fine-tune, export, reload, predict. */
class FolderFineTuneTest {

    @Test
    void fineTunesTheCommittedBackboneOnAnImageFolderAndServesTheExport(@TempDir Path tmp) throws Exception {
        Path folder = tmp.resolve("images");
        FolderFineTune.writeFashionFolder(folder, 40);
        Path export = tmp.resolve("export");
        FolderFineTune.Outcome o = FolderFineTune.fineTune(FolderFineTune.sourceBackbone(), folder, export);

        assertThat(o.images().classNames()).containsExactly("Ankle_boot", "Coat", "Pullover", "Shirt", "Sneaker");
        assertThat(o.result().epochs()).hasSize(6);
        assertThat(o.test().accuracy()).as("five classes never seen by the backbone; chance is 0.2").isGreaterThan(0.5);

        // the served model (a fresh Model from the directory) scores the test part as the in-memory model did
        List<ImageSample> test = DataSplit.builder().optSeed(7).build().split(o.images()).test().samples();
        int correct = 0;
        try (ZooModel<Image, Classifications> served = ClassifierExport.load(export);
                Predictor<Image, Classifications> predictor = served.newPredictor()) {
            for (ImageSample s : test) {
                Image image = ImageFactory.getInstance().fromFile(s.path());
                if (predictor.predict(image).best().getClassName().equals(o.images().classNames().get(s.label()))) {
                    correct++;
                }
            }
        }
        assertThat(Math.abs(correct - o.test().accuracy() * test.size())).isLessThanOrEqualTo(1.0);
    }
}
