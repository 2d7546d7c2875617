package dev.finetune.core;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.Model;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.nn.Parameter;
import ai.djl.util.Pair;
import dev.finetune.core.checkpoint.Checkpoint;
import dev.finetune.core.fixtures.FashionMnist;
import dev.finetune.core.fixtures.SourceModel;
import dev.finetune.core.internal.TorchScriptCast;
import dev.finetune.core.plan.OptimizerSpec;
import dev.finetune.core.plan.Schedule;
import dev.finetune.core.result.FineTuneResult;
import dev.finetune.core.stage.Stage;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Bfloat16 mixed precision on a DJL-built network (the committed source CNN, transferred to five
 * other Fashion-MNIST classes): its convolutions and head compute in bfloat16 copies, its BatchNorm
 * layers and every master weight stay float32. (TorchScript modules: finetune-vision's
 * TorchScriptPrecisionTest.)
 */
class PrecisionTest {

    private static final int CLASSES = SourceModel.TARGET.length;

    @TempDir
    Path dir;

    /**
     * The test JVMs cap oneDNN at AVX2 (the AVX-512 crash, docs/design.md), where bfloat16 is
     * emulated: the library would then train in float32. The numerics are the same, only slower.
     */
    @org.junit.jupiter.api.BeforeAll
    static void bfloat16EvenWhereEmulated() {
        System.setProperty("finetune.bf16", "force");
    }

    @org.junit.jupiter.api.AfterAll
    static void bfloat16Automatic() {
        System.clearProperty("finetune.bf16");
    }

    private static Map<String, float[]> weights(Model model) {
        Map<String, float[]> out = new LinkedHashMap<>();
        for (Pair<String, Parameter> p : model.getBlock().getParameters()) {
            NDArray a = p.getValue().getArray();
            assertThat(a.getDataType()).as("master %s", p.getKey()).isEqualTo(DataType.FLOAT32);
            out.put(p.getKey(), a.toFloatArray());
        }
        return out;
    }

    private static FineTuner tuner(Model model, Precision precision, Stage stage) {
        return FineTuner.from(model).replaceHead(CLASSES).optProgress(false).optSeed(7).optPrecision(precision)
                .stage(stage);
    }

    @Test
    void bf16FineTuningLearnsAsFloat32DoesAndKeepsFloat32Masters() throws Exception {
        Stage stage = Stage.full().withEpochs(3).withLearningRate(1e-2);
        double[] accuracy = new double[2];
        for (Precision precision : Precision.values()) {
            try (Model model = SourceModel.pretrained(); NDManager data = NDManager.newBaseManager()) {
                var sets = FashionMnist.trainVal(data, SourceModel.TARGET, 60, 100, 16, 3);
                FineTuneResult result = tuner(model, precision, stage).fit(sets.train(), sets.validation());
                assertThat(result.warnings()).as("warnings of the %s fit", precision).isEmpty();
                weights(model); // every parameter is still float32
                accuracy[precision.ordinal()] = result.bestEpoch().validationAccuracy();
                System.out.printf("PRECISION %s validation accuracy %.3f, train loss %.4f%n", precision,
                        accuracy[precision.ordinal()], result.lastEpoch().trainLoss());
            }
        }
        assertThat(accuracy[1]).as("bf16 validation accuracy next to fp32's %.3f", accuracy[0])
                .isGreaterThan(0.6).isCloseTo(accuracy[0], org.assertj.core.data.Offset.offset(0.05));
    }

    @Test
    void anUpdateTooSmallForBfloat16ReachesTheFloat32Masters() throws Exception {
        // one SGD step of rate 1e-4: most updates are ~1e-6..1e-5, far below bfloat16's spacing
        // (2^-8 relative), so a bfloat16 weight would not move; the float32 master must
        Stage step = Stage.full().withEpochs(1).withLearningRate(1e-4).withSchedule(Schedule.constant())
                .withOptimizer(OptimizerSpec.sgd(0)).withWeightDecay(0);
        Map<String, float[]> before;
        Map<String, float[]> fp32;
        Map<String, float[]> bf16;
        try (Model model = SourceModel.pretrained(); NDManager data = NDManager.newBaseManager()) {
            var sets = FashionMnist.trainVal(data, SourceModel.TARGET, 8, 5, 40, 5); // one batch of 40
            before = weights(model); // the pretrained weights (the head is replaced later)
            tuner(model, Precision.FP32, step).fit(sets.train(), sets.validation());
            fp32 = weights(model);
        }
        try (Model model = SourceModel.pretrained(); NDManager data = NDManager.newBaseManager()) {
            var sets = FashionMnist.trainVal(data, SourceModel.TARGET, 8, 5, 40, 5);
            tuner(model, Precision.BF16, step).fit(sets.train(), sets.validation());
            bf16 = weights(model);
        }
        String conv = before.keySet().stream().filter(k -> k.contains("Conv2d") && k.endsWith("weight"))
                .skip(2).findFirst().orElseThrow();
        float[] w0 = before.get(conv);
        float[] w32 = fp32.get(conv);
        float[] w16 = bf16.get(conv);
        int moved = 0;
        int moved32 = 0;
        int lostInBf16 = 0;
        double num = 0;
        double den = 0;
        for (int i = 0; i < w0.length; i++) {
            double d32 = w32[i] - w0[i];
            double d16 = w16[i] - w0[i];
            moved += d16 != 0 ? 1 : 0;
            moved32 += d32 != 0 ? 1 : 0;
            lostInBf16 += TorchScriptCast.bfloat16(w0[i]) == TorchScriptCast.bfloat16((float) (w0[i] + d32)) ? 1 : 0;
            num += (d16 - d32) * (d16 - d32);
            den += d32 * d32;
        }
        System.out.printf("PRECISION %s: %d weights, moved in fp32 %d, in bf16 masters %d, updates a bf16 weight would lose %d,"
                + " relative error of the bf16 update %.4f%n", conv, w0.length, moved32, moved, lostInBf16, Math.sqrt(num / den));
        assertThat(lostInBf16).as("updates below bfloat16's resolution").isGreaterThan(w0.length * 9 / 10);
        assertThat(moved).as("bf16 masters that moved, of the %d that moved in fp32", moved32)
                .isGreaterThan(moved32 * 99 / 100);
        assertThat(Math.sqrt(num / den)).as("relative error of the bf16-computed update against fp32's").isLessThan(0.05);
    }

    @Test
    void accumulatedBf16GradientsAddUpInFloat32() throws Exception {
        // one step over 40 images: a batch of 40, or 2 batches of 20 accumulated (whose bfloat16
        // gradients go to the float32 masters batch by batch); both next to the float32 update
        Stage step = Stage.full().withEpochs(1).withLearningRate(1e-4).withSchedule(Schedule.constant())
                .withOptimizer(OptimizerSpec.sgd(0)).withWeightDecay(0);
        float[] before;
        try (Model model = SourceModel.pretrained()) {
            before = convWeight(weights(model));
        }
        float[][] delta = new float[3][];
        Object[][] runs = {{Precision.FP32, 40, step}, {Precision.BF16, 40, step},
            {Precision.BF16, 20, step.withAccumulation(2)}};
        for (int r = 0; r < runs.length; r++) {
            try (Model model = SourceModel.pretrained(); NDManager data = NDManager.newBaseManager()) {
                var sets = FashionMnist.trainVal(data, SourceModel.TARGET, 8, 5, (Integer) runs[r][1], 5);
                tuner(model, (Precision) runs[r][0], (Stage) runs[r][2]).fit(sets.train(), sets.validation());
                float[] after = convWeight(weights(model));
                delta[r] = new float[after.length];
                for (int i = 0; i < after.length; i++) {
                    delta[r][i] = after[i] - before[i];
                }
            }
        }
        double whole = relativeError(delta[1], delta[0]);
        double accumulated = relativeError(delta[2], delta[0]);
        System.out.printf("PRECISION one step of 40 vs fp32: bf16 %.4f, bf16 2 x 20 accumulated %.4f%n", whole,
                accumulated);
        assertThat(whole).isLessThan(0.05);
        assertThat(accumulated).isLessThan(0.05);
    }

    private static float[] convWeight(Map<String, float[]> weights) {
        return weights.entrySet().stream().filter(e -> e.getKey().contains("Conv2d") && e.getKey().endsWith("weight"))
                .skip(2).findFirst().orElseThrow().getValue();
    }

    private static double relativeError(float[] actual, float[] expected) {
        double num = 0;
        double den = 0;
        for (int i = 0; i < expected.length; i++) {
            num += (actual[i] - expected[i]) * (double) (actual[i] - expected[i]);
            den += expected[i] * (double) expected[i];
        }
        return Math.sqrt(num / den);
    }

    @Test
    void theBestCheckpointHoldsTheFloat32MastersItWasMeasuredWith() throws Exception {
        Path best = dir.resolve("best.ckpt");
        try (Model model = SourceModel.pretrained(); NDManager data = NDManager.newBaseManager()) {
            var sets = FashionMnist.trainVal(data, SourceModel.TARGET, 40, 100, 16, 11);
            FineTuner t = tuner(model, Precision.BF16, Stage.full().withEpochs(2).withLearningRate(1e-2))
                    .optCheckpoint(best);
            FineTuneResult result = t.fit(sets.train(), sets.validation());
            try (Model fresh = Model.newInstance("fresh")) {
                fresh.setBlock(SourceModel.architecture(CLASSES));
                fresh.getBlock().initialize(fresh.getNDManager(), DataType.FLOAT32, new ai.djl.ndarray.types.Shape(1, 1, 28, 28));
                Checkpoint.load(best).restoreInto(fresh.getBlock(), fresh.getNDManager());
                assertThat(weights(fresh)).as("checkpoint = the model's float32 masters")
                        .usingRecursiveComparison().isEqualTo(weights(model));
                var again = FineTuner.from(fresh).optNumClasses(CLASSES).optProgress(false).evaluate(sets.validation());
                assertThat(again.accuracy()).isEqualTo(result.bestEpoch().validationAccuracy());
                assertThat(again.loss()).isEqualTo(result.bestEpoch().validationLoss());
            }
        }
    }

    @Test
    void withoutBfloat16HardwareTheFitSaysSoOnceAndTrainsAsFloat32() throws Exception {
        Stage stage = Stage.full().withEpochs(1).withLearningRate(1e-2);
        Map<String, float[]> fp32;
        try (Model model = SourceModel.pretrained(); NDManager data = NDManager.newBaseManager()) {
            var sets = FashionMnist.trainVal(data, SourceModel.TARGET, 20, 20, 16, 13);
            tuner(model, Precision.FP32, stage).fit(sets.train(), sets.validation());
            fp32 = weights(model);
        }
        System.setProperty("finetune.bf16", "off");
        try (Model model = SourceModel.pretrained(); NDManager data = NDManager.newBaseManager()) {
            var sets = FashionMnist.trainVal(data, SourceModel.TARGET, 20, 20, 16, 13);
            FineTuneResult result = tuner(model, Precision.BF16, stage).fit(sets.train(), sets.validation());
            assertThat(result.warnings()).hasSize(1);
            assertThat(result.warnings().get(0)).contains("BF16").contains("float32");
            assertThat(weights(model)).usingRecursiveComparison().isEqualTo(fp32);
        } finally {
            System.setProperty("finetune.bf16", "force");
        }
    }
}
