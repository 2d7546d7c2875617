package dev.finetune.core.strategy;

import ai.djl.nn.Parameter;
import ai.djl.util.Pair;
import dev.finetune.core.groups.LayerGroup;
import dev.finetune.core.groups.LayerGroups;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;

/**
 * What one epoch of a stage trains: for each parameter whether it is trainable, its learning-rate
 * multiplier and whether weight decay applies to it (never to biases and normalisation parameters).
 */
public final class TrainingPlan {

    /**
     * One trainable parameter of the plan.
     *
     * @param name the parameter's full name
     * @param parameter the parameter
     * @param group the index of its layer group
     * @param lrMultiplier multiplier of the stage's learning rate
     * @param decay whether weight decay applies
     */
    public record Entry(String name, Parameter parameter, int group, double lrMultiplier, boolean decay) {}

    private final List<Entry> trainable;
    private final List<Parameter> frozen;
    private final double[] groupMultipliers;

    private TrainingPlan(List<Entry> trainable, List<Parameter> frozen, double[] groupMultipliers) {
        this.trainable = Collections.unmodifiableList(trainable);
        this.frozen = Collections.unmodifiableList(frozen);
        this.groupMultipliers = groupMultipliers.clone();
    }

    /**
     * Builds the plan from the groups and the strategy's multipliers.
     *
     * @param groups the model's layer groups
     * @param multipliers one per group, 0 = frozen
     * @param freezeNormAffine whether normalisation scale/shift parameters stay frozen
     * @return the plan
     */
    public static TrainingPlan of(LayerGroups groups, double[] multipliers, boolean freezeNormAffine) {
        if (multipliers.length != groups.size()) {
            throw new IllegalArgumentException(
                    "Got " + multipliers.length + " multipliers for " + groups.size() + " groups.");
        }
        List<Entry> trainable = new ArrayList<>();
        List<Parameter> frozen = new ArrayList<>();
        for (int g = 0; g < groups.size(); g++) {
            LayerGroup group = groups.get(g);
            for (Pair<String, Parameter> p : group.parameters()) {
                Parameter param = p.getValue();
                if (!LayerGroup.isLearnable(param)) {
                    continue;
                }
                boolean train = multipliers[g] > 0 && !(freezeNormAffine && isNormParameter(p.getKey(), param));
                if (train) {
                    trainable.add(new Entry(p.getKey(), param, g, multipliers[g], decays(p.getKey(), param)));
                } else {
                    frozen.add(param);
                }
            }
        }
        if (trainable.isEmpty()) {
            throw new IllegalArgumentException(
                    "This stage trains nothing: every parameter is frozen. Give the strategy at"
                            + " least one trainable group (e.g. headOnly()).");
        }
        return new TrainingPlan(trainable, frozen, multipliers);
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
        String lower = name.toLowerCase(Locale.ROOT);
        if (lower.endsWith("bias")) {
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

    /** @return the trainable parameters with their settings */
    public List<Entry> trainable() {
        return trainable;
    }

    /** @return the frozen learnable parameters */
    public List<Parameter> frozen() {
        return frozen;
    }

    /** @return the strategy's multiplier per group */
    public double[] groupMultipliers() {
        return groupMultipliers.clone();
    }

    /** @return the number of trainable scalar values */
    public long trainableValues() {
        long n = 0;
        for (Entry e : trainable) {
            n += e.parameter().getArray().getShape().size();
        }
        return n;
    }
}
