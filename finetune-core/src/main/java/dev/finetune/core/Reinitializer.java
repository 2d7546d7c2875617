package dev.finetune.core;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import dev.finetune.core.strategy.TrainingPlan;

/**
 * Gives a parameter fresh random values in place (Kaiming-normal weights, zero biases and shifts,
 * unit scales, reset running statistics), for re-initialising the top layers of a model.
 */
final class Reinitializer {

    private Reinitializer() {}

    static void reinitialize(String name, Parameter parameter, NDManager manager) {
        if (!parameter.isInitialized()) {
            return;
        }
        NDArray array = parameter.getArray();
        Shape shape = array.getShape();
        try (NDManager scratch = manager.newSubManager()) {
            NDArray fresh;
            Parameter.Type type = parameter.getType();
            if (type == Parameter.Type.RUNNING_VAR) {
                fresh = scratch.ones(shape, array.getDataType());
            } else if (type == Parameter.Type.RUNNING_MEAN || type == Parameter.Type.BIAS
                    || type == Parameter.Type.BETA || (shape.dimension() <= 1 && name.endsWith("bias"))) {
                fresh = scratch.zeros(shape, array.getDataType());
            } else if (type == Parameter.Type.GAMMA || TrainingPlan.isNormParameter(name, parameter)) {
                fresh = scratch.ones(shape, array.getDataType());
            } else if (shape.dimension() >= 2) {
                long fanIn = shape.size() / shape.get(0);
                float std = (float) Math.sqrt(2.0 / fanIn);
                fresh = scratch.randomNormal(0f, std, shape, array.getDataType(), array.getDevice());
            } else {
                fresh = scratch.zeros(shape, array.getDataType());
            }
            fresh.toDevice(array.getDevice(), false).copyTo(array);
        }
    }
}
