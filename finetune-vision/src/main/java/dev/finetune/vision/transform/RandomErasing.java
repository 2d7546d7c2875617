package dev.finetune.vision.transform;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import ai.djl.translate.Transform;

import java.util.Locale;
import java.util.Random;

/**
 * timm's {@code RandomErasing} (Zhong et al., 2020) on a CHW tensor, normally the normalised one
 * (as timm applies it, after {@code Normalize}): with probability p, one rectangle of the image is
 * replaced, its area a fraction of the image drawn uniformly from [minArea, maxArea] (default
 * [0.02, 1/3]) and its aspect ratio, height / width as in timm, drawn log-uniformly from
 * [minAspect, maxAspect] (default [0.3, 1 / 0.3]); ten tries to fit it strictly inside the image,
 * then the image is left alone. It draws from its own seeded generator.
 *
 * <p>What the rectangle is filled with is the {@link Mode}: {@link Mode#PIXEL} (the default here,
 * as timm's training script's {@code --remode pixel} and the DeiT recipe) draws a standard normal
 * value per pixel and channel, which on a normalised tensor is noise of the data's own spread;
 * {@link Mode#RAND} one normal value per channel; {@link Mode#CONST} (timm's class default) zeros,
 * which on a normalised tensor is the normalisation mean's colour.
 */
public final class RandomErasing implements Transform {

    /** What an erased rectangle is filled with. */
    public enum Mode {
        /** Zeros: on a normalised tensor, the mean colour (timm's {@code const}). */
        CONST,
        /** One standard normal value per channel (timm's {@code rand}). */
        RAND,
        /** A standard normal value per pixel and channel (timm's {@code pixel}). */
        PIXEL
    }

    /** timm's default smallest area fraction. */
    public static final double MIN_AREA = 0.02;
    /** timm's default largest area fraction. */
    public static final double MAX_AREA = 1.0 / 3.0;
    /** timm's default smallest aspect ratio (height / width); the largest is its inverse. */
    public static final double MIN_ASPECT = 0.3;

    private static final int TRIES = 10;

    private final double probability;
    private final double minArea;
    private final double maxArea;
    private final double logMinAspect;
    private final double logMaxAspect;
    private final Mode mode;
    private final Random random;

    /**
     * Random erasing with timm's area and aspect ranges.
     *
     * @param probability chance an image is erased, in [0, 1]
     * @param mode what the rectangle is filled with
     * @param seed seed of the draws
     */
    public RandomErasing(double probability, Mode mode, long seed) {
        this(probability, MIN_AREA, MAX_AREA, MIN_ASPECT, 1 / MIN_ASPECT, mode, seed);
    }

    /**
     * Random erasing with chosen ranges.
     *
     * @param probability chance an image is erased, in [0, 1]
     * @param minArea smallest area fraction, in (0, 1]
     * @param maxArea largest area fraction, in [minArea, 1]
     * @param minAspect smallest aspect ratio (height / width), above 0
     * @param maxAspect largest aspect ratio, at least minAspect
     * @param mode what the rectangle is filled with
     * @param seed seed of the draws
     */
    public RandomErasing(double probability, double minArea, double maxArea, double minAspect, double maxAspect,
            Mode mode, long seed) {
        if (!(probability >= 0 && probability <= 1)) {
            throw new IllegalArgumentException("Random erasing probability must be in [0, 1], got " + probability);
        }
        if (!(minArea > 0 && minArea <= maxArea && maxArea <= 1)) {
            throw new IllegalArgumentException("Random erasing area range must satisfy 0 < min <= max <= 1, got ["
                    + minArea + ", " + maxArea + "]");
        }
        if (!(minAspect > 0 && minAspect <= maxAspect && Double.isFinite(maxAspect))) {
            throw new IllegalArgumentException("Random erasing aspect range must satisfy 0 < min <= max, got ["
                    + minAspect + ", " + maxAspect + "]");
        }
        if (mode == null) {
            throw new IllegalArgumentException("Random erasing needs a fill mode: CONST, RAND or PIXEL");
        }
        this.probability = probability;
        this.minArea = minArea;
        this.maxArea = maxArea;
        this.logMinAspect = Math.log(minAspect);
        this.logMaxAspect = Math.log(maxAspect);
        this.mode = mode;
        this.random = new Random(seed);
    }

    /** {@inheritDoc} */
    @Override
    public NDArray transform(NDArray array) {
        Shape s = array.getShape();
        if (s.dimension() != 3 || (s.get(0) != 1 && s.get(0) != 3) || s.get(1) < 1 || s.get(2) < 1) {
            throw new IllegalArgumentException(
                    "RandomErasing takes a CHW tensor with 1 or 3 channels (after ToTensor), got shape " + s);
        }
        int c = (int) s.get(0);
        int h = (int) s.get(1);
        int w = (int) s.get(2);
        int[] box = box(h, w);
        if (box == null) {
            return array;
        }
        float[] x = Hwc.floats(array);
        int top = box[0];
        int left = box[1];
        int eh = box[2];
        int ew = box[3];
        for (int k = 0; k < c; k++) {
            float channel = mode == Mode.RAND ? (float) random.nextGaussian() : 0;
            for (int j = top; j < top + eh; j++) {
                int row = (k * h + j) * w;
                for (int i = left; i < left + ew; i++) {
                    x[row + i] = mode == Mode.PIXEL ? (float) random.nextGaussian() : channel;
                }
            }
        }
        return array.getManager().create(x, s);
    }

    /**
     * Draws whether and where to erase, as timm does.
     *
     * @param h image height
     * @param w image width
     * @return top, left, height, width of the rectangle, or null to leave the image alone
     */
    int[] box(int h, int w) {
        if (random.nextDouble() >= probability) {
            return null;
        }
        double area = (double) h * w;
        for (int t = 0; t < TRIES; t++) {
            double target = area * (minArea + (maxArea - minArea) * random.nextDouble());
            double aspect = Math.exp(logMinAspect + (logMaxAspect - logMinAspect) * random.nextDouble());
            int eh = (int) Math.round(Math.sqrt(target * aspect));
            int ew = (int) Math.round(Math.sqrt(target / aspect));
            if (ew < w && eh < h) {
                int top = random.nextInt(h - eh + 1);
                int left = random.nextInt(w - ew + 1);
                return new int[] {top, left, eh, ew};
            }
        }
        return null;
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "RandomErasing(p=%s, area=[%s, %s], aspect=[%s, %s], %s)", probability,
                minArea, maxArea, Math.exp(logMinAspect), Math.exp(logMaxAspect), mode);
    }
}
