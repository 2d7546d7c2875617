package dev.finetune.vision.transform;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.translate.Transform;

/** Converts to FLOAT32 so that resampling and jitter are not truncated to integers. */
final class ToFloat implements Transform {
    @Override
    public NDArray transform(NDArray array) {
        return array.getDataType() == DataType.FLOAT32 ? array : array.toType(DataType.FLOAT32, false);
    }

    @Override
    public String toString() {
        return "ToFloat";
    }
}
