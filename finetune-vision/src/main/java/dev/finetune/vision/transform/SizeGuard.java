package dev.finetune.vision.transform;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import ai.djl.translate.Transform;

/** Fails on an image smaller than the network input when upscaling is not allowed. */
final class SizeGuard implements Transform {

    private final int width;
    private final int height;
    private final String step;

    SizeGuard(int width, int height, String step) {
        this.width = width;
        this.height = height;
        this.step = step;
    }

    @Override
    public NDArray transform(NDArray array) {
        Shape s = Hwc.check(array, step);
        long h = s.get(0);
        long w = s.get(1);
        if (w < width || h < height) {
            throw new IllegalArgumentException(step + " " + width + "x" + height + " is larger than the " + w + "x" + h
                    + " image; resize first or optAllowUpscale(true)");
        }
        return array;
    }

    @Override
    public String toString() {
        return "SizeGuard(" + step + " " + width + "x" + height + ")";
    }
}
