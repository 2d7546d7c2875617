package dev.finetune.vision.image;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.translate.Transform;

/**
 * Brings an HWC image to one grey channel (luma {@code 0.299 R + 0.587 G + 0.114 B}, FLOAT32, not
 * rounded) or three colour channels (a grey image repeated); an image that already has the count
 * passes unchanged.
 */
public final class Channels implements Transform {

    private final int count;

    /**
     * @param count 1 (grey) or 3 (colour)
     */
    public Channels(int count) {
        if (count != 1 && count != 3) {
            throw new IllegalArgumentException("Channels takes 1 (grey) or 3 (colour), got " + count);
        }
        this.count = count;
    }

    /**
     * Checks that {@code array} is an HWC image with 1 or 3 channels.
     *
     * @param array the image
     * @param step the transform, for the message
     * @return the shape
     */
    public static Shape checkHwc(NDArray array, String step) {
        Shape s = array.getShape();
        if (s.dimension() != 3 || (s.get(2) != 1 && s.get(2) != 3) || s.get(0) < 1 || s.get(1) < 1) {
            throw new IllegalArgumentException(step + " takes an HWC image with 1 or 3 channels, got shape " + s);
        }
        return s;
    }

    /** {@inheritDoc} */
    @Override
    public NDArray transform(NDArray array) {
        Shape s = checkHwc(array, count == 1 ? "RgbToGrey" : "GreyToRgb");
        if (s.get(2) == count) {
            return array;
        }
        if (count == 3) {
            return array.repeat(2, 3);
        }
        float[] x;
        if (array.getDataType() == DataType.FLOAT32) {
            x = array.toFloatArray();
        } else {
            try (NDArray f = array.toType(DataType.FLOAT32, true)) {
                x = f.toFloatArray();
            }
        }
        float[] g = new float[x.length / 3];
        for (int p = 0; p < g.length; p++) {
            g[p] = (float) (0.299 * x[3 * p] + 0.587 * x[3 * p + 1] + 0.114 * x[3 * p + 2]);
        }
        return array.getManager().create(g, new Shape(s.get(0), s.get(1), 1));
    }

    @Override
    public String toString() {
        return count == 1 ? "RgbToGrey" : "GreyToRgb";
    }
}
