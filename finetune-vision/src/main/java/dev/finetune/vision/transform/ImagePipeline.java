package dev.finetune.vision.transform;

import ai.djl.modality.cv.transform.ToTensor;
import ai.djl.ndarray.types.Shape;
import ai.djl.translate.Transform;
import dev.finetune.vision.export.ClassifierExport;
import dev.finetune.vision.image.Normalization;
import dev.finetune.vision.image.ResizeMode;

import java.awt.Color;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.Random;

/**
 * An immutable description of image preprocessing from which a seeded, augmenting training
 * pipeline and a deterministic evaluation pipeline are derived; both take an HWC image (uint8 or
 * float on the 0-255 scale) and end with a CHW FLOAT32 tensor, normalised if a mean and std are set.
 *
 * <p>Every image, of any size and aspect ratio, becomes exactly C x size x size. How it is framed is
 * the {@link ResizeMode} ({@link Builder#optResizeMode}): {@code CENTER_CROP} (default) resizes the
 * short side to {@link #evalResize()} (by default {@code round(size * 256 / 224)}) and cuts the
 * centre, {@code SQUASH} resizes the whole image to size x size, {@code PAD} fits the long side and
 * fills the rest with the background colour. Transparent images are composited over the background
 * colour ({@link Builder#optBackground}, default white) by the {@code ImageDataset} and by the
 * exported model's translator, never left to what the file stores under transparent pixels.
 *
 * <p>Training: channels, random resized crop (for {@code SQUASH} and {@code PAD} with the ratio
 * relative to the image's and the crop squashed or letterboxed, so the framing matches evaluation),
 * optional horizontal flip, rotation and colour jitter, an optional policy ({@code TrivialAugmentWide}
 * or {@code RandAugment}, off by default), to tensor, normalise, optional random erasing (off by
 * default). Evaluation: channels,
 * framing, to tensor, normalise: exactly {@link #toPreprocessing()}'s pipeline, which the exported
 * model serves (with the size guard in front unless {@code optAllowUpscale(true)}). Each random step owns
 * a {@link Random} seeded from the pipeline seed, never DJL's global {@code RandomUtils}, so the same
 * seed gives the same augmentations as long as images pass through the pipeline in the same order
 * (DJL datasets without a prefetching executor); one pipeline's draws advance with each image.
 * With loader threads ({@code FineTuner.optDataLoaderThreads}, a prefetching executor) images are
 * transformed concurrently and take the draws in the order they reach them, so a draw may go to
 * another image and runs need not repeat; the evaluation pipeline draws nothing and is unaffected.
 *
 * <pre>{@code
 * ImagePipeline pipeline = ImagePipeline.builder()
 *         .setSize(224)                                  // every image becomes 3 x 224 x 224
 *         .optResizeMode(ResizeMode.PAD)                 // letterbox over the background colour
 *         .optFlip(false)                                // for classes a mirror image changes (text, left/right)
 *         .optSeed(7)
 *         .build();
 * ImageDataset train = ImageDataset.builder().setCatalog(parts.train())
 *         .optPipeline(pipeline.training()).setSampling(32, true).build();
 * ImageDataset validation = ImageDataset.builder().setCatalog(parts.validation())
 *         .optPipeline(pipeline.evaluation()).setSampling(32, false).build();
 * ClassifierExport.Preprocessing served = pipeline.toPreprocessing(); // evaluation(), for the export
 * }</pre>
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
    private final ResizeMode resizeMode;
    private final Color background;
    private final float[] mean;
    private final float[] std;
    private final long seed;
    private final boolean normalizationSet;
    private final boolean trivialAugment;
    private final int randAugmentOps;
    private final int randAugmentMagnitude;
    private final double erasing;
    private final RandomErasing.Mode erasingMode;

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
        resizeMode = b.resizeMode;
        background = b.background;
        if (b.normalizationSet) {
            mean = b.mean == null ? null : b.mean.clone();
            std = b.std == null ? null : b.std.clone();
        } else {
            mean = grey ? null : IMAGENET_MEAN.clone();
            std = grey ? null : IMAGENET_STD.clone();
        }
        seed = b.seed;
        normalizationSet = b.normalizationSet;
        trivialAugment = b.trivialAugment;
        randAugmentOps = b.randAugmentOps;
        randAugmentMagnitude = b.randAugmentMagnitude;
        erasing = b.erasing;
        erasingMode = b.erasingMode;
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
                .optResizeMode(resizeMode).optBackground(background).optSeed(seed)
                .optTrivialAugment(trivialAugment).optRandAugment(randAugmentOps, randAugmentMagnitude)
                .optRandomErasing(erasing, erasingMode);
        return normalizationSet ? b.optNormalization(mean, std) : b;
    }

    /** @return the training pipeline seeded with {@link #seed()} */
    public DescribedPipeline training() {
        return training(seed);
    }

    /**
     * The augmenting training pipeline; two pipelines made with the same seed transform the same
     * sequence of images identically.
     *
     * @param seed seed of all random steps
     * @return a new pipeline (DJL pipelines are mutable; each call builds a fresh one)
     */
    public DescribedPipeline training(long seed) {
        Random seeds = new Random(seed);
        // draw every step's seed, used or not, so that turning one step off leaves the others' draws alone
        long cropSeed = seeds.nextLong();
        long flipSeed = seeds.nextLong();
        long rotationSeed = seeds.nextLong();
        long jitterSeed = seeds.nextLong();
        // drawn after the older steps' seeds, so that pipelines without them augment as before
        long policySeed = seeds.nextLong();
        long erasingSeed = seeds.nextLong();
        List<Transform> p = new ArrayList<>();
        p.add(grey ? new RgbToGrey() : new GreyToRgb());
        if (!allowUpscale) {
            p.add(new SizeGuard(resizeMode, size, size, "random resized crop"));
        }
        p.add(new ToFloat());
        p.add(new ResizedCrop(size, size, minScale, maxScale, minRatio, maxRatio, cropSeed, resizeMode, background));
        if (flip) {
            p.add(new HorizontalFlip(0.5, flipSeed));
        }
        if (rotation > 0) {
            p.add(new Rotation(rotation, rotationFill, rotationSeed));
        }
        if (brightness > 0 || contrast > 0 || saturation > 0 || hue > 0) {
            p.add(new ColorJitter(brightness, contrast, saturation, hue, jitterSeed));
        }
        if (trivialAugment) {
            p.add(new TrivialAugment(rotationFill, policySeed));
        } else if (randAugmentOps > 0) {
            p.add(new RandAugment(randAugmentOps, randAugmentMagnitude, rotationFill, policySeed));
        }
        p.add(new ToTensor());
        if (mean != null) {
            p.add(new Normalization(mean, std));
        }
        if (erasing > 0) {
            p.add(new RandomErasing(erasing, erasingMode, erasingSeed));
        }
        return new DescribedPipeline(this, true, seed, p);
    }

    /**
     * The deterministic evaluation pipeline: no augmentation; exactly the pipeline of
     * {@link #toPreprocessing()}, which the exported model serves, preceded by the size guard
     * unless {@code optAllowUpscale(true)}.
     *
     * @return a new pipeline
     */
    public DescribedPipeline evaluation() {
        List<Transform> p = new ArrayList<>();
        if (!allowUpscale) {
            p.add(new SizeGuard(resizeMode, size, size, guardName()));
        }
        p.addAll(toPreprocessing().pipeline().getTransforms());
        return new DescribedPipeline(this, false, seed, p);
    }

    /**
     * The evaluation preprocessing as export settings, so that the exported model serves exactly
     * the inputs it was evaluated on, images of any size included (the served model always
     * resizes, so {@code optAllowUpscale} is not carried).
     *
     * @return the export preprocessing
     */
    public ClassifierExport.Preprocessing toPreprocessing() {
        return new ClassifierExport.Preprocessing(size, size, grey, resizeMode, mean, std,
                resizeMode == ResizeMode.CENTER_CROP ? evalResize : 0, background);
    }

    /**
     * The network input a width x height image becomes, computed from the size alone (the catalog
     * records every image's size, so a whole data set is checked in milliseconds).
     *
     * @param width image width
     * @param height image height
     * @return C x size x size (C is 1 for grey, 3 for colour), the same for every image
     * @throws IllegalArgumentException for an image that framing would enlarge while
     *     {@code optAllowUpscale} is false, naming both sizes
     */
    public Shape outputShape(int width, int height) {
        if (width < 1 || height < 1) {
            throw new IllegalArgumentException("An image must have at least 1x1 pixels, got " + width + "x" + height);
        }
        if (!allowUpscale && !SizeGuard.fits(resizeMode, width, height, size, size)) {
            throw new IllegalArgumentException(SizeGuard.tooSmall(resizeMode, guardName(), width, height, size, size));
        }
        return new Shape(grey ? 1 : 3, size, size);
    }

    private String guardName() {
        return resizeMode == ResizeMode.CENTER_CROP ? "centre crop" : resizeMode == ResizeMode.SQUASH ? "squash" : "letterbox";
    }

    /** @return the network input side */
    public int size() {
        return size;
    }

    /** @return the short side images are resized to before the evaluation centre crop (CENTER_CROP only) */
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

    /** @return how images are framed to size x size */
    public ResizeMode resizeMode() {
        return resizeMode;
    }

    /** @return the colour under transparent pixels and of letterbox bars */
    public Color background() {
        return background;
    }

    /** @return the normalisation means on the [0, 1] scale, or null for none */
    public float[] mean() {
        return mean == null ? null : mean.clone();
    }

    /** @return the normalisation standard deviations, or null for none */
    public float[] std() {
        return std == null ? null : std.clone();
    }

    /** @return whether training applies TrivialAugmentWide ({@link TrivialAugment}) */
    public boolean trivialAugment() {
        return trivialAugment;
    }

    /** @return RandAugment's operations per image and magnitude step (operations 0: off) */
    public int[] randAugment() {
        return new int[] {randAugmentOps, randAugmentMagnitude};
    }

    /** @return the chance that training erases a rectangle of an image (0: off) */
    public double randomErasing() {
        return erasing;
    }

    /** @return what an erased rectangle is filled with */
    public RandomErasing.Mode randomErasingMode() {
        return erasingMode;
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
                + ", resizeMode=" + resizeMode + ", background=#" + Integer.toHexString(background.getRGB() & 0xffffff)
                + ", mean=" + Arrays.toString(mean) + ", std=" + Arrays.toString(std) + ", policy=" + policy()
                + ", erasing=" + (erasing > 0 ? erasing + " " + erasingMode : "off") + ", seed=" + seed + "}";
    }

    private String policy() {
        return trivialAugment ? "TrivialAugmentWide"
                : randAugmentOps > 0 ? "RandAugment(" + randAugmentOps + ", " + randAugmentMagnitude + ")" : "none";
    }

    /**
     * Builds an {@link ImagePipeline}: {@code setSize} is required, every {@code optX} optional;
     * settings are checked as they are given.
     */
    public static final class Builder extends PipelineSettings<Builder> {

        private Builder() {}

        @Override
        Builder self() {
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
            if (trivialAugment && randAugmentOps > 0) {
                throw new IllegalArgumentException("optTrivialAugment(true) and optRandAugment(" + randAugmentOps + ", "
                        + randAugmentMagnitude + ") are alternatives: choose one");
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
