package dev.finetune.vision.transform;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import ai.djl.translate.Transform;

import java.util.Random;

/**
 * torchvision's {@code RandAugment} (Cubuk et al., 2020) on an HWC image on the 0-255 scale,
 * drawing from its own seeded generator: each image gets {@code n} {@link AugmentOp}s in turn, each
 * drawn uniformly from all fourteen, all at the same magnitude step {@code m} of 31 (a random sign
 * per signed operation):
 *
 * <table>
 * <caption>Magnitude at step m of 0..30</caption>
 * <tr><th>operation</th><th>magnitude</th></tr>
 * <tr><td>identity, autocontrast, equalize</td><td>none</td></tr>
 * <tr><td>shear x, shear y</td><td>&plusmn;0.3 m / 30</td></tr>
 * <tr><td>translate x (y)</td><td>&plusmn;(150 / 331) width (height) m / 30 pixels (whole pixels, towards 0)</td></tr>
 * <tr><td>rotate</td><td>&plusmn;30 m / 30 degrees</td></tr>
 * <tr><td>brightness, color, contrast, sharpness</td><td>factor 1 &plusmn; 0.9 m / 30</td></tr>
 * <tr><td>posterize</td><td>8 - round(m / 7.5) bits (8 to 4)</td></tr>
 * <tr><td>solarize</td><td>threshold 255 - 8.5 m</td></tr>
 * </table>
 *
 * <p>The result is FLOAT32. Two draws per operation (operation, sign), {@code 2 n} per image.
 */
public final class RandAugment implements Transform {

    private final int ops;
    private final int magnitude;
    private final float fill;
    private final Random random;

    /**
     * Creates the policy with its own draws.
     *
     * @param ops operations per image, at least 1 (torchvision's default 2)
     * @param magnitude the step of every operation's range, 0 to 30 (torchvision's default 9)
     * @param fill the value of pixels that geometric operations bring in from outside the image
     * @param seed seed of the draws
     */
    public RandAugment(int ops, int magnitude, float fill, long seed) {
        check(ops, magnitude);
        this.ops = ops;
        this.magnitude = magnitude;
        this.fill = fill;
        this.random = new Random(seed);
    }

    static void check(int ops, int magnitude) {
        if (ops < 1) {
            throw new IllegalArgumentException("RandAugment takes at least 1 operation per image, got " + ops);
        }
        if (magnitude < 0 || magnitude >= TrivialAugment.BINS) {
            throw new IllegalArgumentException(
                    "RandAugment magnitude must be in [0, " + (TrivialAugment.BINS - 1) + "], got " + magnitude);
        }
    }

    /**
     * The magnitude of step {@code m} of an operation's range for a width x height image, before the sign.
     *
     * @param op the operation
     * @param m the step, 0 to 30
     * @param width image width (for translate x)
     * @param height image height (for translate y)
     * @return the magnitude
     */
    public static double magnitude(AugmentOp op, int m, int width, int height) {
        check(1, m);
        double t = m / (double) (TrivialAugment.BINS - 1);
        switch (op) {
            case SHEAR_X:
            case SHEAR_Y:
                return 0.3 * t;
            case TRANSLATE_X:
                return 150.0 / 331.0 * width * t;
            case TRANSLATE_Y:
                return 150.0 / 331.0 * height * t;
            case ROTATE:
                return 30 * t;
            case BRIGHTNESS:
            case COLOR:
            case CONTRAST:
            case SHARPNESS:
                return 0.9 * t;
            case POSTERIZE:
                return 8 - Math.round(m / ((TrivialAugment.BINS - 1) / 4.0));
            case SOLARIZE:
                return 255 - 255 * t;
            default:
                return 0;
        }
    }

    /** {@inheritDoc} */
    @Override
    public NDArray transform(NDArray array) {
        Shape shape = Hwc.check(array, "RandAugment");
        int h = (int) shape.get(0);
        int w = (int) shape.get(1);
        int c = (int) shape.get(2);
        AugmentOp[] all = AugmentOp.values();
        float[] x = Hwc.floats(array);
        for (int i = 0; i < ops; i++) {
            AugmentOp op = all[random.nextInt(all.length)];
            boolean negative = random.nextBoolean();
            double m = magnitude(op, magnitude, w, h);
            x = op.apply(x, h, w, c, op.signed() && negative ? -m : m, fill);
        }
        return Hwc.create(array, x, shape);
    }

    @Override
    public String toString() {
        return "RandAugment(ops=" + ops + ", magnitude=" + magnitude + ", fill=" + fill + ")";
    }
}
