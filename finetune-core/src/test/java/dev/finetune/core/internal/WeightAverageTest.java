package dev.finetune.core.internal;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.nn.core.Linear;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import dev.finetune.core.plan.BatchNormPolicy;
import dev.finetune.core.plan.EpochPlan;
import dev.finetune.core.plan.OptimizerSpec;
import dev.finetune.core.plan.Schedule;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * The exponential moving average against one computed by hand: SGD on a Linear layer whose
 * gradients are known in closed form, the weights and their average followed in Java doubles.
 */
class WeightAverageTest {

    private static final double LR = 0.1;
    /** The loss is sum(E * (W x + b)): dL/dW[j][k] = E[j] x[k], dL/db[j] = E[j]. */
    private static final double[] E = {0.5, -2.0};
    private static final double[][] INPUTS = {{1, 2, 3}, {-1, 0.5, 4}, {2, -3, 0.25}, {0.5, 0.5, -1}};

    private static Block linear(NDManager m) {
        Block block = Linear.builder().setUnits(2).build();
        block.initialize(m, DataType.FLOAT32, new Shape(1, 3));
        float[] w = {0.3f, -0.2f, 0.1f, 0.4f, 0.05f, -0.6f};
        block.getParameters().get("weight").getArray().set(w);
        block.getParameters().get("bias").getArray().set(new float[] {0.25f, -0.75f});
        return block;
    }

    private static EpochPlan sgd(Block block) {
        List<EpochPlan.Trainable> trainable = List.of(
                new EpochPlan.Trainable("weight", block.getParameters().get("weight"), 0, LR, false, 0),
                new EpochPlan.Trainable("bias", block.getParameters().get("bias"), 0, LR, false, 0));
        EpochPlan plan = new EpochPlan(trainable, List.of(), new double[] {1}, LR, OptimizerSpec.sgd(0),
                Schedule.constant(), 0, BatchNormPolicy.KEEP_STATISTICS);
        TrainingLoop.applyPlan(plan);
        return plan;
    }

    private static void backward(Block block, NDManager m, double[] input) {
        ParameterStore ps = new ParameterStore(m, false);
        try (NDManager step = m.newSubManager();
                GradientCollector gc = m.getEngine().newGradientCollector()) {
            NDArray x = step.create(new float[] {(float) input[0], (float) input[1], (float) input[2]}, new Shape(1, 3));
            NDArray out = block.forward(ps, new NDList(x), true).head();
            gc.backward(out.mul(step.create(new float[] {(float) E[0], (float) E[1]}, new Shape(1, 2))).sum());
        }
    }

    private static double[] values(Parameter p) {
        float[] f = p.getArray().toFloatArray();
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) {
            d[i] = f[i];
        }
        return d;
    }

    @Test
    void theDecayWarmsUpAsTheFormulaSays() {
        assertThat(WeightAverage.decayAt(0.999, 0)).isEqualTo(0.1);
        assertThat(WeightAverage.decayAt(0.999, 1)).isEqualTo(2.0 / 11);
        assertThat(WeightAverage.decayAt(0.999, 990)).isEqualTo(991.0 / 1000);
        assertThat(WeightAverage.decayAt(0.999, 100_000)).isEqualTo(0.999);
        assertThat(WeightAverage.decayAt(0.2, 2)).isEqualTo(0.2);
    }

    @Test
    void fourSgdStepsAverageAsComputedByHand() {
        try (NDManager m = NDManager.newBaseManager();
                PlanOptimizer optimizer = new PlanOptimizer(OptimizerSpec.sgd(0), m);
                WeightAverage average = new WeightAverage(0.2, m)) {
            Block block = linear(m);
            EpochPlan plan = sgd(block);
            Parameter weight = block.getParameters().get("weight");
            Parameter bias = block.getParameters().get("bias");
            double[] w = values(weight);
            double[] b = values(bias);
            double[] avgW = w.clone();
            double[] avgB = b.clone();
            average.track(plan, block.getParameters());
            for (int t = 0; t < INPUTS.length; t++) {
                backward(block, m, INPUTS[t]);
                try (NDManager step = m.newSubManager()) {
                    optimizer.step(plan, 1.0, step);
                    average.update(step);
                }
                // by hand: SGD, then avg = d avg + (1 - d) w with d = min(0.2, (1 + t) / (10 + t))
                double d = Math.min(0.2, (1.0 + t) / (10.0 + t));
                for (int j = 0; j < 2; j++) {
                    for (int k = 0; k < 3; k++) {
                        w[j * 3 + k] -= LR * E[j] * INPUTS[t][k];
                        avgW[j * 3 + k] = d * avgW[j * 3 + k] + (1 - d) * w[j * 3 + k];
                    }
                    b[j] -= LR * E[j];
                    avgB[j] = d * avgB[j] + (1 - d) * b[j];
                }
                assertThat(values(weight)).as("the weights follow SGD (step %d)", t + 1).containsExactly(w, within(1e-6));
            }
            assertThat(average.updates()).isEqualTo(4);
            try (WeightAverage.Swap swapped = average.swapIn()) {
                assertThat(values(weight)).as("averaged weight").containsExactly(avgW, within(1e-6));
                assertThat(values(bias)).as("averaged bias").containsExactly(avgB, within(1e-6));
            }
            assertThat(values(weight)).as("the training weights are back after the swap").containsExactly(w, within(1e-6));
        }
    }

    @Test
    void aParameterThatDoesNotMoveKeepsItsValueExactlyAndASwapPutsEveryBitBack() {
        try (NDManager m = NDManager.newBaseManager(); WeightAverage average = new WeightAverage(0.999, m)) {
            Block block = linear(m);
            EpochPlan plan = sgd(block);
            average.track(plan, block.getParameters());
            float[] before = block.getParameters().get("weight").getArray().toFloatArray();
            for (int i = 0; i < 25; i++) {
                try (NDManager step = m.newSubManager()) {
                    average.update(step);
                }
            }
            block.getParameters().get("weight").getArray().set(new float[] {1, 2, 3, 4, 5, 6});
            try (WeightAverage.Swap swapped = average.swapIn()) {
                assertThat(block.getParameters().get("weight").getArray().toFloatArray())
                        .as("the average of a constant is the constant, bit for bit").containsExactly(before);
            }
            assertThat(block.getParameters().get("weight").getArray().toFloatArray()).containsExactly(1, 2, 3, 4, 5, 6);
        }
    }

    @Test
    void anExportedAverageRestoresAndGoesOnAlike() {
        try (NDManager m = NDManager.newBaseManager();
                PlanOptimizer optimizer = new PlanOptimizer(OptimizerSpec.sgd(0), m);
                WeightAverage first = new WeightAverage(0.5, m);
                WeightAverage second = new WeightAverage(0.5, m)) {
            Block block = linear(m);
            EpochPlan plan = sgd(block);
            first.track(plan, block.getParameters());
            backward(block, m, INPUTS[0]);
            try (NDManager step = m.newSubManager()) {
                optimizer.step(plan, 1.0, step);
                first.update(step);
            }
            WeightAverage.SavedState saved = first.export(block.getParameters());
            assertThat(saved.names()).containsExactly("weight", "bias");
            second.restore(saved, block.getParameters());
            assertThat(second.updates()).isEqualTo(1);
            for (WeightAverage a : new WeightAverage[] {first, second}) {
                try (NDManager step = m.newSubManager()) {
                    a.update(step);
                }
            }
            float[][] averaged = new float[2][];
            int i = 0;
            for (WeightAverage a : new WeightAverage[] {first, second}) {
                try (WeightAverage.Swap swapped = a.swapIn()) {
                    averaged[i++] = block.getParameters().get("weight").getArray().toFloatArray();
                }
            }
            assertThat(averaged[1]).containsExactly(averaged[0]);
        }
    }
}
