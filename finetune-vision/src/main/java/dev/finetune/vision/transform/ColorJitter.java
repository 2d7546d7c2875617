package dev.finetune.vision.transform;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import ai.djl.translate.Transform;

import java.util.Random;

/**
 * Random brightness, contrast, saturation and hue changes of an HWC image on the 0-255 scale, as
 * torchvision's {@code ColorJitter} but in a fixed order and from its own seeded generator; the
 * result is FLOAT32 clipped to [0, 255]. DJL's PyTorch engine does not implement colour jitter.
 */
public final class ColorJitter implements Transform {

    private static final double[] LUMA = {0.299, 0.587, 0.114};

    private final float brightness;
    private final float contrast;
    private final float saturation;
    private final float hue;
    private final Random random;

    /**
     * Factors are drawn uniformly from [max(0, 1 - s), 1 + s] for a strength s, the hue shift from
     * [-hue, hue] of a full turn; a strength of 0 leaves that property alone.
     *
     * @param brightness brightness strength, at least 0
     * @param contrast contrast strength, at least 0
     * @param saturation saturation strength, at least 0
     * @param hue hue strength, in [0, 0.5]
     * @param seed seed of the draws
     */
    public ColorJitter(float brightness, float contrast, float saturation, float hue, long seed) {
        check("brightness", brightness);
        check("contrast", contrast);
        check("saturation", saturation);
        if (!(hue >= 0 && hue <= 0.5f)) {
            throw new IllegalArgumentException("Colour jitter hue must be in [0, 0.5], got " + hue);
        }
        this.brightness = brightness;
        this.contrast = contrast;
        this.saturation = saturation;
        this.hue = hue;
        this.random = new Random(seed);
    }

    private static void check(String name, float value) {
        if (!(value >= 0 && Float.isFinite(value))) {
            throw new IllegalArgumentException("Colour jitter " + name + " must be at least 0, got " + value);
        }
    }

    /** {@inheritDoc} */
    @Override
    public NDArray transform(NDArray array) {
        // four draws every time, so that the sequence does not depend on the strengths
        double b = factor(brightness);
        double c = factor(contrast);
        double s = factor(saturation);
        double h = (random.nextDouble() * 2 - 1) * hue;
        return apply(array, b, c, s, h);
    }

    private double factor(float strength) {
        double lo = Math.max(0, 1 - strength);
        double hi = 1 + strength;
        return lo + (hi - lo) * random.nextDouble();
    }

    /**
     * Applies fixed factors (1, 1, 1, 0 leave the image unchanged).
     *
     * @param image an HWC image with 1 or 3 channels on the 0-255 scale
     * @param brightness multiplies the pixels
     * @param contrast scales the distance from the mean grey level
     * @param saturation scales the distance of each pixel from its own grey level
     * @param hueTurns rotates the chroma by this fraction of a full turn (YIQ approximation)
     * @return the changed image, FLOAT32 in [0, 255], same shape
     */
    public static NDArray apply(NDArray image, double brightness, double contrast, double saturation,
                                double hueTurns) {
        Shape shape = Hwc.check(image, "ColorJitter");
        int channels = (int) shape.get(2);
        float[] x = Hwc.floats(image);
        if (brightness != 1) {
            for (int i = 0; i < x.length; i++) {
                x[i] = clip(x[i] * brightness);
            }
        }
        if (contrast != 1) {
            double sum = 0;
            for (int p = 0; p < x.length; p += channels) {
                sum += grey(x, p, channels);
            }
            double mean = sum / (x.length / channels);
            for (int i = 0; i < x.length; i++) {
                x[i] = clip((x[i] - mean) * contrast + mean);
            }
        }
        if (channels == 3 && saturation != 1) {
            for (int p = 0; p < x.length; p += 3) {
                double g = grey(x, p, 3);
                for (int k = 0; k < 3; k++) {
                    x[p + k] = clip((x[p + k] - g) * saturation + g);
                }
            }
        }
        if (channels == 3 && hueTurns != 0) {
            double cos = Math.cos(2 * Math.PI * hueTurns);
            double sin = Math.sin(2 * Math.PI * hueTurns);
            for (int p = 0; p < x.length; p += 3) {
                double r = x[p];
                double g = x[p + 1];
                double bl = x[p + 2];
                double yy = 0.299 * r + 0.587 * g + 0.114 * bl;
                double i = 0.596 * r - 0.274 * g - 0.322 * bl;
                double q = 0.211 * r - 0.523 * g + 0.312 * bl;
                double i2 = i * cos - q * sin;
                double q2 = i * sin + q * cos;
                x[p] = clip(yy + 0.956 * i2 + 0.621 * q2);
                x[p + 1] = clip(yy - 0.272 * i2 - 0.647 * q2);
                x[p + 2] = clip(yy - 1.106 * i2 + 1.703 * q2);
            }
        }
        return Hwc.create(image, x, shape);
    }

    private static double grey(float[] x, int p, int channels) {
        return channels == 1 ? x[p] : LUMA[0] * x[p] + LUMA[1] * x[p + 1] + LUMA[2] * x[p + 2];
    }

    private static float clip(double v) {
        return (float) Math.min(255, Math.max(0, v));
    }

    @Override
    public String toString() {
        return "ColorJitter(brightness=" + brightness + ", contrast=" + contrast + ", saturation=" + saturation
                + ", hue=" + hue + ")";
    }
}
