package dev.finetune.vision.transform;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;

/**
 * The image operations of torchvision's {@code TrivialAugmentWide} and {@code RandAugment}, in
 * torchvision's order, on an HWC image (1 or 3 channels, any numeric type, the 0-255 scale); each
 * returns a FLOAT32 image of the same shape. A magnitude means what it means in torchvision's
 * {@code _apply_op}: a shear factor, pixels, degrees, a factor minus 1, bits or a threshold.
 *
 * <p>Geometric operations sample the nearest pixel (torchvision's default) and fill what comes
 * from outside the image with a constant; the shears keep the top-left corner in place, the
 * rotation turns about the centre. The colour operations are computed on the floats without
 * rounding to integers, except posterize, equalize (integer by definition: the value is floored
 * first) and solarize (which compares the value as it is).
 */
public enum AugmentOp {
    /** Leaves the image alone. */
    IDENTITY(false),
    /** Shears horizontally: output (x, y) comes from input (x + m y, y), x and y from the top-left corner. */
    SHEAR_X(true),
    /** Shears vertically: output (x, y) comes from input (x, y + m x). */
    SHEAR_Y(true),
    /** Moves the image right by {@code (int) m} pixels (left for negative m). */
    TRANSLATE_X(true),
    /** Moves the image down by {@code (int) m} pixels (up for negative m). */
    TRANSLATE_Y(true),
    /** Turns the image about its centre by m degrees, counter-clockwise as seen on screen. */
    ROTATE(true),
    /** Multiplies the pixels by {@code 1 + m}, clipped to [0, 255]. */
    BRIGHTNESS(true),
    /** Moves each pixel away from its own grey level by the factor {@code 1 + m} (saturation); grey images are left alone. */
    COLOR(true),
    /** Moves the pixels away from the image's mean grey level by the factor {@code 1 + m}. */
    CONTRAST(true),
    /**
     * Blends with a 3x3 smoothing (weights 1, centre 5, over 13; the border is kept) by the factor
     * {@code 1 + m}: above 1 sharpens, below 1 blurs.
     */
    SHARPNESS(true),
    /** Keeps the top {@code (int) m} bits of each (floored) value. */
    POSTERIZE(false),
    /** Inverts ({@code 255 - v}) every value at or above the threshold m. */
    SOLARIZE(false),
    /** Stretches each channel linearly so that its darkest value becomes 0 and its brightest 255. */
    AUTO_CONTRAST(false),
    /** Equalizes each channel's histogram of (floored) values, as PIL's {@code ImageOps.equalize}. */
    EQUALIZE(false);

    private final boolean signed;

    AugmentOp(boolean signed) {
        this.signed = signed;
    }

    /** @return whether the policies draw a random sign for this operation's magnitude */
    public boolean signed() {
        return signed;
    }

    /**
     * Applies the operation.
     *
     * @param image an HWC image with 1 or 3 channels on the 0-255 scale
     * @param magnitude the operation's magnitude (ignored by identity, autocontrast and equalize)
     * @param fill the value of pixels that geometric operations bring in from outside the image
     * @return the result, FLOAT32, same shape (a new array)
     */
    public NDArray apply(NDArray image, double magnitude, float fill) {
        Shape shape = Hwc.check(image, "AugmentOp." + name());
        int h = (int) shape.get(0);
        int w = (int) shape.get(1);
        int c = (int) shape.get(2);
        float[] x = Hwc.floats(image);
        float[] y = apply(x, h, w, c, magnitude, fill);
        return Hwc.create(image, y, shape);
    }

    /** The operation on HWC floats; may return {@code x} itself for the identity. */
    float[] apply(float[] x, int h, int w, int c, double m, float fill) {
        switch (this) {
            case IDENTITY:
                return x;
            case SHEAR_X:
                return sample(x, h, w, c, fill, (u, v, out) -> {
                    out[0] = u + m * v;
                    out[1] = v;
                });
            case SHEAR_Y:
                return sample(x, h, w, c, fill, (u, v, out) -> {
                    out[0] = u;
                    out[1] = v + m * u;
                });
            case TRANSLATE_X: {
                int t = (int) m;
                return sample(x, h, w, c, fill, (u, v, out) -> {
                    out[0] = u - t;
                    out[1] = v;
                });
            }
            case TRANSLATE_Y: {
                int t = (int) m;
                return sample(x, h, w, c, fill, (u, v, out) -> {
                    out[0] = u;
                    out[1] = v - t;
                });
            }
            case ROTATE: {
                double rad = Math.toRadians(m);
                double cos = Math.cos(rad);
                double sin = Math.sin(rad);
                double cx = w / 2.0;
                double cy = h / 2.0;
                // the inverse map of Rotation.rotate: with y pointing down this turns counter-clockwise on screen
                return sample(x, h, w, c, fill, (u, v, out) -> {
                    double du = u - cx;
                    double dv = v - cy;
                    out[0] = du * cos - dv * sin + cx;
                    out[1] = du * sin + dv * cos + cy;
                });
            }
            case BRIGHTNESS:
            case COLOR:
            case CONTRAST: {
                float[] y = x.clone();
                double f = 1 + m;
                if (this == BRIGHTNESS) {
                    for (int i = 0; i < y.length; i++) {
                        y[i] = clip(y[i] * f);
                    }
                } else if (this == CONTRAST) {
                    double sum = 0;
                    for (int p = 0; p < y.length; p += c) {
                        sum += grey(y, p, c);
                    }
                    double mean = sum / ((double) h * w);
                    for (int i = 0; i < y.length; i++) {
                        y[i] = clip((y[i] - mean) * f + mean);
                    }
                } else if (c == 3) {
                    for (int p = 0; p < y.length; p += 3) {
                        double g = grey(y, p, 3);
                        for (int k = 0; k < 3; k++) {
                            y[p + k] = clip((y[p + k] - g) * f + g);
                        }
                    }
                }
                return y;
            }
            case SHARPNESS:
                return sharpness(x, h, w, c, 1 + m);
            case POSTERIZE: {
                int bits = (int) m;
                if (bits < 0 || bits > 8) {
                    throw new IllegalArgumentException("Posterize keeps 0 to 8 bits, got " + m);
                }
                int mask = (0xff << (8 - bits)) & 0xff;
                float[] y = new float[x.length];
                for (int i = 0; i < x.length; i++) {
                    y[i] = level(x[i]) & mask;
                }
                return y;
            }
            case SOLARIZE: {
                float[] y = new float[x.length];
                for (int i = 0; i < x.length; i++) {
                    y[i] = x[i] >= m ? 255 - x[i] : x[i];
                }
                return y;
            }
            case AUTO_CONTRAST:
                return autoContrast(x, c);
            case EQUALIZE:
                return equalize(x, c);
            default:
                throw new AssertionError(this);
        }
    }

    /** Where an output point (u, v) comes from in the input; coordinates of pixel edges, so pixel (i, j) has centre (i + 0.5, j + 0.5). */
    private interface InverseMap {
        void source(double u, double v, double[] out);
    }

    private static float[] sample(float[] x, int h, int w, int c, float fill, InverseMap map) {
        float[] y = new float[x.length];
        double[] s = new double[2];
        for (int j = 0; j < h; j++) {
            for (int i = 0; i < w; i++) {
                map.source(i + 0.5, j + 0.5, s);
                int si = (int) Math.floor(s[0]);
                int sj = (int) Math.floor(s[1]);
                int out = (j * w + i) * c;
                if (si >= 0 && sj >= 0 && si < w && sj < h) {
                    System.arraycopy(x, (sj * w + si) * c, y, out, c);
                } else {
                    for (int k = 0; k < c; k++) {
                        y[out + k] = fill;
                    }
                }
            }
        }
        return y;
    }

    private static float[] sharpness(float[] x, int h, int w, int c, double f) {
        float[] y = x.clone();
        if (h <= 2 || w <= 2) {
            return y; // as torchvision: no interior to smooth
        }
        for (int j = 1; j < h - 1; j++) {
            for (int i = 1; i < w - 1; i++) {
                for (int k = 0; k < c; k++) {
                    double sum = 0;
                    for (int dj = -1; dj <= 1; dj++) {
                        for (int di = -1; di <= 1; di++) {
                            sum += x[((j + dj) * w + i + di) * c + k] * (di == 0 && dj == 0 ? 5 : 1);
                        }
                    }
                    double blurred = sum / 13;
                    int p = (j * w + i) * c + k;
                    y[p] = clip(f * x[p] + (1 - f) * blurred);
                }
            }
        }
        return y;
    }

    private static float[] autoContrast(float[] x, int c) {
        float[] y = new float[x.length];
        for (int k = 0; k < c; k++) {
            float lo = Float.POSITIVE_INFINITY;
            float hi = Float.NEGATIVE_INFINITY;
            for (int p = k; p < x.length; p += c) {
                lo = Math.min(lo, x[p]);
                hi = Math.max(hi, x[p]);
            }
            double scale = hi > lo ? 255.0 / (hi - lo) : 1;
            double offset = hi > lo ? lo : 0;
            for (int p = k; p < x.length; p += c) {
                y[p] = clip((x[p] - offset) * scale);
            }
        }
        return y;
    }

    /** PIL's and torchvision's equalize: a lookup table from the cumulative histogram, per channel. */
    private static float[] equalize(float[] x, int c) {
        float[] y = new float[x.length];
        for (int k = 0; k < c; k++) {
            long[] hist = new long[256];
            for (int p = k; p < x.length; p += c) {
                hist[level(x[p])]++;
            }
            long lastNonZero = 0;
            long total = 0;
            for (long n : hist) {
                if (n != 0) {
                    lastNonZero = n;
                }
                total += n;
            }
            long step = (total - lastNonZero) / 255;
            if (step == 0) {
                for (int p = k; p < x.length; p += c) {
                    y[p] = x[p];
                }
                continue;
            }
            int[] lut = new int[256];
            long cumulative = step / 2;
            for (int v = 0; v < 256; v++) {
                lut[v] = (int) Math.min(255, cumulative / step);
                cumulative += hist[v];
            }
            for (int p = k; p < x.length; p += c) {
                y[p] = lut[level(x[p])];
            }
        }
        return y;
    }

    /** A value as the integer level 0-255 it falls in. */
    private static int level(float v) {
        return (int) Math.floor(Math.min(255, Math.max(0, v)));
    }

    private static double grey(float[] x, int p, int c) {
        return c == 1 ? x[p] : 0.299 * x[p] + 0.587 * x[p + 1] + 0.114 * x[p + 2];
    }

    private static float clip(double v) {
        return (float) Math.min(255, Math.max(0, v));
    }
}
