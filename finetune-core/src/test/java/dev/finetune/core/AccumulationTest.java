package dev.finetune.core;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.Block;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.core.Linear;
import ai.djl.training.dataset.ArrayDataset;
import dev.finetune.core.fixtures.InterruptingDataset;
import dev.finetune.core.fixtures.Weights;
import dev.finetune.core.plan.OptimizerSpec;
import dev.finetune.core.result.FineTuneResult;
import dev.finetune.core.stage.Stage;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Gradient accumulation: an MLP without BatchNorm trained with batches of 8 accumulated 4 at a time
 * ends with the weights of the same training with batches of 32 (same shuffle, same schedule), for
 * SGD with momentum and clipping and for AdamW, including an epoch's last, shorter group.
 */
class AccumulationTest {

    private static final int FEATURES = 8;
    private static final int CLASSES = 3;

    /** 76 samples: batches of 32 give 32, 32, 12; batches of 8 give 9 x 8 + 4, grouped 4, 4, 2 (32, 32, 12). */
    private static ArrayDataset data(NDManager m, int samples, int batch, boolean shuffle, long seed) {
        Random r = new Random(seed);
        float[] x = new float[samples * FEATURES];
        float[] y = new float[samples];
        for (int i = 0; i < samples; i++) {
            y[i] = r.nextInt(CLASSES);
            for (int j = 0; j < FEATURES; j++) {
                x[i * FEATURES + j] = (float) (r.nextGaussian() + (j % CLASSES == y[i] ? 1 : 0));
            }
        }
        return new ArrayDataset.Builder().setData(m.create(x, new Shape(samples, FEATURES)))
                .optLabels(m.create(y)).setSampling(batch, shuffle).build();
    }

    private static byte[] initialWeights;

    /** The MLP, with the same initial weights every time. */
    private static Block mlp(NDManager m) throws Exception {
        SequentialBlock net = new SequentialBlock().add(Linear.builder().setUnits(16).build())
                .add(Activation.reluBlock()).add(Linear.builder().setUnits(CLASSES).build());
        net.initialize(m, DataType.FLOAT32, new Shape(1, FEATURES));
        if (initialWeights == null) {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            net.saveParameters(new DataOutputStream(out));
            initialWeights = out.toByteArray();
        } else {
            net.loadParameters(m, new DataInputStream(new ByteArrayInputStream(initialWeights)));
        }
        return net;
    }

    private record Run(Map<String, float[]> weights, FineTuneResult result, long steps, long stepsPerEpoch) {}

    private static Run fit(Stage stage, int batch, int samples) throws Exception {
        try (NDManager m = NDManager.newBaseManager()) {
            Block net = mlp(m);
            long[] steps = new long[2];
            FineTuneResult result = FineTuner.from(net).optNumClasses(CLASSES).optProgress(false).optSeed(3)
                    .addListener(new FineTuneListener() {
                        @Override
                        public void onStageStart(StageStart start) {
                            steps[1] = start.stepsPerEpoch();
                        }

                        @Override
                        public void onStep(Step step) {
                            steps[0]++;
                        }
                    })
                    .stage(stage).fit(data(m, samples, batch, true, 1), data(m, 30, 30, false, 2));
            return new Run(Weights.snapshot(net), result, steps[0], steps[1]);
        }
    }

    private static void assertSameWeights(Map<String, float[]> accumulated, Map<String, float[]> large, double tolerance) {
        for (String name : large.keySet()) {
            float[] a = accumulated.get(name);
            float[] b = large.get(name);
            for (int i = 0; i < b.length; i++) {
                double scale = Math.max(Math.abs(a[i]), Math.abs(b[i]));
                assertThat((double) Math.abs(a[i] - b[i])).as("%s[%d]: %s vs %s", name, i, a[i], b[i])
                        .isLessThanOrEqualTo(tolerance * scale + 1e-7);
            }
        }
    }

    private static double maxRelativeDifference(Map<String, float[]> a, Map<String, float[]> b) {
        double max = 0;
        for (String name : b.keySet()) {
            for (int i = 0; i < b.get(name).length; i++) {
                float u = a.get(name)[i];
                float v = b.get(name)[i];
                max = Math.max(max, Math.abs(u - v) / Math.max(1e-6, Math.max(Math.abs(u), Math.abs(v))));
            }
        }
        return max;
    }

    @Test
    void eightTimesFourEqualsThirtyTwoForSgdWithMomentumAndClippingAndForAdamW() throws Exception {
        List<String> report = new ArrayList<>();
        for (Stage stage : new Stage[] {
            Stage.full().withEpochs(3).withLearningRate(0.05).withOptimizer(OptimizerSpec.sgd(0.9)),
            // a bound below the gradients' norm: clipping acts on every step, on the accumulated gradient
            Stage.full().withEpochs(3).withLearningRate(0.05).withOptimizer(OptimizerSpec.sgd(0.9)).withClipNorm(0.05),
            Stage.full().withEpochs(3).withLearningRate(1e-2)}) {
            Run large = fit(stage, 32, 76);
            Run accumulated = fit(stage.withAccumulation(4), 8, 76);
            Run small = fit(stage, 8, 76);
            report.add(String.format("%s: max relative difference %.2e (without accumulation %.2e)",
                    stage.optimizer().describe() + (stage.clipNorm() > 0 ? " clip" : ""),
                    maxRelativeDifference(accumulated.weights(), large.weights()),
                    maxRelativeDifference(small.weights(), large.weights())));
            assertSameWeights(accumulated.weights(), large.weights(), 1e-5);
            assertThat(maxRelativeDifference(small.weights(), large.weights()))
                    .as("batches of 8 without accumulation train otherwise").isGreaterThan(1e-2);
            // steps are optimizer steps: 3 per epoch (4 + 4 + 2 batches), the schedule over 9
            assertThat(accumulated.steps()).isEqualTo(9);
            assertThat(accumulated.stepsPerEpoch()).isEqualTo(3);
            assertThat(accumulated.result().epochs()).extracting(m -> m.trainSamples()).containsOnly(76L);
            for (int e = 0; e < 3; e++) {
                assertThat(accumulated.result().epochs().get(e).learningRate())
                        .isEqualTo(large.result().epochs().get(e).learningRate());
                assertThat(accumulated.result().epochs().get(e).trainLoss())
                        .isCloseTo(large.result().epochs().get(e).trainLoss(),
                                org.assertj.core.api.Assertions.within(1e-5));
            }
        }
        report.forEach(line -> System.out.println("accumulation 8 x 4 vs 32, " + line));
    }

    @Test
    void anUnevenLastGroupIsTheMeanOverItsSamples() throws Exception {
        // 44 samples: batches of 8 give 8, 8, 8, 8 | 8, 4 (a group of 12 samples in 2 uneven batches)
        Stage stage = Stage.full().withEpochs(2).withLearningRate(0.05).withOptimizer(OptimizerSpec.sgd(0.9));
        Run large = fit(stage, 32, 44);
        Run accumulated = fit(stage.withAccumulation(4), 8, 44);
        assertSameWeights(accumulated.weights(), large.weights(), 1e-5);
        assertThat(accumulated.steps()).isEqualTo(4);
    }

    @Test
    void aFitStoppedInsideAGroupLeavesNoGradientForALaterStep() throws Exception {
        try (NDManager m = NDManager.newBaseManager()) {
            Block net = mlp(m);
            // 76 samples in batches of 8 (10 reads each): read 25 falls in batch 3, so the loop stops before
            // batch 4 with 3 batches of the first group of 4 accumulated
            InterruptingDataset train = new InterruptingDataset(data(m, 76, 8, true, 1), 8, Thread.currentThread(), 25);
            try {
                assertThatThrownBy(() -> FineTuner.from(net).optNumClasses(CLASSES).optProgress(false)
                        .stage(Stage.full().withAccumulation(4)).fit(train, data(m, 30, 30, false, 2)))
                        .isInstanceOf(TrainingInterruptedException.class).hasMessageContaining("training step 1");
            } finally {
                Thread.interrupted();
            }
            for (var p : net.getParameters()) {
                double largest = 0;
                for (float g : p.getValue().getArray().getGradient().toFloatArray()) {
                    largest = Math.max(largest, Math.abs(g));
                }
                assertThat(largest).as("the largest gradient of %s", p.getKey()).isZero();
            }
        }
    }

    @Test
    void stepBudgetsCountOptimizerStepsAndBadValuesAreRefused() throws Exception {
        // 10 batches of 8 in groups of 4: 3 steps per epoch, so 7 steps need 3 epochs
        Run run = fit(Stage.full().withSteps(7).withAccumulation(4), 8, 76);
        assertThat(run.result().epochs()).hasSize(3);
        assertThat(Stage.full().withAccumulation(4).describe()).endsWith(" accumulate=4");
        assertThat(Stage.full().describe()).doesNotContain("accumulate");
        assertThatThrownBy(() -> Stage.full().withAccumulation(0))
                .hasMessageContaining("at least 1 batch per optimizer step, got 0");
    }
}
