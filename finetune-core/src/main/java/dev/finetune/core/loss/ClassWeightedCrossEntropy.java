package dev.finetune.core.loss;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.DataType;
import ai.djl.training.loss.Loss;

import java.util.Arrays;

/**
 * Softmax cross-entropy with a weight per class, reduced as PyTorch's {@code CrossEntropyLoss(weight)}
 * reduces it: {@code sum_i w[y_i] * -log p_i(y_i) / sum_i w[y_i]}. With equal weights it equals the
 * plain loss; with {@link ClassCounts#balancedWeights()} rare classes count as much as common ones.
 *
 * <p>{@link CrossEntropy} computes the same value and also takes soft targets and label smoothing;
 * {@code FineTuner.optClassWeights} uses it.
 */
public final class ClassWeightedCrossEntropy extends Loss {

    private final float[] weights;
    private final DeviceWeights onDevice;

    /**
     * @param classWeights one positive weight per class, in label order
     */
    public ClassWeightedCrossEntropy(float[] classWeights) {
        super("ClassWeightedCrossEntropy");
        if (classWeights == null || classWeights.length < 2) {
            throw new IllegalArgumentException("Give one weight per class (at least 2 classes).");
        }
        for (int i = 0; i < classWeights.length; i++) {
            if (!(classWeights[i] > 0) || Float.isInfinite(classWeights[i])) {
                throw new IllegalArgumentException(
                        "Class weight " + i + " is " + classWeights[i] + ": every class weight must be a positive"
                                + " finite number.");
            }
        }
        this.weights = classWeights.clone();
        this.onDevice = new DeviceWeights(weights);
    }

    /** @return the class weights, in label order */
    public float[] weights() {
        return weights.clone();
    }

    @Override
    public NDArray evaluate(NDList labels, NDList predictions) {
        NDArray logits = predictions.singletonOrThrow();
        long classes = logits.getShape().get(logits.getShape().dimension() - 1);
        if (classes != weights.length) {
            throw new IllegalArgumentException(
                    "The model outputs " + classes + " classes but " + weights.length + " class weights were given.");
        }
        NDArray oneHot = labels.head().toType(DataType.INT64, false).oneHot(weights.length, DataType.FLOAT32);
        NDArray logProbabilities = logits.logSoftmax(-1);
        NDArray w = onDevice.like(logits);
        NDArray sampleWeight = oneHot.mul(w).sum(new int[] {-1});
        NDArray sampleLoss = oneHot.mul(logProbabilities).sum(new int[] {-1}).neg();
        return sampleLoss.mul(sampleWeight).sum().div(sampleWeight.sum());
    }

    @Override
    public String toString() {
        return "ClassWeightedCrossEntropy" + Arrays.toString(weights);
    }
}
