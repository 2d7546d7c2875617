package dev.finetune.core;

import ai.djl.Model;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Parameter;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import ai.djl.training.dataset.Batch;
import ai.djl.training.loss.Loss;
import dev.finetune.core.fixtures.FashionMnist;
import dev.finetune.core.fixtures.SourceModel;
import dev.finetune.core.fixtures.Weights;
import dev.finetune.core.result.FineTuneResult;
import dev.finetune.core.groups.LayerGroups;
import dev.finetune.core.internal.PlanOptimizer;
import dev.finetune.core.plan.OptimizerSpec;
import dev.finetune.core.stage.Stage;
import dev.finetune.core.plan.EpochPlan;
import dev.finetune.core.plan.Schedule;
import dev.finetune.core.internal.TrainingLoop;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** The plan-following optimizer on the pretrained CNN's real parameters and gradients. */
class OptimizerTest {

    /** Runs forward and backward on one real batch; the loss is scaled by {@code scale}. */
    private static void backward(Model model, NDManager data, float scale) throws Exception {
        var sets = FashionMnist.trainVal(data, SourceModel.SOURCE, 8, 1, 40, 21);
        Batch batch = sets.train().getData(data).iterator().next();
        ParameterStore ps = new ParameterStore(model.getNDManager(), false);
        try (GradientCollector gc = model.getNDManager().getEngine().newGradientCollector()) {
            NDList out = model.getBlock().forward(ps, batch.getData(), true);
            NDArray loss = Loss.softmaxCrossEntropyLoss().evaluate(batch.getLabels(), out).mul(scale);
            gc.backward(loss);
        }
        batch.close();
    }

    private static EpochPlan fullPlan(Model model, Stage stage) {
        EpochPlan plan = stage.withSchedule(Schedule.constant()).plan(LayerGroups.of(model.getBlock()), 0);
        TrainingLoop.applyPlan(plan);
        return plan;
    }

    @Test
    void weightDecaySkipsBiasesAndNormParameters() throws Exception {
        try (Model model = SourceModel.pretrained(); NDManager data = NDManager.newBaseManager();
                NDManager step = NDManager.newBaseManager();
                PlanOptimizer opt = new PlanOptimizer(OptimizerSpec.adamW(), model.getNDManager())) {
            double lr = 0.1;
            double wd = 0.5;
            EpochPlan plan = fullPlan(model, Stage.full().withLearningRate(lr).withWeightDecay(wd));
            backward(model, data, 0f); // zero gradients: AdamW then changes weights by decay alone
            List<float[]> before = new ArrayList<>();
            for (EpochPlan.Trainable e : plan.trainable()) {
                before.add(e.parameter().getArray().toFloatArray());
            }
            opt.step(plan, 1.0, step);
            Set<Parameter.Type> decayed = new HashSet<>();
            Set<Parameter.Type> kept = new HashSet<>();
            for (int i = 0; i < plan.trainable().size(); i++) {
                EpochPlan.Trainable e = plan.trainable().get(i);
                float[] after = e.parameter().getArray().toFloatArray();
                boolean isWeight = e.parameter().getType() == Parameter.Type.WEIGHT;
                assertThat(e.decays()).as("decay flag of %s", e.name()).isEqualTo(isWeight);
                for (int k = 0; k < after.length; k++) {
                    double expected = isWeight ? before.get(i)[k] * (1 - lr * wd) : before.get(i)[k];
                    assertThat((double) after[k]).as(e.name()).isCloseTo(expected, within(1e-6 + Math.abs(expected) * 1e-5));
                }
                (isWeight ? decayed : kept).add(e.parameter().getType());
            }
            assertThat(decayed).containsExactly(Parameter.Type.WEIGHT);
            assertThat(kept).containsExactlyInAnyOrder(Parameter.Type.BIAS, Parameter.Type.GAMMA, Parameter.Type.BETA);
        }
    }

    @Test
    void clippingBoundsTheGlobalNormAndKeepsTheDirection() throws Exception {
        try (Model model = SourceModel.pretrained(); NDManager data = NDManager.newBaseManager();
                NDManager step = NDManager.newBaseManager();
                PlanOptimizer opt = new PlanOptimizer(OptimizerSpec.sgd(0), model.getNDManager())) {
            EpochPlan unclipped = fullPlan(model, Stage.full().withOptimizer(OptimizerSpec.sgd(0)).withLearningRate(1.0)
                    .withWeightDecay(0));
            backward(model, data, 1f);
            List<float[]> grads = new ArrayList<>();
            List<float[]> before = new ArrayList<>();
            double gradNorm = 0;
            for (EpochPlan.Trainable e : unclipped.trainable()) {
                float[] g = e.parameter().getArray().getGradient().toFloatArray();
                grads.add(g);
                before.add(e.parameter().getArray().toFloatArray());
                for (float v : g) {
                    gradNorm += v * v;
                }
            }
            gradNorm = Math.sqrt(gradNorm);
            double maxNorm = gradNorm / 10;
            // SGD without momentum or decay at lr 1: the change of the weights is the applied gradient
            EpochPlan plan = fullPlan(model, Stage.full().withOptimizer(OptimizerSpec.sgd(0)).withLearningRate(1.0)
                    .withWeightDecay(0).withClipNorm(maxNorm));
            float reported = opt.step(plan, 1.0, step).getFloat();
            assertThat((double) reported).isCloseTo(gradNorm, within(gradNorm * 1e-4));
            double appliedNorm = 0;
            int negative = 0;
            for (int i = 0; i < grads.size(); i++) {
                float[] after = plan.trainable().get(i).parameter().getArray().toFloatArray();
                for (int k = 0; k < after.length; k++) {
                    double applied = before.get(i)[k] - after[k];
                    appliedNorm += applied * applied;
                    double expected = grads.get(i)[k] * maxNorm / gradNorm;
                    assertThat(applied).isCloseTo(expected, within(1e-6 + Math.abs(expected) * 1e-3));
                    negative += grads.get(i)[k] < 0 ? 1 : 0;
                }
            }
            assertThat(Math.sqrt(appliedNorm)).isCloseTo(maxNorm, within(maxNorm * 1e-3));
            assertThat(negative).as("negative components are scaled, not clamped").isPositive();
        }
    }

    /**
     * One real fit of one step (40 images, one batch) with SGD without momentum or decay at rate 1
     * and a constant schedule, clipped by {@link Stage#withClipNorm} when {@code clipNorm > 0}: the
     * change of each weight is minus the gradient that was applied.
     */
    private static Map<String, float[]> weightsAfterOneStep(double clipNorm) throws Exception {
        try (Model model = SourceModel.pretrained(); NDManager data = NDManager.newBaseManager()) {
            var sets = FashionMnist.trainVal(data, SourceModel.SOURCE, 8, 2, 40, 21);
            Stage stage = Stage.full().withEpochs(1).withOptimizer(OptimizerSpec.sgd(0)).withLearningRate(1.0)
                    .withWeightDecay(0).withSchedule(Schedule.constant());
            if (clipNorm > 0) {
                stage = stage.withClipNorm(clipNorm);
            }
            FineTuneResult r = FineTuner.from(model).optNumClasses(SourceModel.SOURCE.length).optProgress(false)
                    .optSeed(5).optRestoreBest(false).stage(stage).fit(sets.train(), sets.validation());
            assertThat(r.epochs()).hasSize(1);
            return Weights.snapshot(model.getBlock());
        }
    }

    @Test
    void clippingInAFitLeavesGradientsUnderTheBoundAloneAndScalesLargerOnesToIt() throws Exception {
        Map<String, float[]> start;
        try (Model model = SourceModel.pretrained()) {
            start = Weights.snapshot(model.getBlock());
        }
        Map<String, float[]> unclipped = weightsAfterOneStep(0);
        double gradNorm = 0;
        for (String name : start.keySet()) {
            for (int k = 0; k < start.get(name).length; k++) {
                double d = start.get(name)[k] - unclipped.get(name)[k];
                gradNorm += d * d;
            }
        }
        gradNorm = Math.sqrt(gradNorm);
        assertThat(gradNorm).as("the step's gradient norm").isGreaterThan(1e-3);

        // a bound above the norm: the clipping factor min(1, bound / norm) is 1, the step bit-identical
        Map<String, float[]> underTheBound = weightsAfterOneStep(gradNorm * 1.5);
        for (String name : start.keySet()) {
            assertThat(underTheBound.get(name)).as("%s with the norm under the bound", name)
                    .containsExactly(unclipped.get(name));
        }

        // a bound below the norm: every component scaled by bound / norm, the applied norm equals the bound
        double maxNorm = gradNorm / 4;
        Map<String, float[]> clipped = weightsAfterOneStep(maxNorm);
        double appliedNorm = 0;
        for (String name : start.keySet()) {
            float[] s = start.get(name);
            for (int k = 0; k < s.length; k++) {
                double full = s[k] - unclipped.get(name)[k];
                double scaled = s[k] - clipped.get(name)[k];
                double expected = full * maxNorm / gradNorm;
                assertThat(scaled).as(name).isCloseTo(expected, within(1e-6 + Math.abs(expected) * 1e-3));
                appliedNorm += scaled * scaled;
            }
        }
        assertThat(Math.sqrt(appliedNorm)).isCloseTo(maxNorm, within(maxNorm * 1e-3));
    }

    @Test
    void stateExistsOnlyForTrainedParametersAndLateOnesStartFresh() throws Exception {
        try (Model model = SourceModel.pretrained(); NDManager data = NDManager.newBaseManager();
                NDManager step = NDManager.newBaseManager();
                PlanOptimizer opt = new PlanOptimizer(OptimizerSpec.adamW(), model.getNDManager())) {
            LayerGroups groups = LayerGroups.of(model.getBlock());
            EpochPlan headOnly = Stage.headOnly().withLearningRate(1e-3).withWeightDecay(0)
                    .withSchedule(Schedule.constant()).plan(groups, 0);
            EpochPlan withBlock3 = Stage.partial(1).withLearningRate(1e-3).withWeightDecay(0)
                    .withSchedule(Schedule.constant()).plan(groups, 0);
            TrainingLoop.applyPlan(headOnly);
            for (int i = 0; i < 3; i++) {
                backward(model, data, 1f);
                opt.step(headOnly, 1.0, step);
            }
            assertThat(opt.stateCount()).isEqualTo(headOnly.trainable().size()).isEqualTo(2);
            TrainingLoop.applyPlan(withBlock3);
            backward(model, data, 1f);
            Parameter conv = groups.get(3).parameters().get(0).getValue();
            float[] convBefore = conv.getArray().toFloatArray();
            opt.step(withBlock3, 1.0, step);
            assertThat(opt.stateCount()).isEqualTo(withBlock3.trainable().size());
            assertThat(opt.stepsOf(groups.head().parameters().get(0).getValue())).isEqualTo(4);
            assertThat(opt.stepsOf(conv)).isEqualTo(1);
            // bias correction for t = 1: Adam's first step moves each value by the rate itself
            float[] convAfter = conv.getArray().toFloatArray();
            List<Double> sizes = new ArrayList<>();
            for (int k = 0; k < convAfter.length; k++) {
                sizes.add((double) Math.abs(convAfter[k] - convBefore[k]));
            }
            sizes.sort(null);
            assertThat(sizes.get(sizes.size() / 2)).isCloseTo(1e-3, within(1e-5));
        }
    }
}
