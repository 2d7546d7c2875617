package dev.finetune.vision.transform;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import ai.djl.translate.Transform;
import dev.finetune.vision.image.ResizeMode;

/** Fails on an image that framing would enlarge when upscaling is not allowed. */
final class SizeGuard implements Transform {

    private final ResizeMode mode;
    private final int width;
    private final int height;
    private final String step;

    SizeGuard(ResizeMode mode, int width, int height, String step) {
        this.mode = mode;
        this.width = width;
        this.height = height;
        this.step = step;
    }

    /**
     * Whether a w x h image reaches width x height without being enlarged: both sides at least the
     * input's for a crop or squash, one side for a letterbox (which fits the long side).
     */
    static boolean fits(ResizeMode mode, long w, long h, int width, int height) {
        return mode == ResizeMode.PAD ? w >= width || h >= height : w >= width && h >= height;
    }

    /** The message for an image that does not fit. */
    static String tooSmall(ResizeMode mode, String step, long w, long h, int width, int height) {
        return step + " " + width + "x" + height + (mode == ResizeMode.PAD ? " would enlarge the " : " is larger than the ")
                + w + "x" + h + " image; resize first or optAllowUpscale(true)";
    }

    @Override
    public NDArray transform(NDArray array) {
        Shape s = Hwc.check(array, step);
        long h = s.get(0);
        long w = s.get(1);
        if (!fits(mode, w, h, width, height)) {
            throw new IllegalArgumentException(tooSmall(mode, step, w, h, width, height));
        }
        return array;
    }

    @Override
    public String toString() {
        return "SizeGuard(" + step + " " + width + "x" + height + ")";
    }
}
