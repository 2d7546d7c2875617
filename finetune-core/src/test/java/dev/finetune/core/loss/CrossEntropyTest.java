package dev.finetune.core.loss;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.loss.Loss;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/**
 * The cross-entropy with class weights, label smoothing and soft targets, against PyTorch's values
 * (computed by {@code src/test/resources/dev/finetune/core/loss/cross_entropy_reference.py}, PyTorch
 * 2.13, float64) and against the formula evaluated by hand in Java doubles.
 */
class CrossEntropyTest {

    private static final double[][] LOGITS = {{2.0, -1.0, 0.5, 0.0}, {0.1, 0.2, 0.3, 3.0}, {-2.0, 1.5, 0.0, 0.25}};
    private static final int[] LABELS = {0, 3, 1};
    private static final float[] WEIGHTS = {1f, 2f, 0.5f, 3f};
    private static final double EPS = 0.1;
    private static final double LAMBDA = 0.7;

    // PyTorch's values (cross_entropy_reference.py)
    private static final double TORCH_PLAIN = 0.3140365005326704;
    private static final double TORCH_WEIGHTED = 0.2849926332276074;
    private static final double TORCH_SMOOTHED = 0.4902865005326704;
    private static final double TORCH_WEIGHTED_SMOOTHED = 0.4095088355731262;
    private static final double TORCH_MIXED = 0.9640365005326705;
    private static final double TIMM_MIXED_SMOOTHED = 1.0752865005326706;
    private static final double TORCH_MIXED_WEIGHTED_SMOOTHED_BY_TARGET_WEIGHT = 0.8329892574514748;

    private static NDArray logits(NDManager m) {
        float[] flat = new float[12];
        for (int i = 0; i < 3; i++) {
            for (int c = 0; c < 4; c++) {
                flat[i * 4 + c] = (float) LOGITS[i][c];
            }
        }
        return m.create(flat, new Shape(3, 4));
    }

    private static NDArray labels(NDManager m) {
        return m.create(new float[] {LABELS[0], LABELS[1], LABELS[2]});
    }

    /** MixUp's targets for the batch with itself reversed, by hand: lam one-hot(y) + (1 - lam) one-hot(flip(y)). */
    private static double[][] mixedTargets() {
        double[][] t = new double[3][4];
        for (int i = 0; i < 3; i++) {
            t[i][LABELS[i]] += LAMBDA;
            t[i][LABELS[2 - i]] += 1 - LAMBDA;
        }
        return t;
    }

    private static NDArray array(NDManager m, double[][] values) {
        float[] flat = new float[12];
        for (int i = 0; i < 3; i++) {
            for (int c = 0; c < 4; c++) {
                flat[i * 4 + c] = (float) values[i][c];
            }
        }
        return m.create(flat, new Shape(3, 4));
    }

    /** The library's formula in Java doubles: sum w T' (-log p) / sum w T, T' = (1 - eps) T + eps / K. */
    private static double byHand(double[][] targets, float[] weights, double eps) {
        double numerator = 0;
        double denominator = 0;
        for (int i = 0; i < 3; i++) {
            double max = Double.NEGATIVE_INFINITY;
            for (double v : LOGITS[i]) {
                max = Math.max(max, v);
            }
            double sum = 0;
            for (double v : LOGITS[i]) {
                sum += Math.exp(v - max);
            }
            double logSum = max + Math.log(sum);
            for (int c = 0; c < 4; c++) {
                double w = weights == null ? 1 : weights[c];
                double smoothed = (1 - eps) * targets[i][c] + eps / 4;
                numerator += w * smoothed * (logSum - LOGITS[i][c]);
                denominator += w * targets[i][c];
            }
        }
        return numerator / denominator;
    }

    private static double[][] oneHot() {
        double[][] t = new double[3][4];
        for (int i = 0; i < 3; i++) {
            t[i][LABELS[i]] = 1;
        }
        return t;
    }

    private static double loss(Loss loss, NDArray target, NDArray logits) {
        return loss.evaluate(new NDList(target), new NDList(logits)).getFloat();
    }

    @Test
    void classIndicesMatchPyTorchWithWeightsAndSmoothing() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray x = logits(m);
            NDArray y = labels(m);
            CrossEntropy weightedSmoothed = CrossEntropy.builder().optClassWeights(WEIGHTS).optLabelSmoothing(EPS).build();
            assertThat(loss(CrossEntropy.builder().build(), y, x)).isCloseTo(TORCH_PLAIN, within(1e-6));
            assertThat(loss(CrossEntropy.builder().optClassWeights(WEIGHTS).build(), y, x))
                    .isCloseTo(TORCH_WEIGHTED, within(1e-6));
            assertThat(loss(CrossEntropy.builder().optLabelSmoothing(EPS).build(), y, x))
                    .isCloseTo(TORCH_SMOOTHED, within(1e-6));
            assertThat(loss(weightedSmoothed, y, x)).isCloseTo(TORCH_WEIGHTED_SMOOTHED, within(1e-6));
            // the hand formula gives PyTorch's numbers too
            assertThat(byHand(oneHot(), WEIGHTS, EPS)).isCloseTo(TORCH_WEIGHTED_SMOOTHED, within(1e-12));
            assertThat(byHand(oneHot(), null, EPS)).isCloseTo(TORCH_SMOOTHED, within(1e-12));
            // one-hot rows weigh exactly as class indices do
            assertThat(loss(weightedSmoothed, array(m, oneHot()), x)).isCloseTo(TORCH_WEIGHTED_SMOOTHED, within(1e-6));
            // the order of the two options does not matter
            assertThat(loss(CrossEntropy.builder().optLabelSmoothing(EPS).optClassWeights(WEIGHTS).build(), y, x))
                    .isEqualTo(loss(weightedSmoothed, y, x));
        }
    }

    @Test
    void mixedTargetsMatchTimmAndTheHandValue() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray x = logits(m);
            NDArray t = array(m, mixedTargets());
            double mixed = loss(CrossEntropy.builder().build(), t, x);
            double mixedSmoothed = loss(CrossEntropy.builder().optLabelSmoothing(EPS).build(), t, x);
            double mixedWeighted = loss(CrossEntropy.builder().optClassWeights(WEIGHTS).optLabelSmoothing(EPS).build(), t, x);
            assertThat(mixed).isCloseTo(byHand(mixedTargets(), null, 0), within(1e-6)).isCloseTo(TORCH_MIXED, within(1e-6));
            assertThat(mixedSmoothed).isCloseTo(byHand(mixedTargets(), null, EPS), within(1e-6))
                    .isCloseTo(TIMM_MIXED_SMOOTHED, within(1e-6));
            assertThat(mixedWeighted).isCloseTo(byHand(mixedTargets(), WEIGHTS, EPS), within(1e-6))
                    .isCloseTo(TORCH_MIXED_WEIGHTED_SMOOTHED_BY_TARGET_WEIGHT, within(1e-6));
            // written out for one value: sample 0 (label 0, partner label 1) holds 0.7 of class 0 and 0.3 of class 1
            assertThat(mixedTargets()[0]).containsExactly(new double[] {0.7, 0.3, 0, 0}, within(1e-15));
        }
    }

    @Test
    void withoutWeightsOrSmoothingItIsExactlyDjlsLossAndWithWeightsExactlyTheWeightedOne() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray x = m.randomNormal(new Shape(16, 5));
            NDArray y = m.randomInteger(0, 5, new Shape(16), DataType.INT32).toType(DataType.FLOAT32, false);
            float[] w = {1f, 0.5f, 2f, 3f, 0.25f};
            assertThat(loss(CrossEntropy.builder().build(), y, x))
                    .isEqualTo(loss(Loss.softmaxCrossEntropyLoss(), y, x));
            assertThat(loss(CrossEntropy.builder().optClassWeights(w).build(), y, x))
                    .isEqualTo(loss(new ClassWeightedCrossEntropy(w), y, x));
            // the validation form drops the smoothing and keeps the weights
            CrossEntropy smoothed = CrossEntropy.builder().optClassWeights(w).optLabelSmoothing(0.2).build();
            assertThat(smoothed.withoutSmoothing().labelSmoothing()).isZero();
            assertThat(smoothed.withoutSmoothing().classWeights()).containsExactly(w);
            assertThat(loss(smoothed.withoutSmoothing(), y, x)).isEqualTo(loss(new ClassWeightedCrossEntropy(w), y, x));
        }
    }

    @Test
    void badSettingsAreRefusedWithWhatToDo() {
        assertThatThrownBy(() -> CrossEntropy.builder().optLabelSmoothing(1.0))
                .hasMessageContaining("Label smoothing must lie in [0, 1)").hasMessageContaining("0.1 is usual");
        assertThatThrownBy(() -> CrossEntropy.builder().optLabelSmoothing(-0.1)).hasMessageContaining("got -0.1");
        assertThatThrownBy(() -> CrossEntropy.builder().optClassWeights(new float[] {1f, Float.NaN}))
                .hasMessageContaining("Class weight 1 is NaN");
        try (NDManager m = NDManager.newBaseManager()) {
            CrossEntropy three = CrossEntropy.builder().optClassWeights(new float[] {1f, 1f, 1f}).build();
            assertThatThrownBy(() -> three.evaluate(new NDList(labels(m)), new NDList(logits(m))))
                    .hasMessageContaining("outputs 4 classes but 3 class weights");
        }
    }
}
