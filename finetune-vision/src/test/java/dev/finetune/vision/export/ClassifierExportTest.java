package dev.finetune.vision.export;

import ai.djl.Model;
import ai.djl.inference.Predictor;
import ai.djl.modality.Classifications;
import ai.djl.modality.cv.Image;
import ai.djl.modality.cv.ImageFactory;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ZooModel;
import ai.djl.training.ParameterStore;
import dev.finetune.core.FineTuner;
import dev.finetune.core.fixtures.FashionMnist;
import dev.finetune.core.fixtures.SourceModel;
import dev.finetune.core.stage.Stage;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** A fine-tuned model exported as a DJL model directory predicts like the in-memory model. */
class ClassifierExportTest {

    @TempDir
    Path dir;

    @Test
    void exportedModelServesTheSamePredictionsThroughCriteriaAndPredictor() throws Exception {
        List<String> names = FashionMnist.names(SourceModel.TARGET);
        FashionMnist.Split test = FashionMnist.test();
        List<Integer> samples = FashionMnist.pick(test, SourceModel.TARGET, 4, 0, 81);
        float[][] expected = new float[samples.size()][];
        try (Model model = SourceModel.pretrained(); NDManager data = NDManager.newBaseManager()) {
            var sets = FashionMnist.trainVal(data, SourceModel.TARGET, 20, 10, 20, 81);
            FineTuner.from(model).replaceHead(names.size()).optClassNames(names).optProgress(false)
                    .stage(Stage.headOnly().withEpochs(3).withLearningRate(3e-2))
                    .fit(sets.train(), sets.validation());
            ParameterStore ps = new ParameterStore(model.getNDManager(), false);
            for (int k = 0; k < samples.size(); k++) {
                byte[] px = test.images()[samples.get(k)];
                float[] x = new float[px.length];
                for (int j = 0; j < px.length; j++) {
                    x[j] = (px[j] & 0xff) / 255f;
                }
                NDArray in = data.create(x, new Shape(1, 1, 28, 28));
                expected[k] = model.getBlock().forward(ps, new NDList(in), false).head().softmax(1).toFloatArray();
            }
            ClassifierExport.save(model, dir.resolve("fashion"), "fashion", names, ClassifierExport.Preprocessing.grey(28));
        }
        assertThat(dir.resolve("fashion").resolve("synset.txt")).hasContent(String.join("\n", names));
        assertThat(Files.exists(dir.resolve("fashion").resolve("fashion-0000.params"))).isTrue();

        Criteria<Image, Classifications> criteria = Criteria.builder()
                .setTypes(Image.class, Classifications.class)
                .optModelPath(dir.resolve("fashion"))
                .optModelName("fashion")
                .optBlock(SourceModel.architecture(names.size()))
                .optEngine("PyTorch")
                .build();
        try (ZooModel<Image, Classifications> served = criteria.loadModel();
                Predictor<Image, Classifications> predictor = served.newPredictor()) {
            for (int k = 0; k < samples.size(); k++) {
                Path png = dir.resolve("sample-" + k + ".png");
                writeGreyPng(test.images()[samples.get(k)], png);
                Classifications c = predictor.predict(ImageFactory.getInstance().fromFile(png));
                int best = 0;
                for (int i = 1; i < expected[k].length; i++) {
                    best = expected[k][i] > expected[k][best] ? i : best;
                }
                assertThat(c.best().getClassName()).isEqualTo(names.get(best));
                for (int i = 0; i < names.size(); i++) {
                    assertThat(c.get(names.get(i)).getProbability()).isCloseTo(expected[k][i], within(1e-4));
                }
            }
        }
    }

    private static void writeGreyPng(byte[] pixels, Path file) throws Exception {
        BufferedImage img = new BufferedImage(28, 28, BufferedImage.TYPE_BYTE_GRAY);
        img.getRaster().setDataElements(0, 0, 28, 28, pixels);
        ImageIO.write(img, "png", file.toFile());
    }
}
