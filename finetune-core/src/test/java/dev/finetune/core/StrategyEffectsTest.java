package dev.finetune.core;

import ai.djl.Model;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Parameter;
import ai.djl.util.Pair;
import dev.finetune.core.fixtures.FashionMnist;
import dev.finetune.core.fixtures.SourceModel;
import dev.finetune.core.fixtures.Weights;
import dev.finetune.core.groups.LayerGroup;
import dev.finetune.core.groups.LayerGroups;
import dev.finetune.core.result.FineTuneResult;
import dev.finetune.core.plan.BatchNormPolicy;
import dev.finetune.core.plan.Schedule;
import dev.finetune.core.stage.Stage;
import dev.finetune.core.strategy.Strategy;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** What each strategy trains, checked on the weights of a real fine-tune of the pretrained CNN. */
class StrategyEffectsTest {

    @Test
    void frozenGroupsStayBitIdenticalAndTrainableOnesMove() throws Exception {
        try (Model model = SourceModel.pretrained(); NDManager data = NDManager.newBaseManager()) {
            var sets = FashionMnist.trainVal(data, SourceModel.TARGET, 40, 20, 32, 11);
            Map<String, float[]> before = Weights.snapshot(model.getBlock());
            FineTuner tuner = FineTuner.from(model).replaceHead(5).optProgress(false)
                    .stage(Stage.partial(1).withEpochs(2).withLearningRate(1e-2));
            tuner.fit(sets.train(), sets.validation());

            Map<String, float[]> after = Weights.snapshot(model.getBlock());
            LayerGroups groups = LayerGroups.of(model.getBlock());
            assertThat(groups.size()).isEqualTo(5);
            for (int g = 0; g < 3; g++) { // stem, block1, block2 frozen (running stats kept too)
                for (Pair<String, Parameter> p : groups.get(g).parameters()) {
                    assertThat(after.get(p.getKey()))
                            .as("frozen %s", p.getKey())
                            .containsExactly(before.get(p.getKey()));
                }
            }
            for (Pair<String, Parameter> p : groups.get(3).parameters()) { // block3 trains
                if (LayerGroup.isLearnable(p.getValue())) {
                    assertThat(Weights.distance(after.get(p.getKey()), before.get(p.getKey())))
                            .as("trainable %s moved", p.getKey())
                            .isGreaterThan(1e-4);
                }
            }
        }
    }

    /**
     * Each BatchNorm policy on a full fine-tune: KEEP_STATISTICS keeps the running statistics bit for
     * bit and trains scale and shift; TRAIN trains both; FREEZE_AFFINE ("training mode with scale
     * and shift frozen; running statistics still update") keeps scale and shift bit for bit while
     * the statistics update. The convolutions and the head train under every policy.
     */
    @Test
    void batchNormPoliciesDecideWhetherStatisticsAndScaleAndShiftChange() throws Exception {
        for (BatchNormPolicy policy : BatchNormPolicy.values()) {
            try (Model model = SourceModel.pretrained(); NDManager data = NDManager.newBaseManager()) {
                var sets = FashionMnist.trainVal(data, SourceModel.TARGET, 30, 10, 30, 12);
                Map<String, float[]> before = Weights.snapshot(model.getBlock());
                FineTuner.from(model).replaceHead(5).optProgress(false)
                        .stage(Stage.full().withEpochs(1).withLearningRate(1e-3).withBatchNormPolicy(policy))
                        .fit(sets.train(), sets.validation());
                Map<String, float[]> after = Weights.snapshot(model.getBlock());
                int stats = 0;
                int changedStats = 0;
                int affine = 0;
                int movedAffine = 0;
                int movedWeights = 0;
                for (Pair<String, Parameter> p : model.getBlock().getParameters()) {
                    Parameter.Type t = p.getValue().getType();
                    boolean same = Arrays.equals(after.get(p.getKey()), before.get(p.getKey()));
                    if (t == Parameter.Type.RUNNING_MEAN || t == Parameter.Type.RUNNING_VAR) {
                        stats++;
                        changedStats += same ? 0 : 1;
                    } else if (t == Parameter.Type.GAMMA || t == Parameter.Type.BETA) {
                        affine++;
                        movedAffine += same ? 0 : 1;
                    } else if (t == Parameter.Type.WEIGHT && !same) {
                        movedWeights++;
                    }
                }
                assertThat(stats).isEqualTo(8); // 4 BatchNorm layers
                assertThat(affine).isEqualTo(8);
                assertThat(movedWeights).as("4 convolutions and the head train under %s", policy).isEqualTo(5);
                switch (policy) {
                    case KEEP_STATISTICS -> {
                        assertThat(changedStats).as("running statistics changed under %s", policy).isZero();
                        assertThat(movedAffine).as("BN scale/shift train under %s", policy).isEqualTo(8);
                    }
                    case TRAIN -> {
                        assertThat(changedStats).as("TRAIN updates running statistics").isEqualTo(8);
                        assertThat(movedAffine).as("BN scale/shift train under %s", policy).isEqualTo(8);
                    }
                    case FREEZE_AFFINE -> {
                        assertThat(changedStats).as("FREEZE_AFFINE updates running statistics").isEqualTo(8);
                        assertThat(movedAffine).as("BN scale/shift moved under FREEZE_AFFINE").isZero();
                    }
                    default -> throw new AssertionError("a policy without expectations: " + policy);
                }
            }
        }
    }

    @Test
    void discriminativeRatesScaleEachGroupsUpdateByItsRate() throws Exception {
        double factor = 2.0;
        try (Model model = SourceModel.pretrained(); NDManager data = NDManager.newBaseManager()) {
            // one batch, one epoch: exactly one AdamW step, whose size per value is the group's rate
            var sets = FashionMnist.trainVal(data, SourceModel.TARGET, 8, 4, 40, 13);
            FineTuner tuner = FineTuner.from(model).replaceHead(5).optProgress(false)
                    .stage(Stage.discriminative(factor).withEpochs(1).withLearningRate(1e-3)
                            .withWeightDecay(0).withSchedule(Schedule.constant()));
            Map<String, float[]> before = Weights.snapshot(model.getBlock());
            tuner.fit(sets.train(), sets.validation());
            Map<String, float[]> after = Weights.snapshot(model.getBlock());
            LayerGroups groups = LayerGroups.of(model.getBlock());
            double[] step = new double[groups.size()];
            for (int g = 0; g < groups.size() - 1; g++) { // the head was created by replaceHead
                List<Double> sizes = new ArrayList<>();
                for (Pair<String, Parameter> p : groups.get(g).parameters()) {
                    if (!LayerGroup.isLearnable(p.getValue())) {
                        continue;
                    }
                    float[] a = after.get(p.getKey());
                    float[] b = before.get(p.getKey());
                    for (int i = 0; i < a.length; i++) {
                        if (a[i] != b[i]) {
                            sizes.add((double) Math.abs(a[i] - b[i]));
                        }
                    }
                }
                sizes.sort(null);
                step[g] = sizes.get(sizes.size() / 2);
            }
            double headRate = 1e-3;
            for (int g = 0; g < groups.size() - 1; g++) {
                double expected = headRate * Math.pow(factor, -(groups.size() - 1 - g));
                assertThat(step[g]).as("median update of group %d", g).isCloseTo(expected, within(expected * 0.05));
            }
            for (int g = 1; g < groups.size() - 1; g++) {
                assertThat(step[g] / step[g - 1]).isCloseTo(factor, within(0.1));
            }
        }
    }

    @Test
    void gradualUnfreezingAddsExactlyOneGroupPerEpoch() throws Exception {
        try (Model model = SourceModel.pretrained(); NDManager data = NDManager.newBaseManager()) {
            var sets = FashionMnist.trainVal(data, SourceModel.TARGET, 20, 10, 25, 14);
            Map<String, float[]> before = Weights.snapshot(model.getBlock());
            FineTuner tuner = FineTuner.from(model).replaceHead(5).optProgress(false).optRestoreBest(false)
                    .stage(Stage.gradualUnfreezing().withEpochs(3).withLearningRate(3e-3));
            FineTuneResult result = tuner.fit(sets.train(), sets.validation());
            LayerGroups groups = LayerGroups.of(model.getBlock());
            long cumulative = 0;
            for (int e = 0; e < 3; e++) {
                cumulative += groups.get(groups.size() - 1 - e).parameterCount();
                assertThat(result.epochs().get(e).trainableParameters())
                        .as("values trained in epoch %d", e + 1).isEqualTo(cumulative);
            }
            Map<String, float[]> after = Weights.snapshot(model.getBlock());
            for (int g = 0; g < groups.size() - 1; g++) {
                boolean frozenThroughout = g < groups.size() - 3;
                for (Pair<String, Parameter> p : groups.get(g).parameters()) {
                    if (!LayerGroup.isLearnable(p.getValue())) {
                        continue;
                    }
                    boolean same = Arrays.equals(after.get(p.getKey()), before.get(p.getKey()));
                    assertThat(same).as("%s unchanged", p.getKey()).isEqualTo(frozenThroughout);
                }
            }
        }
    }

    @Test
    void reinitialisingTheTopGroupsReplacesTheirPretrainedWeights() throws Exception {
        try (Model model = SourceModel.pretrained(); NDManager data = NDManager.newBaseManager()) {
            var sets = FashionMnist.trainVal(data, SourceModel.TARGET, 10, 10, 25, 15);
            Map<String, float[]> before = Weights.snapshot(model.getBlock());
            // a vanishing learning rate: what changes is the re-initialisation, not training
            FineTuner.from(model).replaceHead(5).optProgress(false).optRestoreBest(false)
                    .stage(Stage.of(Strategy.partial(1).withReinitializedTop(2)).withEpochs(1).withLearningRate(1e-12))
                    .fit(sets.train(), sets.validation());
            Map<String, float[]> after = Weights.snapshot(model.getBlock());
            LayerGroups groups = LayerGroups.of(model.getBlock());
            for (int g = 0; g < 3; g++) {
                for (Pair<String, Parameter> p : groups.get(g).parameters()) {
                    assertThat(after.get(p.getKey())).as("kept %s", p.getKey()).containsExactly(before.get(p.getKey()));
                }
            }
            for (Pair<String, Parameter> p : groups.get(3).parameters()) {
                float[] a = after.get(p.getKey());
                switch (p.getValue().getType()) {
                    case WEIGHT: // Kaiming normal: std sqrt(2 / fan_in), fan_in = 32 * 3 * 3... of block3's conv
                        double fanIn = a.length / 64.0;
                        double var = 0;
                        for (float v : a) {
                            var += v * v;
                        }
                        assertThat(Math.sqrt(var / a.length)).isCloseTo(Math.sqrt(2 / fanIn), within(0.1 * Math.sqrt(2 / fanIn)));
                        assertThat(Weights.distance(a, before.get(p.getKey()))).isGreaterThan(1.0);
                        break;
                    case RUNNING_VAR: // statistics are reset, then kept (KEEP_STATISTICS)
                        assertThat(a).containsOnly(1f);
                        break;
                    case RUNNING_MEAN:
                        assertThat(a).containsOnly(0f);
                        break;
                    case GAMMA: // reset to 1, then moved by at most a few steps of lr 1e-12
                        for (float v : a) {
                            assertThat((double) v).isCloseTo(1.0, within(1e-9));
                        }
                        break;
                    default: // bias, beta: reset to 0
                        for (float v : a) {
                            assertThat((double) v).isCloseTo(0.0, within(1e-9));
                        }
                }
            }
        }
    }

    @Test
    void scheduleRunsOverTheStagesRealStepCount() throws Exception {
        // 100 training images in batches of 20: 5 steps per epoch, 15 in a 3-epoch stage
        Stage stage = Stage.headOnly().withEpochs(3).withLearningRate(1e-2).withSchedule(Schedule.warmupCosine(0.2, 0));
        try (Model model = SourceModel.pretrained(); NDManager data = NDManager.newBaseManager()) {
            var sets = FashionMnist.trainVal(data, SourceModel.TARGET, 20, 10, 20, 5);
            FineTuneResult r = FineTuner.from(model).replaceHead(SourceModel.TARGET.length).optProgress(false)
                    .stage(stage).fit(sets.train(), sets.validation());
            for (int e = 0; e < 3; e++) {
                long lastStep = 5L * (e + 1) - 1;
                assertThat(r.epochs().get(e).learningRate())
                        .as("rate at the last step of epoch " + (e + 1))
                        .isCloseTo(1e-2 * stage.schedule().factor(lastStep, 15), within(1e-12));
            }
            assertThat(r.epochs().get(0).learningRate()).as("warmup (3 steps) is over in epoch 1").isGreaterThan(9e-3);
            assertThat(r.toString()).contains("lr");
        }
    }
}
