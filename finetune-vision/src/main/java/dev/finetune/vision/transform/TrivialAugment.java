package dev.finetune.vision.transform;

import ai.djl.ndarray.NDArray;
import ai.djl.translate.Transform;

import java.util.Random;

/**
 * torchvision's {@code TrivialAugmentWide} (Müller and Hutter, 2021) on an HWC image on the 0-255
 * scale, drawing from its own seeded generator: each image gets one {@link AugmentOp}, drawn
 * uniformly from all fourteen, with a magnitude drawn uniformly from 31 steps of its wide range and,
 * for a signed operation, a random sign:
 *
 * <table>
 * <caption>Magnitude ranges (step k of 0..30)</caption>
 * <tr><th>operation</th><th>magnitude</th></tr>
 * <tr><td>identity, autocontrast, equalize</td><td>none</td></tr>
 * <tr><td>shear x, shear y</td><td>&plusmn;0.99 k / 30</td></tr>
 * <tr><td>translate x, translate y</td><td>&plusmn;32 k / 30 pixels (whole pixels, towards 0)</td></tr>
 * <tr><td>rotate</td><td>&plusmn;135 k / 30 degrees</td></tr>
 * <tr><td>brightness, color, contrast, sharpness</td><td>factor 1 &plusmn; 0.99 k / 30</td></tr>
 * <tr><td>posterize</td><td>8 - round(k / 5) bits (8 to 2)</td></tr>
 * <tr><td>solarize</td><td>threshold 255 - 8.5 k</td></tr>
 * </table>
 *
 * <p>It has no parameter to tune; the result is FLOAT32. Three draws per image (operation, step,
 * sign), whatever is drawn, so the sequence of draws depends only on how many images passed.
 */
public final class TrivialAugment implements Transform {

    /** The number of magnitude steps (torchvision's {@code num_magnitude_bins}). */
    public static final int BINS = 31;

    private final float fill;
    private final Random random;

    /**
     * Creates the policy with its own draws.
     *
     * @param fill the value of pixels that geometric operations bring in from outside the image
     *     (0, black, as torchvision)
     * @param seed seed of the draws
     */
    public TrivialAugment(float fill, long seed) {
        this.fill = fill;
        this.random = new Random(seed);
    }

    /**
     * The magnitude of step {@code k} of an operation's wide range, before the sign.
     *
     * @param op the operation
     * @param k the step, 0 to {@link #BINS} - 1
     * @return the magnitude
     */
    public static double magnitude(AugmentOp op, int k) {
        if (k < 0 || k >= BINS) {
            throw new IllegalArgumentException("The magnitude step must be in [0, " + (BINS - 1) + "], got " + k);
        }
        double t = k / (double) (BINS - 1);
        switch (op) {
            case SHEAR_X:
            case SHEAR_Y:
            case BRIGHTNESS:
            case COLOR:
            case CONTRAST:
            case SHARPNESS:
                return 0.99 * t;
            case TRANSLATE_X:
            case TRANSLATE_Y:
                return 32 * t;
            case ROTATE:
                return 135 * t;
            case POSTERIZE:
                return 8 - Math.round(k / ((BINS - 1) / 6.0));
            case SOLARIZE:
                return 255 - 255 * t;
            default:
                return 0;
        }
    }

    /** {@inheritDoc} */
    @Override
    public NDArray transform(NDArray array) {
        Hwc.check(array, "TrivialAugment");
        Draw d = next();
        return d.op().apply(array, d.magnitude(), fill);
    }

    /** One draw: the operation, the magnitude step (0 to 30) and the signed magnitude. */
    record Draw(AugmentOp op, int step, double magnitude) {}

    /** Draws the next image's operation and magnitude (three draws, whatever is drawn). */
    Draw next() {
        AugmentOp[] ops = AugmentOp.values();
        AugmentOp op = ops[random.nextInt(ops.length)];
        int k = random.nextInt(BINS);
        boolean negative = random.nextBoolean();
        double m = magnitude(op, k);
        return new Draw(op, k, op.signed() && negative ? -m : m);
    }

    @Override
    public String toString() {
        return "TrivialAugmentWide(fill=" + fill + ")";
    }
}
