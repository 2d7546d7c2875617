package dev.finetune.vision.transform;

import ai.djl.modality.cv.transform.CenterCrop;
import ai.djl.modality.cv.transform.Normalize;
import ai.djl.modality.cv.transform.ResizeShort;
import ai.djl.modality.cv.transform.ToTensor;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.translate.Pipeline;
import ai.djl.translate.Transform;
import dev.finetune.vision.export.ClassifierExport;

import java.util.Arrays;
import java.util.Random;

/**
 * An immutable description of image preprocessing from which a seeded, augmenting training
 * pipeline and a deterministic evaluation pipeline are derived; both take an HWC image (uint8 or
 * float on the 0-255 scale) and end with a CHW FLOAT32 tensor, normalised if a mean and std are set.
 *
 * <p>Training: channels, random resized crop, optional horizontal flip, rotation and colour jitter,
 * to tensor, normalise. Evaluation: channels, resize the short side to {@link #evalResize()} (by
 * default {@code round(size * 256 / 224)}), centre crop, to tensor, normalise. Each random step owns
 * a {@link Random} seeded from the pipeline seed, never DJL's global {@code RandomUtils}, so the same
 * seed gives the same augmentations as long as images pass through the pipeline in the same order
 * (DJL datasets without a prefetching executor); one pipeline's draws advance with each image.
 * With loader threads ({@code FineTuner.optDataLoaderThreads}, a prefetching executor) images are
 * transformed concurrently and take the draws in the order they reach them, so a draw may go to
 * another image and runs need not repeat; the evaluation pipeline draws nothing and is unaffected.
 */
public final class ImagePipeline {

    /** ImageNet channel means on the [0, 1] scale. */
    public static final float[] IMAGENET_MEAN = {0.485f, 0.456f, 0.406f};
    /** ImageNet channel standard deviations on the [0, 1] scale. */
    public static final float[] IMAGENET_STD = {0.229f, 0.224f, 0.225f};

    private final int size;
    private final int evalResize;
    private final double minScale;
    private final double maxScale;
    private final double minRatio;
    private final double maxRatio;
    private final boolean flip;
    private final double rotation;
    private final float rotationFill;
    private final float brightness;
    private final float contrast;
    private final float saturation;
    private final float hue;
    private final boolean grey;
    private final boolean allowUpscale;
    private final float[] mean;
    private final float[] std;
    private final long seed;
    private final boolean normalizationSet;

    private ImagePipeline(Builder b) {
        size = b.size;
        evalResize = b.evalResize > 0 ? b.evalResize : (int) Math.round(b.size * 256.0 / 224.0);
        minScale = b.minScale;
        maxScale = b.maxScale;
        minRatio = b.minRatio;
        maxRatio = b.maxRatio;
        flip = b.flip;
        rotation = b.rotation;
        rotationFill = b.rotationFill;
        brightness = b.brightness;
        contrast = b.contrast;
        saturation = b.saturation;
        hue = b.hue;
        grey = b.grey;
        allowUpscale = b.allowUpscale;
        if (b.normalizationSet) {
            mean = b.mean == null ? null : b.mean.clone();
            std = b.std == null ? null : b.std.clone();
        } else {
            mean = grey ? null : IMAGENET_MEAN.clone();
            std = grey ? null : IMAGENET_STD.clone();
        }
        seed = b.seed;
        normalizationSet = b.normalizationSet;
    }

    /** @return a builder with ImageNet defaults; {@link Builder#setSize} is required */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * The usual ImageNet recipe for a colour network: random resized crop (scale 0.08-1, ratio
     * 3/4-4/3), flip, rotation up to 10 degrees, colour jitter 0.4/0.4/0.4, ImageNet mean and std.
     *
     * @param size the network input side
     * @return the description
     */
    public static ImagePipeline imageNet(int size) {
        return builder().setSize(size).build();
    }

    /** @return a builder holding this description's settings */
    public Builder toBuilder() {
        Builder b = new Builder().setSize(size).optEvalResize(evalResize).optScale(minScale, maxScale)
                .optRatio(minRatio, maxRatio).optFlip(flip).optRotation(rotation).optRotationFill(rotationFill)
                .optColorJitter(brightness, contrast, saturation, hue).optGrey(grey).optAllowUpscale(allowUpscale)
                .optSeed(seed);
        return normalizationSet ? b.optNormalization(mean, std) : b;
    }

    /** @return the training pipeline seeded with {@link #seed()} */
    public Pipeline training() {
        return training(seed);
    }

    /**
     * The augmenting training pipeline; two pipelines made with the same seed transform the same
     * sequence of images identically.
     *
     * @param seed seed of all random steps
     * @return a new pipeline (DJL pipelines are mutable; each call builds a fresh one)
     */
    public Pipeline training(long seed) {
        Random seeds = new Random(seed);
        // draw every step's seed, used or not, so that turning one step off leaves the others' draws alone
        long cropSeed = seeds.nextLong();
        long flipSeed = seeds.nextLong();
        long rotationSeed = seeds.nextLong();
        long jitterSeed = seeds.nextLong();
        Pipeline p = new Pipeline();
        p.add(channels());
        if (!allowUpscale) {
            p.add(new SizeGuard(size, size, "random resized crop"));
        }
        p.add(new ToFloat());
        p.add(new ResizedCrop(size, size, minScale, maxScale, minRatio, maxRatio, cropSeed));
        if (flip) {
            p.add(new HorizontalFlip(0.5, flipSeed));
        }
        if (rotation > 0) {
            p.add(new Rotation(rotation, rotationFill, rotationSeed));
        }
        if (brightness > 0 || contrast > 0 || saturation > 0 || hue > 0) {
            p.add(new ColorJitter(brightness, contrast, saturation, hue, jitterSeed));
        }
        return tensor(p);
    }

    /**
     * The deterministic evaluation pipeline: no augmentation. With the default (colour, normalised
     * or not) settings it computes exactly what DJL's image classification translator computes from
     * {@link #toPreprocessing()}.
     *
     * @return a new pipeline
     */
    public Pipeline evaluation() {
        Pipeline p = new Pipeline();
        p.add(channels());
        if (!allowUpscale) {
            p.add(new SizeGuard(size, size, "centre crop"));
        }
        p.add(new ResizeShort(evalResize));
        p.add(new CenterCrop(size, size));
        return tensor(p);
    }

    /**
     * The evaluation preprocessing as export settings, so that the exported model serves the inputs
     * it was evaluated on (DJL's translator always resizes, so {@code optAllowUpscale} is not carried).
     *
     * @return the export preprocessing
     * @throws IllegalStateException for a grey pipeline with normalisation, which the export cannot express
     */
    public ClassifierExport.Preprocessing toPreprocessing() {
        if (grey && mean != null) {
            throw new IllegalStateException("ClassifierExport.Preprocessing normalises colour input only; "
                    + "build the grey pipeline with optNormalization(null, null) to export it");
        }
        return new ClassifierExport.Preprocessing(size, size, grey, true, mean, std, evalResize);
    }

    private Transform channels() {
        return grey ? new RgbToGrey() : new GreyToRgb();
    }

    private Pipeline tensor(Pipeline p) {
        p.add(new ToTensor());
        if (mean != null) {
            p.add(grey ? new GreyNormalize(mean[0], std[0]) : new Normalize(mean, std));
        }
        return p;
    }

    /** @return the network input side */
    public int size() {
        return size;
    }

    /** @return the short side images are resized to before the evaluation centre crop */
    public int evalResize() {
        return evalResize;
    }

    /** @return smallest and largest crop area fraction */
    public double[] scale() {
        return new double[] {minScale, maxScale};
    }

    /** @return smallest and largest crop aspect ratio */
    public double[] ratio() {
        return new double[] {minRatio, maxRatio};
    }

    /** @return whether training flips half the images */
    public boolean flip() {
        return flip;
    }

    /** @return the largest training rotation either way, in degrees (0: none) */
    public double rotation() {
        return rotation;
    }

    /** @return brightness, contrast, saturation and hue jitter strengths */
    public float[] colorJitter() {
        return new float[] {brightness, contrast, saturation, hue};
    }

    /** @return whether images become one grey channel (otherwise three colour channels) */
    public boolean grey() {
        return grey;
    }

    /** @return whether images smaller than the input may be enlarged */
    public boolean allowUpscale() {
        return allowUpscale;
    }

    /** @return the normalisation means on the [0, 1] scale, or null for none */
    public float[] mean() {
        return mean == null ? null : mean.clone();
    }

    /** @return the normalisation standard deviations, or null for none */
    public float[] std() {
        return std == null ? null : std.clone();
    }

    /** @return the seed of {@link #training()} */
    public long seed() {
        return seed;
    }

    @Override
    public String toString() {
        return "ImagePipeline{size=" + size + ", evalResize=" + evalResize + ", scale=[" + minScale + ", " + maxScale
                + "], ratio=[" + minRatio + ", " + maxRatio + "], flip=" + flip + ", rotation=" + rotation
                + ", jitter=" + Arrays.toString(colorJitter()) + ", grey=" + grey + ", allowUpscale=" + allowUpscale
                + ", mean=" + Arrays.toString(mean) + ", std=" + Arrays.toString(std) + ", seed=" + seed + "}";
    }

    /** Converts to FLOAT32 so that resampling and jitter are not truncated to integers. */
    private static final class ToFloat implements Transform {
        @Override
        public NDArray transform(NDArray array) {
            return array.getDataType() == DataType.FLOAT32 ? array : array.toType(DataType.FLOAT32, false);
        }
    }

    /** One-channel normalisation (DJL's {@code Normalize} assumes three channels). */
    private static final class GreyNormalize implements Transform {
        private final float mean;
        private final float std;

        GreyNormalize(float mean, float std) {
            this.mean = mean;
            this.std = std;
        }

        @Override
        public NDArray transform(NDArray array) {
            return array.sub(mean).divi(std);
        }
    }

    /** Builds an {@link ImagePipeline}; settings are checked as they are given. */
    public static final class Builder {
        private int size;
        private int evalResize;
        private double minScale = 0.08;
        private double maxScale = 1.0;
        private double minRatio = 3.0 / 4.0;
        private double maxRatio = 4.0 / 3.0;
        private boolean flip = true;
        private double rotation = 10;
        private float rotationFill;
        private float brightness = 0.4f;
        private float contrast = 0.4f;
        private float saturation = 0.4f;
        private float hue;
        private boolean grey;
        private boolean allowUpscale;
        private boolean normalizationSet;
        private float[] mean;
        private float[] std;
        private long seed;

        private Builder() {}

        /**
         * @param size the network input side (required)
         * @return this builder
         */
        public Builder setSize(int size) {
            if (size < 1) {
                throw new IllegalArgumentException("setSize(size) must be at least 1, got " + size);
            }
            this.size = size;
            return this;
        }

        /**
         * @param shortSide the short side before the evaluation centre crop, at least the size
         *     (default {@code round(size * 256 / 224)})
         * @return this builder
         */
        public Builder optEvalResize(int shortSide) {
            if (shortSide < 1) {
                throw new IllegalArgumentException("optEvalResize(shortSide) must be at least 1, got " + shortSide);
            }
            this.evalResize = shortSide;
            return this;
        }

        /**
         * @param min smallest crop area fraction (default 0.08)
         * @param max largest crop area fraction (default 1)
         * @return this builder
         */
        public Builder optScale(double min, double max) {
            if (!(min > 0 && min <= max && max <= 1)) {
                throw new IllegalArgumentException(
                        "optScale(min, max) must satisfy 0 < min <= max <= 1, got (" + min + ", " + max + ")");
            }
            minScale = min;
            maxScale = max;
            return this;
        }

        /**
         * @param min smallest crop aspect ratio, width / height (default 3/4)
         * @param max largest crop aspect ratio (default 4/3)
         * @return this builder
         */
        public Builder optRatio(double min, double max) {
            if (!(min > 0 && min <= max && Double.isFinite(max))) {
                throw new IllegalArgumentException(
                        "optRatio(min, max) must satisfy 0 < min <= max, got (" + min + ", " + max + ")");
            }
            minRatio = min;
            maxRatio = max;
            return this;
        }

        /**
         * @param flip whether training flips half the images left to right (default true)
         * @return this builder
         */
        public Builder optFlip(boolean flip) {
            this.flip = flip;
            return this;
        }

        /**
         * @param degrees largest training rotation either way, in [0, 180]; 0 turns it off (default 10)
         * @return this builder
         */
        public Builder optRotation(double degrees) {
            if (!(degrees >= 0 && degrees <= 180)) {
                throw new IllegalArgumentException("optRotation(degrees) must be in [0, 180], got " + degrees);
            }
            rotation = degrees;
            return this;
        }

        /**
         * @param fill value on the 0-255 scale of the corners a rotation uncovers (default 0, black)
         * @return this builder
         */
        public Builder optRotationFill(float fill) {
            if (!(fill >= 0 && fill <= 255)) {
                throw new IllegalArgumentException("optRotationFill(fill) must be in [0, 255], got " + fill);
            }
            rotationFill = fill;
            return this;
        }

        /**
         * @param brightness brightness strength, at least 0 (default 0.4)
         * @param contrast contrast strength, at least 0 (default 0.4)
         * @param saturation saturation strength, at least 0 (default 0.4)
         * @param hue hue strength in [0, 0.5] (default 0); all 0 turns jitter off
         * @return this builder
         */
        public Builder optColorJitter(float brightness, float contrast, float saturation, float hue) {
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
            return this;
        }

        /**
         * @param grey true for networks taking one grey channel (e.g. Fashion-MNIST ones): colour
         *     images become grey and, unless set, no normalisation is applied (default false: three
         *     channels, grey images repeated)
         * @return this builder
         */
        public Builder optGrey(boolean grey) {
            this.grey = grey;
            return this;
        }

        /**
         * @param allowUpscale whether images smaller than size x size may be enlarged; when false
         *     (default) they fail with a message naming both sizes
         * @return this builder
         */
        public Builder optAllowUpscale(boolean allowUpscale) {
            this.allowUpscale = allowUpscale;
            return this;
        }

        /**
         * @param mean channel means on the [0, 1] scale (3 for colour, 1 for grey), or null for none
         * @param std channel standard deviations, all above 0, or null for none (default ImageNet's
         *     for colour, none for grey)
         * @return this builder
         */
        public Builder optNormalization(float[] mean, float[] std) {
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
            return this;
        }

        /**
         * @param seed seed of {@link ImagePipeline#training()} (default 0)
         * @return this builder
         */
        public Builder optSeed(long seed) {
            this.seed = seed;
            return this;
        }

        /** @return the description */
        public ImagePipeline build() {
            if (size < 1) {
                throw new IllegalStateException("setSize(size) is required");
            }
            if (evalResize > 0 && evalResize < size) {
                throw new IllegalArgumentException(
                        "optEvalResize(shortSide) must be at least the size " + size + ", got " + evalResize);
            }
            if (normalizationSet && mean != null && mean.length != (grey ? 1 : 3)) {
                throw new IllegalArgumentException("optNormalization takes " + (grey ? "1 value" : "3 values")
                        + " per array for " + (grey ? "grey (optGrey(true))" : "colour") + " input, got "
                        + mean.length);
            }
            return new ImagePipeline(this);
        }
    }
}
