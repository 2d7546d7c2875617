package dev.finetune.vision.export;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import dev.finetune.vision.bottleneck.FeatureScaling;

/**
 * The {@link FeatureScaling#SQRT_L2} scaling as a parameterless block, (N, d) to (N, d): the
 * signed square root of each value, then each row to unit length, exactly as
 * {@link FeatureScaling#sqrtL2} computes it in Java (its slope at 0 stays finite, so a network can
 * be fine-tuned through it).
 */
final class SqrtL2Block extends AbstractBlock {

    private static final byte VERSION = 1;
    /** Name in an export's block layout. */
    static final String LAYOUT = "sqrt-l2";

    SqrtL2Block() {
        super(VERSION);
    }

    @Override
    protected NDList forwardInternal(ParameterStore store, NDList inputs, boolean training, PairList<String, Object> params) {
        NDArray x = inputs.singletonOrThrow();
        NDArray s = x.abs().add(FeatureScaling.EPSILON).sqrt().sub(Math.sqrt(FeatureScaling.EPSILON)).mul(x.sign());
        NDArray norm = s.square().sum(new int[] {1}, true).sqrt().maximum(1e-30f);
        return new NDList(s.div(norm));
    }

    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return inputShapes;
    }

    @Override
    public String toString() {
        return "SqrtL2()";
    }
}
