package dev.finetune.examples.quality;

import ai.djl.Model;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.ParameterStore;
import dev.finetune.examples.FolderFineTune;
import dev.finetune.vision.backbone.TorchScriptBackbone;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** The converted nsfwjs MobileNetV2 loads in DJL and embeds real images; the plain-DJL baseline runs on it. */
class MobileNetV2EmbeddingTest {

    static final Path PHOTOS = Paths.get("/usr/lib/python3/dist-packages/skimage/data");

    static Path embedding() {
        Path inModule = Paths.get("models", "mobilenetv2-nsfwjs-embedding.pt");
        return Files.exists(inModule) ? inModule : Paths.get("finetune-examples").resolve(inModule);
    }

    @Test
    void loadsThroughTheLibraryAndEmbedsRealPhotosAs1280Features() throws Exception {
        try (Model model = TorchScriptBackbone.load(embedding()); NDManager manager = NDManager.newBaseManager()) {
            NDArray x = NDArrays2.stack(manager, PHOTOS.resolve("chelsea.png"), PHOTOS.resolve("coffee.png"));
            NDArray out = model.getBlock().forward(new ParameterStore(manager, false), new NDList(x), false)
                    .singletonOrThrow();
            assertThat(out.getShape()).isEqualTo(new Shape(2, 1280));
            float[] f = out.toFloatArray();
            float max = 0;
            for (float v : f) {
                assertThat(v).isFinite().isGreaterThanOrEqualTo(0f); // after ReLU6 and averaging
                max = Math.max(max, v);
            }
            assertThat(max).isGreaterThan(0.5f).isLessThanOrEqualTo(6f);
            // two different photos give different features
            NDArray diff = out.get(0).sub(out.get(1)).abs().max();
            assertThat(diff.getFloat()).isGreaterThan(0.1f);
        }
    }

    @Test
    void plainDjlBaselineLearnsRealImagesFromTheFrozenEmbedding(@TempDir Path tmp) throws Exception {
        Path folder = tmp.resolve("fashion");
        FolderFineTune.writeFashionFolder(folder, 12);
        List<String> classes = PlainDjlBaseline.classNames(folder);
        List<List<PlainDjlBaseline.LabeledImage>> parts =
                PlainDjlBaseline.split(PlainDjlBaseline.listFolder(folder, classes), 0.5, 1);
        PlainDjlBaseline.Result r = PlainDjlBaseline.run(embedding(), parts.get(0), parts.get(1), 1);
        System.out.println(r);
        assertThat(r.classes()).isEqualTo(5);
        assertThat(r.trainImages()).isEqualTo(30);
        assertThat(r.testImages()).isEqualTo(30);
        assertThat(r.finalTrainLoss()).isLessThan(0.5);
        assertThat(r.testAccuracy()).as("5 classes, chance 0.2").isGreaterThan(0.5);
        assertThat(r.wallSeconds()).isGreaterThanOrEqualTo(r.featureSeconds() + r.trainSeconds());
    }

    /** Stacks photos prepared exactly as the baseline prepares them. */
    static final class NDArrays2 {
        static NDArray stack(NDManager manager, Path... files) throws Exception {
            NDList list = new NDList();
            for (Path f : files) {
                list.add(PlainDjlBaseline.pixels(manager, f));
            }
            return ai.djl.ndarray.NDArrays.stack(list);
        }
    }
}
