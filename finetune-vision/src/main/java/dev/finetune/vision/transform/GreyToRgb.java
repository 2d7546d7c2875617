package dev.finetune.vision.transform;

import ai.djl.ndarray.NDArray;
import ai.djl.translate.Transform;
import dev.finetune.vision.image.Channels;

/**
 * Turns a one-channel HWC image into three identical channels; a three-channel image passes
 * unchanged, so colour and grey photos can share a pipeline for an RGB network.
 */
public final class GreyToRgb implements Transform {

    private static final Channels STEP = new Channels(3);

    /** {@inheritDoc} */
    @Override
    public NDArray transform(NDArray array) {
        return STEP.transform(array);
    }

    @Override
    public String toString() {
        return "GreyToRgb";
    }
}
