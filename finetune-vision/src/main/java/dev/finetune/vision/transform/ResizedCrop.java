package dev.finetune.vision.transform;

import ai.djl.modality.cv.util.NDImageUtils;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import ai.djl.translate.Transform;
import dev.finetune.vision.image.Backdrop;
import dev.finetune.vision.image.Framing;
import dev.finetune.vision.image.ResizeMode;

import java.awt.Color;
import java.util.Objects;
import java.util.Random;

/**
 * Crops a random part of an HWC image, with an area fraction drawn from a scale range and an aspect
 * ratio (width / height) drawn log-uniformly from a ratio range, and resizes it to width x height
 * (torchvision's {@code RandomResizedCrop}: ten tries, then a centre crop of the whole image). It
 * draws from its own seeded generator, unlike DJL's, which uses the global {@code RandomUtils}.
 *
 * <p>With {@link ResizeMode#SQUASH} or {@link ResizeMode#PAD} the aspect ratio range is relative to
 * the image's own (1 keeps the image's proportions) and the crop is squashed or letterboxed to the
 * output, so that the training framing matches the evaluation framing of that mode, with the crop
 * as mild augmentation; at scale 1 and ratio 1 it is exactly the evaluation framing.
 */
public final class ResizedCrop implements Transform {

    private static final int TRIES = 10;

    private final int width;
    private final int height;
    private final double minScale;
    private final double maxScale;
    private final double minRatio;
    private final double maxRatio;
    private final ResizeMode mode;
    private final Color background;
    private final Random random;

    /**
     * Creates a random resized crop with its own draws.
     *
     * @param width output width
     * @param height output height
     * @param minScale smallest area fraction, in (0, 1]
     * @param maxScale largest area fraction, in [minScale, 1]
     * @param minRatio smallest aspect ratio, above 0
     * @param maxRatio largest aspect ratio, at least minRatio
     * @param seed seed of the draws
     */
    public ResizedCrop(int width, int height, double minScale, double maxScale, double minRatio, double maxRatio,
                       long seed) {
        this(width, height, minScale, maxScale, minRatio, maxRatio, seed, ResizeMode.CENTER_CROP, Backdrop.DEFAULT);
    }

    /**
     * Creates a random resized crop framed like the evaluation of a resize mode.
     *
     * @param width output width
     * @param height output height
     * @param minScale smallest area fraction, in (0, 1]
     * @param maxScale largest area fraction, in [minScale, 1]
     * @param minRatio smallest aspect ratio, above 0 (relative to the image's for SQUASH and PAD)
     * @param maxRatio largest aspect ratio, at least minRatio
     * @param seed seed of the draws
     * @param mode {@code CENTER_CROP}: the crop is resized to the output; {@code SQUASH}: the same,
     *     ratio relative to the image's; {@code PAD}: the crop is letterboxed, ratio relative
     * @param background the letterbox colour for PAD
     */
    public ResizedCrop(int width, int height, double minScale, double maxScale, double minRatio, double maxRatio,
                       long seed, ResizeMode mode, Color background) {
        if (width < 1 || height < 1) {
            throw new IllegalArgumentException("Crop size must be positive, got " + width + "x" + height);
        }
        checkScale(minScale, maxScale);
        checkRatio(minRatio, maxRatio);
        this.width = width;
        this.height = height;
        this.minScale = minScale;
        this.maxScale = maxScale;
        this.minRatio = minRatio;
        this.maxRatio = maxRatio;
        this.mode = Objects.requireNonNull(mode, "resize mode");
        this.background = Objects.requireNonNull(background, "background colour");
        this.random = new Random(seed);
    }

    static void checkScale(double min, double max) {
        if (!(min > 0 && min <= max && max <= 1)) {
            throw new IllegalArgumentException(
                    "Crop scale range must satisfy 0 < min <= max <= 1, got [" + min + ", " + max + "]");
        }
    }

    static void checkRatio(double min, double max) {
        if (!(min > 0 && min <= max && Double.isFinite(max))) {
            throw new IllegalArgumentException(
                    "Crop aspect ratio range must satisfy 0 < min <= max, got [" + min + ", " + max + "]");
        }
    }

    /** {@inheritDoc} */
    @Override
    public NDArray transform(NDArray array) {
        Shape shape = Hwc.check(array, "ResizedCrop");
        int[] box = box((int) shape.get(1), (int) shape.get(0));
        try (NDArray crop = NDImageUtils.crop(array, box[0], box[1], box[2], box[3])) {
            return Framing.fit(crop, mode, width, height, background);
        }
    }

    /**
     * Draws a crop box.
     *
     * @param w image width
     * @param h image height
     * @return x, y, width, height
     */
    int[] box(int w, int h) {
        double area = (double) w * h;
        double imageRatio = (double) w / h;
        double relative = mode == ResizeMode.CENTER_CROP ? 1 : imageRatio;
        double lowRatio = minRatio * relative;
        double highRatio = maxRatio * relative;
        double logMin = Math.log(lowRatio);
        double logMax = Math.log(highRatio);
        for (int t = 0; t < TRIES; t++) {
            double target = area * (minScale + (maxScale - minScale) * random.nextDouble());
            double ratio = Math.exp(logMin + (logMax - logMin) * random.nextDouble());
            int cw = (int) Math.round(Math.sqrt(target * ratio));
            int ch = (int) Math.round(Math.sqrt(target / ratio));
            if (cw > 0 && ch > 0 && cw <= w && ch <= h) {
                int x = random.nextInt(w - cw + 1);
                int y = random.nextInt(h - ch + 1);
                return new int[] {x, y, cw, ch};
            }
        }
        // fallback: the largest centred box whose ratio is within range
        int cw = w;
        int ch = h;
        if (imageRatio < lowRatio) {
            ch = Math.max(1, Math.min(h, (int) Math.round(w / lowRatio)));
        } else if (imageRatio > highRatio) {
            cw = Math.max(1, Math.min(w, (int) Math.round(h * highRatio)));
        }
        return new int[] {(w - cw) / 2, (h - ch) / 2, cw, ch};
    }

    @Override
    public String toString() {
        return "ResizedCrop(" + mode + " " + width + "x" + height + ", scale=[" + minScale + ", " + maxScale + "], ratio=["
                + minRatio + ", " + maxRatio + "])";
    }
}
