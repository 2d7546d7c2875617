package dev.finetune.core.groups;

import ai.djl.nn.Parameter;
import ai.djl.util.Pair;

import java.util.List;
import java.util.Locale;

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

    /**
     * Whether weight decay applies: only to weights of rank 2 or more (kernels and matrices), never
     * to biases or normalisation scale/shift (rank 1), as in the usual decay/no-decay split.
     *
     * @param name the full parameter name
     * @param parameter the parameter
     * @return true if it decays
     */
    public static boolean decays(String name, Parameter parameter) {
        Parameter.Type t = parameter.getType();
        if (t == Parameter.Type.BIAS || t == Parameter.Type.GAMMA || t == Parameter.Type.BETA) {
            return false;
        }
        if (name.toLowerCase(Locale.ROOT).endsWith("bias")) {
            return false;
        }
        return rank(parameter) >= 2;
    }

    /**
     * Whether a parameter is a normalisation layer's scale or shift.
     *
     * @param name full name
     * @param parameter the parameter
     * @return true for BatchNorm/LayerNorm gamma and beta
     */
    public static boolean isNormParameter(String name, Parameter parameter) {
        Parameter.Type t = parameter.getType();
        if (t == Parameter.Type.GAMMA || t == Parameter.Type.BETA) {
            return true;
        }
        String lower = name.toLowerCase(Locale.ROOT);
        return rank(parameter) == 1 && (lower.contains("norm") || lower.matches(".*(^|[._])(bn|ln|gn)\\d*[._].*"));
    }

    private static int rank(Parameter parameter) {
        if (parameter.isInitialized()) {
            return parameter.getArray().getShape().dimension();
        }
        return parameter.getShape() == null ? 0 : parameter.getShape().dimension();
    }
}
