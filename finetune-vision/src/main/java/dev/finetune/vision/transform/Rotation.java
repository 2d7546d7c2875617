package dev.finetune.vision.transform;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import ai.djl.translate.Transform;

import java.util.Random;

/**
 * Rotates an HWC image about its centre by an angle drawn uniformly from [-maxDegrees,
 * maxDegrees] (positive is counter-clockwise), keeping its size, sampling bilinearly and filling
 * the uncovered corners with a constant; the result is FLOAT32 on the 0-255 scale of the input.
 * DJL has no such transform; the resampling runs on the host.
 */
public final class Rotation implements Transform {

    private final double maxDegrees;
    private final float fill;
    private final Random random;

    /**
     * Creates a random rotation with its own draws.
     *
     * @param maxDegrees the largest rotation either way, in [0, 180]
     * @param fill the value of pixels that come from outside the image (e.g. 0 for black)
     * @param seed seed of the draws
     */
    public Rotation(double maxDegrees, float fill, long seed) {
        if (!(maxDegrees >= 0 && maxDegrees <= 180)) {
            throw new IllegalArgumentException("Rotation degrees must be in [0, 180], got " + maxDegrees);
        }
        this.maxDegrees = maxDegrees;
        this.fill = fill;
        this.random = new Random(seed);
    }

    /** {@inheritDoc} */
    @Override
    public NDArray transform(NDArray array) {
        double degrees = (random.nextDouble() * 2 - 1) * maxDegrees;
        return rotate(array, degrees, fill);
    }

    /**
     * Rotates an image about its centre by a fixed angle.
     *
     * @param image an HWC image with 1 or 3 channels, any numeric type
     * @param degrees the angle, counter-clockwise as seen on screen
     * @param fill the value of pixels that come from outside the image
     * @return the rotated image, FLOAT32, same shape
     */
    public static NDArray rotate(NDArray image, double degrees, float fill) {
        Shape shape = Hwc.check(image, "Rotation");
        int h = (int) shape.get(0);
        int w = (int) shape.get(1);
        int c = (int) shape.get(2);
        float[] src = Hwc.floats(image);
        float[] dst = new float[src.length];
        double rad = Math.toRadians(degrees);
        double cos = Math.cos(rad);
        double sin = Math.sin(rad);
        double cx = (w - 1) / 2.0;
        double cy = (h - 1) / 2.0;
        for (int y = 0; y < h; y++) {
            double v = y - cy;
            for (int x = 0; x < w; x++) {
                double u = x - cx;
                // inverse map: where in the source the output pixel (u, v) comes from; with y
                // pointing down this turns the image counter-clockwise on screen
                double sx = u * cos - v * sin + cx;
                double sy = u * sin + v * cos + cy;
                int x0 = (int) Math.floor(sx);
                int y0 = (int) Math.floor(sy);
                double fx = sx - x0;
                double fy = sy - y0;
                int out = (y * w + x) * c;
                for (int k = 0; k < c; k++) {
                    double top = lerp(pixel(src, w, h, c, x0, y0, k, fill),
                            pixel(src, w, h, c, x0 + 1, y0, k, fill), fx);
                    double bottom = lerp(pixel(src, w, h, c, x0, y0 + 1, k, fill),
                            pixel(src, w, h, c, x0 + 1, y0 + 1, k, fill), fx);
                    dst[out + k] = (float) lerp(top, bottom, fy);
                }
            }
        }
        return Hwc.create(image, dst, shape);
    }

    private static double pixel(float[] src, int w, int h, int c, int x, int y, int k, float fill) {
        if (x < 0 || y < 0 || x >= w || y >= h) {
            return fill;
        }
        return src[(y * w + x) * c + k];
    }

    private static double lerp(double a, double b, double t) {
        return t == 0 ? a : a + (b - a) * t;
    }

    @Override
    public String toString() {
        return "Rotation(+-" + maxDegrees + " degrees, fill=" + fill + ")";
    }
}
