package dev.finetune.vision.transform;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import ai.djl.translate.Transform;

/**
 * Turns a three-channel HWC image into one luma channel (0.299 R + 0.587 G + 0.114 B, FLOAT32); a
 * one-channel image passes unchanged, so photos can feed a grey network.
 */
public final class RgbToGrey implements Transform {

    /** {@inheritDoc} */
    @Override
    public NDArray transform(NDArray array) {
        Shape s = Hwc.check(array, "RgbToGrey");
        if (s.get(2) == 1) {
            return array;
        }
        float[] x = Hwc.floats(array);
        float[] g = new float[x.length / 3];
        for (int p = 0; p < g.length; p++) {
            g[p] = (float) (0.299 * x[3 * p] + 0.587 * x[3 * p + 1] + 0.114 * x[3 * p + 2]);
        }
        return Hwc.create(array, g, new Shape(s.get(0), s.get(1), 1));
    }

    @Override
    public String toString() {
        return "RgbToGrey";
    }
}
