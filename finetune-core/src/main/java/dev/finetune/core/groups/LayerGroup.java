package dev.finetune.core.groups;

import ai.djl.nn.Parameter;
import ai.djl.util.Pair;

import java.util.List;

/**
 * One named group of a model's layers (stem, a block, the head) with the parameters it owns, in the
 * model's order; strategies freeze, unfreeze and scale learning rates group by group.
 */
public final class LayerGroup {

    private final String name;
    private final List<Pair<String, Parameter>> parameters;

    /**
     * Creates a group.
     *
     * @param name the group's display name
     * @param parameters the group's parameters with their full names, in model order
     */
    public LayerGroup(String name, List<Pair<String, Parameter>> parameters) {
        this.name = name;
        this.parameters = List.copyOf(parameters);
    }

    /** @return the group's display name */
    public String name() {
        return name;
    }

    /** @return the parameters of the group with their full names */
    public List<Pair<String, Parameter>> parameters() {
        return parameters;
    }

    /**
     * Counts the scalar values this group can train (running statistics of normalisation layers are
     * not counted); uninitialised parameters count as zero.
     *
     * @return the number of trainable-capable scalars
     */
    public long parameterCount() {
        long n = 0;
        for (Pair<String, Parameter> p : parameters) {
            if (isLearnable(p.getValue()) && p.getValue().isInitialized()) {
                n += p.getValue().getArray().getShape().size();
            }
        }
        return n;
    }

    /**
     * Whether a parameter is one an optimizer may train (not a running statistic).
     *
     * @param parameter the parameter
     * @return false for running mean/variance
     */
    public static boolean isLearnable(Parameter parameter) {
        Parameter.Type t = parameter.getType();
        return t != Parameter.Type.RUNNING_MEAN && t != Parameter.Type.RUNNING_VAR;
    }

    @Override
    public String toString() {
        return name + " (" + parameters.size() + " tensors, " + parameterCount() + " values)";
    }
}
