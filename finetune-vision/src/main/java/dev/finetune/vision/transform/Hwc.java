package dev.finetune.vision.transform;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

/** Shape checks and host copies for HWC images (package-private helpers). */
final class Hwc {

    private Hwc() {}

    /**
     * Checks that {@code array} is an HWC image with 1 or 3 channels.
     *
     * @param array the image
     * @param step the transform, for the message
     * @return the shape
     */
    static Shape check(NDArray array, String step) {
        Shape s = array.getShape();
        if (s.dimension() != 3 || (s.get(2) != 1 && s.get(2) != 3) || s.get(0) < 1 || s.get(1) < 1) {
            throw new IllegalArgumentException(step + " takes an HWC image with 1 or 3 channels, got shape " + s);
        }
        return s;
    }

    /** The pixels as floats in HWC order (a host copy). */
    static float[] floats(NDArray array) {
        if (array.getDataType() == DataType.FLOAT32) {
            return array.toFloatArray();
        }
        try (NDArray f = array.toType(DataType.FLOAT32, true)) {
            return f.toFloatArray();
        }
    }

    /** A FLOAT32 array of {@code shape} on the manager of {@code like}. */
    static NDArray create(NDArray like, float[] data, Shape shape) {
        return like.getManager().create(data, shape);
    }
}
