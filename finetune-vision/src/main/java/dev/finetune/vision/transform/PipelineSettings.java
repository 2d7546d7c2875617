package dev.finetune.vision.transform;

import dev.finetune.vision.image.Backdrop;
import dev.finetune.vision.image.ResizeMode;

import java.awt.Color;
import java.util.Arrays;
import java.util.Objects;

/**
 * The settings of {@link ImagePipeline.Builder}, checked as they are given (a separate file to keep
 * the description short; users see the methods on {@code ImagePipeline.Builder}).
 *
 * @param <B> the builder type returned by each setter
 */
abstract class PipelineSettings<B extends PipelineSettings<B>> {

    int size;
    int evalResize;
    double minScale = 0.08;
    double maxScale = 1.0;
    double minRatio = 3.0 / 4.0;
    double maxRatio = 4.0 / 3.0;
    boolean flip = true;
    double rotation = 10;
    float rotationFill;
    float brightness = 0.4f;
    float contrast = 0.4f;
    float saturation = 0.4f;
    float hue;
    boolean grey;
    boolean allowUpscale;
    ResizeMode resizeMode = ResizeMode.CENTER_CROP;
    Color background = Backdrop.DEFAULT;
    boolean normalizationSet;
    float[] mean;
    float[] std;
    long seed;
    boolean trivialAugment;
    int randAugmentOps;
    int randAugmentMagnitude = 9;
    double erasing;
    RandomErasing.Mode erasingMode = RandomErasing.Mode.PIXEL;

    /**
     * @param size the network input side (required)
     * @return this builder
     */
    public B setSize(int size) {
        if (size < 1) {
            throw new IllegalArgumentException("setSize(size) must be at least 1, got " + size);
        }
        this.size = size;
        return self();
    }

    /**
     * @param shortSide the short side before the evaluation centre crop, at least the size
     *     (default {@code round(size * 256 / 224)}); used by {@code ResizeMode.CENTER_CROP} only
     * @return this builder
     */
    public B optEvalResize(int shortSide) {
        if (shortSide < 1) {
            throw new IllegalArgumentException("optEvalResize(shortSide) must be at least 1, got " + shortSide);
        }
        this.evalResize = shortSide;
        return self();
    }

    /**
     * @param min smallest crop area fraction (default 0.08)
     * @param max largest crop area fraction (default 1)
     * @return this builder
     */
    public B optScale(double min, double max) {
        if (!(min > 0 && min <= max && max <= 1)) {
            throw new IllegalArgumentException(
                    "optScale(min, max) must satisfy 0 < min <= max <= 1, got (" + min + ", " + max + ")");
        }
        minScale = min;
        maxScale = max;
        return self();
    }

    /**
     * @param min smallest crop aspect ratio, width / height (default 3/4)
     * @param max largest crop aspect ratio (default 4/3)
     * @return this builder
     */
    public B optRatio(double min, double max) {
        if (!(min > 0 && min <= max && Double.isFinite(max))) {
            throw new IllegalArgumentException(
                    "optRatio(min, max) must satisfy 0 < min <= max, got (" + min + ", " + max + ")");
        }
        minRatio = min;
        maxRatio = max;
        return self();
    }

    /**
     * @param flip whether training flips half the images left to right (default true)
     * @return this builder
     */
    public B optFlip(boolean flip) {
        this.flip = flip;
        return self();
    }

    /**
     * @param degrees largest training rotation either way, in [0, 180]; 0 turns it off (default 10)
     * @return this builder
     */
    public B optRotation(double degrees) {
        if (!(degrees >= 0 && degrees <= 180)) {
            throw new IllegalArgumentException("optRotation(degrees) must be in [0, 180], got " + degrees);
        }
        rotation = degrees;
        return self();
    }

    /**
     * @param fill value on the 0-255 scale of the corners a rotation uncovers (default 0, black)
     * @return this builder
     */
    public B optRotationFill(float fill) {
        if (!(fill >= 0 && fill <= 255)) {
            throw new IllegalArgumentException("optRotationFill(fill) must be in [0, 255], got " + fill);
        }
        rotationFill = fill;
        return self();
    }

    /**
     * @param brightness brightness strength, at least 0 (default 0.4)
     * @param contrast contrast strength, at least 0 (default 0.4)
     * @param saturation saturation strength, at least 0 (default 0.4)
     * @param hue hue strength in [0, 0.5] (default 0); all 0 turns jitter off
     * @return this builder
     */
    public B optColorJitter(float brightness, float contrast, float saturation, float hue) {
        float[] v = {brightness, contrast, saturation};
        String[] names = {"brightness", "contrast", "saturation"};
        for (int i = 0; i < 3; i++) {
            if (!(v[i] >= 0 && Float.isFinite(v[i]))) {
                throw new IllegalArgumentException(
                        "optColorJitter " + names[i] + " must be at least 0, got " + v[i]);
            }
        }
        if (!(hue >= 0 && hue <= 0.5f)) {
            throw new IllegalArgumentException("optColorJitter hue must be in [0, 0.5], got " + hue);
        }
        this.brightness = brightness;
        this.contrast = contrast;
        this.saturation = saturation;
        this.hue = hue;
        return self();
    }

    /**
     * @param grey true for networks taking one grey channel (e.g. Fashion-MNIST ones): colour
     *     images become grey and, unless set, no normalisation is applied (default false: three
     *     channels, grey images repeated)
     * @return this builder
     */
    public B optGrey(boolean grey) {
        this.grey = grey;
        return self();
    }

    /**
     * @param allowUpscale whether images smaller than size x size may be enlarged; when false
     *     (default) they fail with a message naming both sizes
     * @return this builder
     */
    public B optAllowUpscale(boolean allowUpscale) {
        this.allowUpscale = allowUpscale;
        return self();
    }

    /**
     * @param mode how every image becomes size x size: {@code CENTER_CROP} (default), {@code SQUASH}
     *     or {@code PAD}; used alike by training, evaluation and the exported model
     * @return this builder
     */
    public B optResizeMode(ResizeMode mode) {
        resizeMode = Objects.requireNonNull(mode, "optResizeMode(mode): give CENTER_CROP, SQUASH or PAD");
        return self();
    }

    /**
     * @param colour the colour transparent pixels are composited over (PNG with alpha, grey with
     *     alpha, palette with tRNS) and of the letterbox bars of {@code PAD}; default white
     *     ({@link Backdrop#DEFAULT}), the usual choice for clip art; its alpha is ignored
     * @return this builder
     */
    public B optBackground(Color colour) {
        Objects.requireNonNull(colour, "optBackground(colour): give a colour, e.g. java.awt.Color.WHITE");
        background = new Color(colour.getRGB() & 0xffffff);
        return self();
    }

    /**
     * @param mean channel means on the [0, 1] scale (3 for colour, 1 for grey), or null for none
     * @param std channel standard deviations, all above 0, or null for none (default ImageNet's
     *     for colour, none for grey)
     * @return this builder
     */
    public B optNormalization(float[] mean, float[] std) {
        if ((mean == null) != (std == null) || (mean != null && mean.length != std.length)) {
            throw new IllegalArgumentException("optNormalization(mean, std) takes as many means as standard "
                    + "deviations, or null for both");
        }
        if (std != null) {
            for (float s : std) {
                if (!(s > 0 && Float.isFinite(s))) {
                    throw new IllegalArgumentException(
                            "optNormalization std must be above 0, got " + Arrays.toString(std));
                }
            }
        }
        normalizationSet = true;
        this.mean = mean == null ? null : mean.clone();
        this.std = std == null ? null : std.clone();
        return self();
    }

    /**
     * @param seed seed of {@link ImagePipeline#training()} (default 0)
     * @return this builder
     */
    public B optSeed(long seed) {
        this.seed = seed;
        return self();
    }

    /**
     * @param on whether training applies torchvision's {@code TrivialAugmentWide} after the crop,
     *     flip, rotation and jitter: one operation per image, drawn from fourteen, at a random
     *     strength of its wide range ({@link TrivialAugment}); default false. It is usually given
     *     alone: {@code optRotation(0)} and {@code optColorJitter(0, 0, 0, 0)} give torchvision's
     *     recipe (crop, flip, TrivialAugment, normalise, random erasing). Geometric operations fill
     *     with {@link #optRotationFill}
     * @return this builder
     */
    public B optTrivialAugment(boolean on) {
        trivialAugment = on;
        return self();
    }

    /**
     * @param ops operations per image (torchvision's default 2); 0 turns RandAugment off (default)
     * @param magnitude the strength of every operation, a step of 0 to 30 of its range
     *     (torchvision's default 9); see {@link RandAugment}. An alternative to
     *     {@link #optTrivialAugment}, applied at the same place
     * @return this builder
     */
    public B optRandAugment(int ops, int magnitude) {
        if (ops != 0) {
            RandAugment.check(ops, magnitude);
        } else if (magnitude < 0 || magnitude > 30) {
            throw new IllegalArgumentException("optRandAugment magnitude must be in [0, 30], got " + magnitude);
        }
        randAugmentOps = ops;
        randAugmentMagnitude = magnitude;
        return self();
    }

    /**
     * @param probability chance that training erases a rectangle of an image, in [0, 1]; 0 turns
     *     it off (default). timm's random erasing ({@link RandomErasing}): area 2% to 1/3 of the
     *     image, aspect ratio 0.3 to 3.3, applied to the normalised tensor and filled with standard
     *     normal noise per pixel ({@code RandomErasing.Mode.PIXEL}); 0.25 is timm's and DeiT's usual
     *     value
     * @return this builder
     */
    public B optRandomErasing(double probability) {
        return optRandomErasing(probability, RandomErasing.Mode.PIXEL);
    }

    /**
     * @param probability chance that training erases a rectangle of an image, in [0, 1]; 0 turns it off
     * @param mode what the rectangle is filled with: {@code PIXEL} (default: noise per pixel),
     *     {@code RAND} (a random colour) or {@code CONST} (zeros, the mean colour once normalised)
     * @return this builder
     */
    public B optRandomErasing(double probability, RandomErasing.Mode mode) {
        if (!(probability >= 0 && probability <= 1)) {
            throw new IllegalArgumentException("optRandomErasing(probability) must be in [0, 1], got " + probability);
        }
        erasingMode = Objects.requireNonNull(mode, "optRandomErasing mode: give CONST, RAND or PIXEL");
        erasing = probability;
        return self();
    }

    abstract B self();
}
