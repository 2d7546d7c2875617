package dev.finetune.core.loss;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.loss.Loss;

import java.util.Arrays;
import java.util.Locale;

/**
 * Softmax cross-entropy on class-index labels {@code (N)} or soft targets {@code (N, K)} (rows that
 * are probability distributions, such as MixUp's mixed one-hots), with optional class weights
 * {@code w} and label smoothing {@code eps}. Targets are smoothed to {@code T' = (1 - eps) T + eps / K}
 * and the loss is
 *
 * <pre>
 *   sum_i sum_c w_c T'_ic (-log p_ic)  /  sum_i sum_c w_c T_ic
 * </pre>
 *
 * <p>For class-index labels this is PyTorch's {@code CrossEntropyLoss(weight=w, label_smoothing=eps)}
 * (the denominator is {@code sum_i w[y_i]}); without weights it is the mean over samples, so for soft
 * targets it is timm's {@code SoftTargetCrossEntropy} (after smoothing). With weights and soft targets
 * the denominator is the targets' weight, {@code sum_i sum_c w_c T_ic}, so that a one-hot row weighs
 * exactly as its class index does (PyTorch divides by {@code N} there instead). Without weights or
 * smoothing on class indices it computes exactly what DJL's {@code Loss.softmaxCrossEntropyLoss()}
 * computes, and with weights alone exactly what {@link ClassWeightedCrossEntropy} does.
 *
 * <pre>{@code
 * Loss loss = CrossEntropy.builder().optClassWeights(counts.balancedWeights()).optLabelSmoothing(0.1).build();
 * }</pre>
 *
 * <p>Immutable; the weights are copied to each model's device once.
 */
public final class CrossEntropy extends Loss {

    private final float[] weights;
    private final double smoothing;
    private final DeviceWeights onDevice;

    private CrossEntropy(float[] weights, double smoothing) {
        super("CrossEntropy");
        this.weights = weights;
        this.smoothing = smoothing;
        this.onDevice = weights == null ? null : new DeviceWeights(weights);
    }

    /** @return a builder: no class weights, no smoothing until set */
    public static Builder builder() {
        return new Builder();
    }

    /** Builds a {@link CrossEntropy}. */
    public static final class Builder {
        private float[] weights;
        private double smoothing;

        private Builder() {}

        /**
         * @param classWeights one positive finite weight per class, in label order (e.g.
         *     {@link ClassCounts#balancedWeights()}); null for equal weights
         * @return this
         */
        public Builder optClassWeights(float[] classWeights) {
            weights = classWeights == null ? null : checkWeights(classWeights);
            return this;
        }

        /**
         * @param eps label smoothing in [0, 1): each target moves {@code eps} of its mass to a uniform
         *     distribution over the classes (default 0)
         * @return this
         */
        public Builder optLabelSmoothing(double eps) {
            smoothing = checkSmoothing(eps);
            return this;
        }

        /** @return the loss */
        public CrossEntropy build() {
            return new CrossEntropy(weights == null ? null : weights.clone(), smoothing);
        }
    }

    /** Checks class weights (at least 2, each positive and finite) and copies them. */
    private static float[] checkWeights(float[] classWeights) {
        if (classWeights.length < 2) {
            throw new IllegalArgumentException("Give one weight per class (at least 2 classes), got "
                    + classWeights.length + ".");
        }
        for (int i = 0; i < classWeights.length; i++) {
            if (!(classWeights[i] > 0) || Float.isInfinite(classWeights[i])) {
                throw new IllegalArgumentException("Class weight " + i + " is " + classWeights[i]
                        + ": every class weight must be a positive finite number.");
            }
        }
        return classWeights.clone();
    }

    /** Checks a label smoothing value: in [0, 1). */
    private static double checkSmoothing(double eps) {
        if (!(eps >= 0 && eps < 1)) {
            throw new IllegalArgumentException("Label smoothing must lie in [0, 1) (0 turns it off; 0.1 is usual), got "
                    + eps + ".");
        }
        return eps;
    }

    /** @return the class weights in label order (a copy), or null for equal weights */
    public float[] classWeights() {
        return weights == null ? null : weights.clone();
    }

    /** @return the label smoothing, 0 when off */
    public double labelSmoothing() {
        return smoothing;
    }

    /**
     * The same loss without smoothing: what validation reports, so that validation losses stay
     * comparable between runs with and without smoothing (as timm evaluates with plain cross-entropy).
     *
     * @return this loss with {@code eps = 0}, the class weights kept
     */
    public CrossEntropy withoutSmoothing() {
        return smoothing == 0 ? this : new CrossEntropy(weights, 0);
    }

    @Override
    public NDArray evaluate(NDList labels, NDList predictions) {
        NDArray logits = predictions.singletonOrThrow();
        Shape shape = logits.getShape();
        long classes = shape.get(shape.dimension() - 1);
        if (weights != null && classes != weights.length) {
            throw new IllegalArgumentException(
                    "The model outputs " + classes + " classes but " + weights.length + " class weights were given.");
        }
        NDArray target = labels.head();
        boolean soft = target.getShape().equals(shape) && classes > 1;
        if (!soft && smoothing == 0) {
            return weights == null ? plain(target, logits) : weighted(target, logits);
        }
        NDArray t = soft ? target.toType(DataType.FLOAT32, false)
                : target.reshape(-1).toType(DataType.INT64, false).oneHot((int) classes, DataType.FLOAT32);
        NDArray logProbabilities = logits.logSoftmax(-1);
        NDArray smoothed = smoothing == 0 ? t : t.mul((float) (1 - smoothing)).add((float) (smoothing / classes));
        if (weights == null) {
            return smoothed.mul(logProbabilities).sum(new int[] {-1}).neg().mean();
        }
        NDArray w = onDevice.like(logits);
        NDArray numerator = smoothed.mul(logProbabilities).mul(w).sum().neg();
        return numerator.div(t.mul(w).sum());
    }

    /** Exactly DJL's {@code SoftmaxCrossEntropyLoss} with its defaults (sparse labels, from logits). */
    private static NDArray plain(NDArray labels, NDArray logits) {
        NDArray pred = logits.logSoftmax(-1);
        NDIndex pick = new NDIndex().addAllDim(Math.floorMod(-1, pred.getShape().dimension())).addPickDim(labels);
        return pred.get(pick).neg().mean();
    }

    /** Exactly {@link ClassWeightedCrossEntropy}. */
    private NDArray weighted(NDArray labels, NDArray logits) {
        NDArray oneHot = labels.toType(DataType.INT64, false).oneHot(weights.length, DataType.FLOAT32);
        NDArray logProbabilities = logits.logSoftmax(-1);
        NDArray w = onDevice.like(logits);
        NDArray sampleWeight = oneHot.mul(w).sum(new int[] {-1});
        NDArray sampleLoss = oneHot.mul(logProbabilities).sum(new int[] {-1}).neg();
        return sampleLoss.mul(sampleWeight).sum().div(sampleWeight.sum());
    }

    /** @return the weights and smoothing, e.g. "CrossEntropy(weights=[1.0, 3.0], smoothing=0.1)" */
    public String describe() {
        return String.format(Locale.ROOT, "CrossEntropy(weights=%s, smoothing=%s)",
                weights == null ? "equal" : Arrays.toString(weights), smoothing);
    }

    @Override
    public String toString() {
        return describe();
    }
}
