package dev.finetune.vision.backbone;

import ai.djl.Model;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.core.Linear;
import ai.djl.nn.pooling.Pool;
import ai.djl.training.ParameterStore;
import ai.djl.training.dataset.ArrayDataset;
import ai.djl.training.dataset.Batch;
import ai.djl.util.Pair;
import dev.finetune.core.FineTuner;
import dev.finetune.core.groups.LayerGroups;
import dev.finetune.core.result.FineTuneResult;
import dev.finetune.core.stage.Stage;
import dev.finetune.vision.data.IdxImages;
import org.junit.jupiter.api.BeforeAll;
import dev.finetune.vision.fixtures.TorchScriptFixtures;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** {@link Heads#auto()} on the committed TorchScript fixtures (src/test/fixtures/export_torchscript.py). */
class HeadsTest {

    private static final Path FIXTURES = TorchScriptFixtures.DIR;
    private static final int[] CLASSES = {0, 1, 5, 7, 8};
    private static IdxImages fashion;

    @BeforeAll
    static void readData() throws Exception {
        fashion = IdxImages.readSplit(Paths.get("/usr/share/datasets/fashion-mnist"), true);
    }

    private static float[] parameter(Block block, String name) {
        for (Pair<String, Parameter> p : block.getParameters()) {
            if (p.getKey().equals(name) || p.getKey().endsWith("_" + name)) {
                return p.getValue().getArray().toFloatArray();
            }
        }
        throw new AssertionError("no parameter " + name);
    }

    @Test
    void headedTorchScriptClassifierFailsWithExportAdviceForAnotherClassCount() throws Exception {
        try (Model model = TorchScriptBackbone.load(FIXTURES.resolve("resnet18-shaped.pt"))) {
            Block before = model.getBlock();
            assertThatThrownBy(() -> FineTuner.from(model).optHeadReplacer(Heads.auto()).replaceHead(7).block())
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("resnet18-shaped.pt still holds its classifier")
                    .hasMessageContaining("fc.weight has shape (10, 32)")
                    .hasMessageContaining("not the 7 asked for")
                    .hasMessageContaining("model.fc = torch.nn.Identity()")
                    .hasMessageContaining("torch.jit.script")
                    .satisfies(e -> assertThat(e.getMessage()).doesNotContain("\n"));
            assertThat(model.getBlock()).as("the model is left as it was").isSameAs(before);
        }
    }

    @Test
    void headedTorchScriptClassifierKeepsItsHeadWhenTheClassCountMatches() throws Exception {
        try (Model model = TorchScriptBackbone.load(FIXTURES.resolve("tiny-cnn.pt"))) {
            Block module = model.getBlock();
            float[] fc = parameter(module, "fc.weight");
            FineTuner tuner = FineTuner.from(model).optHeadReplacer(Heads.auto()).replaceHead(10);
            assertThat(tuner.block()).isSameAs(module);
            assertThat(parameter(tuner.block(), "fc.weight")).isEqualTo(fc);
            LayerGroups groups = LayerGroups.of(tuner.block());
            assertThat(groups.head().parameters().get(0).getKey()).isEqualTo("fc.weight");
        }
    }

    @Test
    void embeddingModulesGetANewHeadThatTrainsOnFashionMnist() throws Exception {
        try (Model model = TorchScriptBackbone.load(FIXTURES.resolve("resnet18-shaped-embedding.pt"))) {
            FineTuner tuner = FineTuner.from(model).optHeadReplacer(Heads.auto(new Shape(3, 32, 32)))
                    .replaceHead(CLASSES.length);
            assertThat(tuner.block()).isInstanceOf(SequentialBlock.class);
            assertThat(tuner.block().getChildren().get(1).getValue()).isInstanceOf(Linear.class);
            assertThat(tuner.block().getOutputShapes(new Shape[] {new Shape(4, 3, 32, 32)})[0])
                    .isEqualTo(new Shape(4, CLASSES.length));
        }
        try (Model model = TorchScriptBackbone.load(FIXTURES.resolve("tiny-cnn-embedding.pt"));
                NDManager m = NDManager.newBaseManager()) {
            ArrayDataset train = TorchScriptFixtures.rgb32(fashion, m, fashion.sample(CLASSES, 40, 0, 4), CLASSES, 25, true);
            ArrayDataset val = TorchScriptFixtures.rgb32(fashion, m, fashion.sample(CLASSES, 20, 40, 4), CLASSES, 100, false);
            float[] conv = parameter(model.getBlock(), "conv1.weight");
            FineTuneResult r = FineTuner.from(model).optHeadReplacer(Heads.auto()).replaceHead(CLASSES.length)
                    .optProgress(false)
                    .stage(Stage.headOnly().withEpochs(3).withLearningRate(3e-2))
                    .fit(train, val);
            assertThat(model.getBlock().getChildren().get(1).getValue()).isInstanceOf(Linear.class);
            assertThat(r.lastEpoch().trainLoss()).isLessThan(r.epochs().get(0).trainLoss());
            assertThat(r.epochs().get(0).trainableParameters()).isEqualTo(32 * CLASSES.length + CLASSES.length);
            assertThat(parameter(model.getBlock(), "conv1.weight")).as("backbone frozen").isEqualTo(conv);
        }
    }

    @Test
    void aFeatureMapOutputFailsWithItsShapeInsteadOfBeingFlattened() throws Exception {
        try (Model model = TorchScriptBackbone.load(FIXTURES.resolve("tiny-cnn-featuremap.pt"))) {
            assertThatThrownBy(() -> FineTuner.from(model).optHeadReplacer(Heads.auto(new Shape(3, 32, 32))).replaceHead(5).block())
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("tiny-cnn-featuremap.pt outputs shape (1, 32, 16, 16)")
                    .hasMessageContaining("input of shape (1, 3, 32, 32)")
                    .hasMessageContaining("needs (N, features)")
                    .hasMessageContaining("Pool and flatten");
            // the default probe reads the input channels from the first convolution
            assertThatThrownBy(() -> FineTuner.from(model).optHeadReplacer(Heads.auto()).replaceHead(5).block())
                    .hasMessageContaining("outputs shape (1, 32, 112, 112) for an input of shape (1, 3, 224, 224)");

            // the fix the message gives: pool in Java, then the head fits
            model.setBlock(new SequentialBlock().add(model.getBlock()).add(Pool.globalAvgPool2dBlock()));
            FineTuner tuner = FineTuner.from(model).optHeadReplacer(Heads.auto()).replaceHead(5);
            try (NDManager m = NDManager.newBaseManager()) {
                ArrayDataset images = TorchScriptFixtures.rgb32(fashion, m, fashion.sample(CLASSES, 1, 0, 6), CLASSES, 5, false);
                try (Batch b = images.getData(m).iterator().next()) {
                    tuner.block().initialize(model.getNDManager(), ai.djl.ndarray.types.DataType.FLOAT32,
                            b.getData().head().getShape());
                    NDList out = tuner.block().forward(new ParameterStore(model.getNDManager(), false),
                            new NDList(b.getData().head()), false);
                    assertThat(out.head().getShape()).isEqualTo(new Shape(5, 5));
                }
            }
        }
    }

    @Test
    void blocksWithoutARecognisableHeadAreRefused() {
        Block lone = Linear.builder().setUnits(3).build();
        assertThatThrownBy(() -> Heads.auto().replace(lone, 2))
                .hasMessageContaining("cannot find the classifier of a Linear");
        SequentialBlock pooling = new SequentialBlock().add(Pool.globalAvgPool2dBlock());
        assertThatThrownBy(() -> Heads.auto().replace(pooling, 2))
                .hasMessageContaining("no block with parameters");
    }
}
