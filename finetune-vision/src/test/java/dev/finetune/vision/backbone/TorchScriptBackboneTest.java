package dev.finetune.vision.backbone;

import ai.djl.Model;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import ai.djl.training.dataset.ArrayDataset;
import ai.djl.training.dataset.Batch;
import ai.djl.training.loss.Loss;
import ai.djl.util.Pair;
import dev.finetune.core.FineTuner;
import dev.finetune.core.checkpoint.Checkpoint;
import dev.finetune.core.groups.LayerGroup;
import dev.finetune.core.groups.LayerGroups;
import dev.finetune.core.head.HeadReplacer;
import dev.finetune.core.internal.PlanOptimizer;
import dev.finetune.core.internal.TrainingLoop;
import dev.finetune.core.plan.EpochPlan;
import dev.finetune.core.plan.OptimizerSpec;
import dev.finetune.core.plan.Schedule;
import dev.finetune.core.result.FineTuneResult;
import dev.finetune.core.plan.BatchNormPolicy;
import dev.finetune.core.stage.Stage;
import dev.finetune.vision.data.IdxImages;
import org.junit.jupiter.api.BeforeAll;
import dev.finetune.vision.fixtures.TorchScriptFixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/** Fine-tuning from committed TorchScript fixtures (see src/test/fixtures/export_torchscript.py). */
class TorchScriptBackboneTest {

    private static final Path FIXTURES = TorchScriptFixtures.DIR;
    private static final int[] CLASSES = {0, 1, 5, 7, 8};
    private static IdxImages fashion;

    @TempDir
    Path dir;

    @BeforeAll
    static void readData() throws Exception {
        fashion = IdxImages.readSplit(Paths.get("/usr/share/datasets/fashion-mnist"), true);
    }

    private static NDArray forwardEval(Block block, Model model, NDArray x) {
        NDList out = block.forward(new ParameterStore(model.getNDManager(), false), new NDList(x), false);
        return out.head();
    }

    private static Map<String, float[]> snapshot(Block block) {
        Map<String, float[]> out = new LinkedHashMap<>();
        for (Pair<String, Parameter> p : block.getParameters()) {
            out.put(p.getKey(), p.getValue().getArray().toFloatArray());
        }
        return out;
    }

    @Test
    void resnetShapedEmbeddingGetsNamedGroupsAndANewHead() throws Exception {
        try (Model model = TorchScriptBackbone.load(FIXTURES.resolve("resnet18-shaped-embedding.pt"));
                NDManager m = NDManager.newBaseManager()) {
            FineTuner tuner = FineTuner.from(model).optHeadReplacer(HeadReplacer.append()).replaceHead(CLASSES.length)
                    .optProgress(false).stage(Stage.headOnly());
            tuner.fit(TorchScriptFixtures.rgb32(fashion, m, fashion.sample(CLASSES, 10, 0, 1), CLASSES, 25, true), TorchScriptFixtures.rgb32(fashion, m, fashion.sample(CLASSES, 10, 10, 1), CLASSES, 50, false));
            LayerGroups groups = LayerGroups.of(tuner.block());
            assertThat(groups.asList().stream().map(LayerGroup::name).collect(Collectors.toList()))
                    .containsExactly("stem", "layer1", "layer2", "layer3", "layer4", "head");
            assertThat(groups.get(0).parameters().stream().map(Pair::getKey).collect(Collectors.toList()))
                    .allMatch(n -> n.matches(".*_(conv1|bn1)\\.(weight|bias)"))
                    .hasSize(3);
            assertThat(groups.head().parameters().get(0).getValue().getArray().getShape())
                    .isEqualTo(new Shape(CLASSES.length, 32));
            assertThat(tuner.describeGroups(Stage.partial(1))).contains("layer4").contains("frozen");
        }
    }

    @Test
    void headOnlyKeepsTheBackboneAndItsBatchNormStatistics() throws Exception {
        for (BatchNormPolicy policy : new BatchNormPolicy[] {BatchNormPolicy.KEEP_STATISTICS, BatchNormPolicy.TRAIN}) {
            try (Model model = TorchScriptBackbone.load(FIXTURES.resolve("tiny-cnn-embedding.pt"));
                    NDManager m = NDManager.newBaseManager()) {
                ArrayDataset train = TorchScriptFixtures.rgb32(fashion, m, fashion.sample(CLASSES, 60, 0, 2), CLASSES, 30, true);
                ArrayDataset val = TorchScriptFixtures.rgb32(fashion, m, fashion.sample(CLASSES, 60, 60, 2), CLASSES, 100, false);
                Block backbone = model.getBlock();
                NDArray probe = train.get(m, 0).getData().head().expandDims(0);
                float[] featuresBefore = forwardEval(backbone, model, probe).toFloatArray();
                Map<String, float[]> weightsBefore = snapshot(backbone);

                FineTuneResult r = FineTuner.from(model).optHeadReplacer(HeadReplacer.append())
                        .replaceHead(CLASSES.length).optProgress(false)
                        .stage(Stage.headOnly().withEpochs(3).withLearningRate(3e-2).withBatchNormPolicy(policy))
                        .fit(train, val);

                Map<String, float[]> weightsAfter = snapshot(backbone);
                for (String name : weightsBefore.keySet()) {
                    assertThat(weightsAfter.get(name)).as("%s frozen", name).containsExactly(weightsBefore.get(name));
                }
                float[] featuresAfter = forwardEval(backbone, model, probe).toFloatArray();
                if (policy == BatchNormPolicy.KEEP_STATISTICS) {
                    assertThat(featuresAfter).as("eval features with kept statistics").containsExactly(featuresBefore);
                    // gradients reach the new head through the frozen module's copied outputs
                    assertThat(r.lastEpoch().trainLoss()).isLessThan(r.epochs().get(0).trainLoss());
                } else {
                    assertThat(featuresAfter).as("TRAIN updates the module's running statistics")
                            .isNotEqualTo(featuresBefore);
                }
            }
        }
    }

    @Test
    void checkpointOfATorchScriptModelRestoresItsOutputs() throws Exception {
        Path file = dir.resolve("ts.ckpt");
        float[] expected;
        Map<String, float[]> saved; // the checkpoint's values, read from the trained module
        try (Model model = TorchScriptBackbone.load(FIXTURES.resolve("tiny-cnn-embedding.pt"));
                NDManager m = NDManager.newBaseManager()) {
            ArrayDataset train = TorchScriptFixtures.rgb32(fashion, m, fashion.sample(CLASSES, 20, 0, 3), CLASSES, 25, true);
            FineTuner tuner = FineTuner.from(model).optHeadReplacer(HeadReplacer.append()).replaceHead(CLASSES.length)
                    .optProgress(false).optCheckpoint(file).optRestoreBest(false)
                    .stage(Stage.full().withEpochs(2).withLearningRate(1e-3).withBatchNormPolicy(BatchNormPolicy.TRAIN));
            tuner.fit(train, TorchScriptFixtures.rgb32(fashion, m, fashion.sample(CLASSES, 20, 20, 3), CLASSES, 50, false));
            Checkpoint.load(file).restoreInto(tuner.block(), model.getNDManager());
            NDArray probe = train.get(m, 0).getData().head().expandDims(0);
            expected = forwardEval(tuner.block(), model, probe).toFloatArray();
            saved = snapshot(tuner.block());
        }
        try (Model fresh = TorchScriptBackbone.load(FIXTURES.resolve("tiny-cnn-embedding.pt"));
                NDManager m = NDManager.newBaseManager()) {
            ArrayDataset train = TorchScriptFixtures.rgb32(fashion, m, fashion.sample(CLASSES, 20, 0, 3), CLASSES, 25, true);
            FineTuner tuner = FineTuner.from(fresh).optHeadReplacer(HeadReplacer.append()).replaceHead(CLASSES.length);
            NDArray probe = train.get(m, 0).getData().head().expandDims(0);
            tuner.block().initialize(fresh.getNDManager(), ai.djl.ndarray.types.DataType.FLOAT32, probe.getShape());
            float[] untrained = forwardEval(tuner.block(), fresh, probe).toFloatArray();
            Map<String, float[]> before = snapshot(tuner.block());
            Checkpoint.load(file).restoreInto(tuner.block(), fresh.getNDManager());
            float[] restored = forwardEval(tuner.block(), fresh, probe).toFloatArray();
            assertThat(restored).containsExactly(expected);
            assertThat(restored).isNotEqualTo(untrained);
            // the parameters training would now update (every layer group's, head included) hold the
            // checkpoint's values, each of which differs from the fresh module's
            assertThat(before.keySet()).containsExactlyElementsOf(saved.keySet());
            List<Pair<String, Parameter>> trainable = LayerGroups.of(tuner.block()).asList().stream()
                    .flatMap(g -> g.parameters().stream()).collect(Collectors.toList());
            assertThat(trainable.stream().map(Pair::getKey)).containsExactlyInAnyOrderElementsOf(saved.keySet());
            for (Pair<String, Parameter> p : trainable) {
                assertThat(before.get(p.getKey())).as("%s before the restore", p.getKey())
                        .isNotEqualTo(saved.get(p.getKey()));
                assertThat(p.getValue().getArray().toFloatArray()).as("%s restored", p.getKey())
                        .containsExactly(saved.get(p.getKey()));
            }
        }
    }

    /**
     * TorchScript names a BatchNorm's scale {@code weight}, so DJL types it WEIGHT, not GAMMA: decay
     * must skip it by its rank. With zero gradients, AdamW moves a weight by decay alone: rank-2+
     * kernels and matrices shrink by {@code lr * wd}, rank-1 tensors stay exactly as they were.
     */
    @Test
    void weightDecaySkipsRankOneTensorsThatTorchScriptTypesAsWeights() throws Exception {
        try (Model model = TorchScriptBackbone.load(FIXTURES.resolve("tiny-cnn-embedding.pt"));
                NDManager m = NDManager.newBaseManager(); NDManager step = NDManager.newBaseManager();
                PlanOptimizer opt = new PlanOptimizer(OptimizerSpec.adamW(), model.getNDManager())) {
            FineTuner tuner = FineTuner.from(model).optHeadReplacer(HeadReplacer.append()).replaceHead(CLASSES.length);
            Block block = tuner.block();
            ArrayDataset train = TorchScriptFixtures.rgb32(fashion, m, fashion.sample(CLASSES, 2, 0, 4), CLASSES, 10, false);
            try (Batch batch = train.getData(m).iterator().next()) {
                block.initialize(model.getNDManager(), ai.djl.ndarray.types.DataType.FLOAT32,
                        batch.getData().head().getShape());
                double lr = 0.1;
                double wd = 0.5;
                EpochPlan plan = Stage.full().withLearningRate(lr).withWeightDecay(wd).withSchedule(Schedule.constant())
                        .plan(LayerGroups.of(block), 0);
                TrainingLoop.applyPlan(plan);
                List<String> rankOneWeights = plan.trainable().stream()
                        .filter(e -> e.parameter().getType() == Parameter.Type.WEIGHT
                                && e.parameter().getArray().getShape().dimension() == 1)
                        .map(EpochPlan.Trainable::name).collect(Collectors.toList());
                // bn1, layer1.1 and layer2.1: the module's BatchNorm scales, typed WEIGHT by their names
                assertThat(rankOneWeights).hasSize(3).allMatch(n -> n.matches(".*(bn1|layer1\\.1|layer2\\.1)\\.weight"));
                List<float[]> before = new ArrayList<>();
                for (EpochPlan.Trainable e : plan.trainable()) {
                    before.add(e.parameter().getArray().toFloatArray());
                }
                try (GradientCollector gc = model.getNDManager().getEngine().newGradientCollector()) {
                    NDList out = block.forward(new ParameterStore(model.getNDManager(), false), batch.getData(), true);
                    gc.backward(Loss.softmaxCrossEntropyLoss().evaluate(batch.getLabels(), out).mul(0f));
                }
                opt.step(plan, 1.0, step);
                int decayed = 0;
                for (int i = 0; i < plan.trainable().size(); i++) {
                    EpochPlan.Trainable e = plan.trainable().get(i);
                    float[] after = e.parameter().getArray().toFloatArray();
                    if (e.parameter().getArray().getShape().dimension() >= 2) {
                        assertThat(e.decays()).as("%s decays", e.name()).isTrue();
                        for (int k = 0; k < after.length; k++) {
                            double expected = before.get(i)[k] * (1 - lr * wd);
                            assertThat((double) after[k]).as(e.name())
                                    .isCloseTo(expected, within(1e-7 + Math.abs(expected) * 1e-5));
                        }
                        decayed++;
                    } else {
                        assertThat(e.decays()).as("%s decays", e.name()).isFalse();
                        assertThat(after).as("%s (rank 1) unchanged", e.name()).containsExactly(before.get(i));
                    }
                }
                assertThat(decayed).as("conv kernels and the head's matrix").isEqualTo(4);
            }
        }
    }

    @Test
    void missingForeignAndHeadedFilesGiveClearErrors() throws Exception {
        assertThatThrownBy(() -> TorchScriptBackbone.load(dir.resolve("absent.pt")))
                .hasMessageContaining("TorchScript file not found")
                .hasMessageContaining("absent.pt");
        Path text = dir.resolve("notes.pt");
        Files.writeString(text, "not a model");
        assertThatThrownBy(() -> TorchScriptBackbone.load(text))
                .hasMessageContaining("notes.pt")
                .hasMessageContaining("is not a TorchScript module");
        try (Model classifier = TorchScriptBackbone.load(FIXTURES.resolve("tiny-cnn.pt"))) {
            assertThatThrownBy(() -> FineTuner.from(classifier).replaceHead(3).block())
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("Cannot find the head of a PtSymbolBlock")
                    .hasMessageContaining("headless backbone");
        }
    }
}
