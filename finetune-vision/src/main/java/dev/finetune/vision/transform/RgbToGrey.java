package dev.finetune.vision.transform;

import ai.djl.ndarray.NDArray;
import ai.djl.translate.Transform;
import dev.finetune.vision.image.Channels;

/**
 * Turns a three-channel HWC image into one luma channel (0.299 R + 0.587 G + 0.114 B, FLOAT32); a
 * one-channel image passes unchanged, so photos can feed a grey network.
 */
public final class RgbToGrey implements Transform {

    private static final Channels STEP = new Channels(1);

    /** {@inheritDoc} */
    @Override
    public NDArray transform(NDArray array) {
        return STEP.transform(array);
    }

    @Override
    public String toString() {
        return "RgbToGrey";
    }
}
