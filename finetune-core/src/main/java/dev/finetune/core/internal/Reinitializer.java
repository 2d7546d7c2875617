package dev.finetune.core.internal;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.util.Pair;
import dev.finetune.core.groups.LayerGroup;
import dev.finetune.core.groups.LayerGroups;

/**
 * Gives a parameter fresh random values in place (Kaiming-normal weights, zero biases and shifts,
 * unit scales, reset running statistics), for re-initialising the top layers of a model.
 */
public final class Reinitializer {

    private Reinitializer() {}

    /**
     * Re-initialises every parameter of the top {@code count} groups (the head counts as one).
     *
     * @param groups the model's groups
     * @param count how many groups from the top
     * @param manager a manager on the parameters' device, for temporaries
     */
    public static void reinitializeTop(LayerGroups groups, int count, NDManager manager) {
        for (int g = groups.size() - count; g < groups.size(); g++) {
            for (Pair<String, Parameter> p : groups.get(g).parameters()) {
                reinitialize(p.getKey(), p.getValue(), manager);
            }
        }
    }

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
            } else if (type == Parameter.Type.GAMMA || LayerGroup.isNormParameter(name, parameter)) {
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
