package dev.finetune.core;

import ai.djl.Model;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.ParameterStore;
import dev.finetune.core.fixtures.FashionMnist;
import dev.finetune.core.fixtures.SourceModel;
import dev.finetune.core.fixtures.Weights;
import dev.finetune.core.groups.LayerGroups;
import dev.finetune.core.stage.Stage;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Head replacement around DJL's loading trap: a parameter file restores the head it was saved with. */
class HeadReplacementTest {

    @TempDir
    Path dir;

    /** Saves a 10-class network as a DJL model directory. */
    private void saveTenClassModel() throws Exception {
        try (Model model = Model.newInstance("ten")) {
            model.setBlock(SourceModel.architecture(10));
            model.getBlock().initialize(model.getNDManager(), DataType.FLOAT32, new Shape(1, 1, 28, 28));
            model.save(dir, "ten");
        }
    }

    private static long outputClasses(Model model, NDManager manager) {
        NDArray x = manager.zeros(new Shape(2, 1, 28, 28));
        NDList out = model.getBlock().forward(new ParameterStore(model.getNDManager(), false), new NDList(x), false);
        return out.head().getShape().get(1);
    }

    @Test
    void replacingAfterLoadingGivesTheNewClassCountAndKeepsTheBackbone() throws Exception {
        saveTenClassModel();
        int classes = SourceModel.TARGET.length;
        try (Model model = Model.newInstance("ten"); NDManager data = NDManager.newBaseManager()) {
            // the declared 12-unit head is silently replaced by the file's 10-unit one: DJL's trap
            model.setBlock(SourceModel.architecture(12));
            model.load(dir, "ten");
            assertThat(outputClasses(model, data)).isEqualTo(10);
            Map<String, float[]> loaded = Weights.snapshot(model.getBlock());

            var sets = FashionMnist.trainVal(data, SourceModel.TARGET, 10, 10, 25, 31);
            FineTuner.from(model).replaceHead(classes).optProgress(false)
                    .stage(Stage.headOnly().withEpochs(1))
                    .fit(sets.train(), sets.validation());

            assertThat(outputClasses(model, data)).isEqualTo(classes);
            LayerGroups groups = LayerGroups.of(model.getBlock());
            assertThat(groups.head().parameters().get(0).getValue().getArray().getShape())
                    .isEqualTo(new Shape(classes, 64));
            Map<String, float[]> after = Weights.snapshot(model.getBlock());
            for (var p : groups.get(0).parameters()) {
                assertThat(after.get(p.getKey())).containsExactly(loaded.get(p.getKey()));
            }
        }
    }

    @Test
    void replaceHeadCalledBeforeLoadingStillReplacesTheLoadedHead() throws Exception {
        saveTenClassModel();
        try (Model model = Model.newInstance("ten"); NDManager data = NDManager.newBaseManager()) {
            model.setBlock(SourceModel.architecture(10));
            // the order that used to be wrong: the head is replaced when the model is first used, after the load
            FineTuner tuner = FineTuner.from(model).replaceHead(3).optProgress(false).stage(Stage.headOnly());
            model.load(dir, "ten");
            Map<String, float[]> loaded = Weights.snapshot(model.getBlock());
            var threeClasses = FashionMnist.trainVal(data, new int[] {2, 4, 6}, 5, 5, 25, 32);
            tuner.fit(threeClasses.train(), threeClasses.validation());
            assertThat(outputClasses(model, data)).isEqualTo(3);
            LayerGroups groups = LayerGroups.of(model.getBlock());
            Map<String, float[]> after = Weights.snapshot(model.getBlock());
            for (var p : groups.get(0).parameters()) {
                assertThat(after.get(p.getKey())).as("pretrained %s kept", p.getKey()).containsExactly(loaded.get(p.getKey()));
            }
        }
    }

    @Test
    void loadingAfterTheHeadWasReplacedIsCaughtBeforeTraining() throws Exception {
        saveTenClassModel();
        try (Model model = Model.newInstance("ten"); NDManager data = NDManager.newBaseManager()) {
            model.setBlock(SourceModel.architecture(10));
            FineTuner tuner = FineTuner.from(model).replaceHead(3).optProgress(false).stage(Stage.headOnly());
            tuner.block(); // the head is replaced here
            model.load(dir, "ten"); // wrong order: restores the 10-class head
            var sets = FashionMnist.trainVal(data, new int[] {2, 4, 6}, 5, 5, 25, 32);
            assertThatThrownBy(() -> tuner.fit(sets.train(), sets.validation()))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("outputs 10 classes")
                    .hasMessageContaining("replaceHead(3) after loading");
            assertThatThrownBy(() -> tuner.optHeadReplacer(dev.finetune.core.head.HeadReplacer.append()))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("after the head was already replaced");
        }
    }
}
