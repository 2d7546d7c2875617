package dev.finetune.vision.transform;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import ai.djl.translate.Transform;

/**
 * Turns a one-channel HWC image into three identical channels; a three-channel image passes
 * unchanged, so colour and grey photos can share a pipeline for an RGB network.
 */
public final class GreyToRgb implements Transform {

    /** {@inheritDoc} */
    @Override
    public NDArray transform(NDArray array) {
        Shape s = Hwc.check(array, "GreyToRgb");
        return s.get(2) == 3 ? array : array.repeat(2, 3);
    }

    @Override
    public String toString() {
        return "GreyToRgb";
    }
}
