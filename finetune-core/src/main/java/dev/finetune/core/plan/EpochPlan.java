package dev.finetune.core.plan;

import ai.djl.nn.Parameter;
import ai.djl.util.Pair;
import dev.finetune.core.groups.LayerGroup;
import dev.finetune.core.groups.LayerGroups;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * Everything one epoch trains with, resolved: each trainable parameter's learning rate and weight
 * decay, the parameters kept frozen, the optimizer, the schedule over the stage's steps, the
 * gradient clipping bound, the BatchNorm policy, how many batches make a step and how batches are
 * mixed. A {@link dev.finetune.core.stage.Stage} makes
 * one per epoch ({@code stage.plan(groups, epochInStage)}); the training loop and the optimizer take
 * only this value. Immutable.
 *
 * @param trainable the parameters that train, with their settings
 * @param frozen the learnable parameters that stay frozen
 * @param groupMultipliers the strategy's multiplier of the base rate per layer group (0 = frozen)
 * @param learningRate the base rate (the head's) before the schedule
 * @param optimizer the update rule
 * @param schedule the factor over the stage's steps, multiplied into every rate
 * @param clipNorm the maximum global gradient norm, 0 for no clipping
 * @param batchNorm the BatchNorm policy of the epoch
 * @param accumulation batches whose gradients make one optimizer step (1: a step per batch)
 * @param mixUp how training batches are mixed ({@link MixUp#none()} for not at all)
 */
public record EpochPlan(
        List<Trainable> trainable,
        List<Parameter> frozen,
        double[] groupMultipliers,
        double learningRate,
        OptimizerSpec optimizer,
        Schedule schedule,
        double clipNorm,
        BatchNormPolicy batchNorm,
        int accumulation,
        MixUp mixUp) {

    /**
     * One trainable parameter of the plan.
     *
     * @param name the parameter's full name
     * @param parameter the parameter
     * @param group the index of its layer group
     * @param learningRate its rate before the schedule (the base rate times its group's multiplier)
     * @param decays whether weight decay applies (never to biases and normalisation parameters)
     * @param weightDecay the decay applied to it (0 when it does not decay)
     */
    public record Trainable(String name, Parameter parameter, int group, double learningRate, boolean decays,
            double weightDecay) {}

    /**
     * Copies the lists; checks that something trains.
     *
     * @param trainable the parameters that train, with their settings
     * @param frozen the learnable parameters that stay frozen
     * @param groupMultipliers the strategy's multiplier of the base rate per layer group (0 = frozen)
     * @param learningRate the base rate (the head's) before the schedule
     * @param optimizer the update rule
     * @param schedule the factor over the stage's steps, multiplied into every rate
     * @param clipNorm the maximum global gradient norm, 0 for no clipping
     * @param batchNorm the BatchNorm policy of the epoch
     * @param accumulation the batches whose gradients add up to one optimizer step (1 for none)
     * @param mixUp the batch mixing of the epoch ({@code MixUp.none()} for none)
     */
    public EpochPlan {
        trainable = List.copyOf(trainable);
        frozen = List.copyOf(frozen);
        groupMultipliers = groupMultipliers.clone();
        Objects.requireNonNull(optimizer, "optimizer");
        Objects.requireNonNull(schedule, "schedule");
        Objects.requireNonNull(batchNorm, "batchNorm");
        Objects.requireNonNull(mixUp, "mixUp (MixUp.none() for no mixing)");
        if (accumulation < 1) {
            throw new IllegalArgumentException("A step needs at least 1 batch, got accumulation " + accumulation + ".");
        }
        if (trainable.isEmpty()) {
            throw new IllegalArgumentException(
                    "This stage trains nothing: every parameter is frozen. Give the strategy at"
                            + " least one trainable group (e.g. headOnly()).");
        }
    }

    /**
     * A plan that steps after every batch and does not mix batches.
     *
     * @param trainable the parameters that train, with their settings
     * @param frozen the learnable parameters that stay frozen
     * @param groupMultipliers the strategy's multiplier of the base rate per layer group
     * @param learningRate the base rate before the schedule
     * @param optimizer the update rule
     * @param schedule the factor over the stage's steps
     * @param clipNorm the maximum global gradient norm, 0 for no clipping
     * @param batchNorm the BatchNorm policy of the epoch
     */
    public EpochPlan(List<Trainable> trainable, List<Parameter> frozen, double[] groupMultipliers, double learningRate,
            OptimizerSpec optimizer, Schedule schedule, double clipNorm, BatchNormPolicy batchNorm) {
        this(trainable, frozen, groupMultipliers, learningRate, optimizer, schedule, clipNorm, batchNorm, 1,
                MixUp.none());
    }

    /**
     * @param batches batches whose mean gradient makes one optimizer step, at least 1
     * @return a copy with that accumulation
     */
    public EpochPlan withAccumulation(int batches) {
        return new EpochPlan(trainable, frozen, groupMultipliers, learningRate, optimizer, schedule, clipNorm, batchNorm,
                batches, mixUp);
    }

    /**
     * @param mixing how training batches are mixed
     * @return a copy with that mixing
     */
    public EpochPlan withMixUp(MixUp mixing) {
        return new EpochPlan(trainable, frozen, groupMultipliers, learningRate, optimizer, schedule, clipNorm, batchNorm,
                accumulation, mixing);
    }

    /**
     * Builds a plan from a model's groups and one multiplier per group.
     *
     * @param groups the model's layer groups
     * @param multipliers one per group, 0 = frozen
     * @param learningRate the base rate (the head's), multiplied per group
     * @param weightDecay the decay of parameters that decay
     * @param optimizer the update rule
     * @param schedule the schedule over the stage's steps
     * @param clipNorm the maximum global gradient norm, 0 for none
     * @param batchNorm the BatchNorm policy ({@code FREEZE_AFFINE} keeps normalisation scale and
     *     shift frozen)
     * @return the plan
     */
    public static EpochPlan of(LayerGroups groups, double[] multipliers, double learningRate, double weightDecay,
            OptimizerSpec optimizer, Schedule schedule, double clipNorm, BatchNormPolicy batchNorm) {
        if (multipliers.length != groups.size()) {
            throw new IllegalArgumentException(
                    "Got " + multipliers.length + " multipliers for " + groups.size() + " groups.");
        }
        boolean freezeNormAffine = batchNorm == BatchNormPolicy.FREEZE_AFFINE;
        List<Trainable> trainable = new ArrayList<>();
        List<Parameter> frozen = new ArrayList<>();
        for (int g = 0; g < groups.size(); g++) {
            for (Pair<String, Parameter> p : groups.get(g).parameters()) {
                Parameter param = p.getValue();
                if (!LayerGroup.isLearnable(param)) {
                    continue;
                }
                boolean train = multipliers[g] > 0 && !(freezeNormAffine && LayerGroup.isNormParameter(p.getKey(), param));
                if (train) {
                    boolean decays = LayerGroup.decays(p.getKey(), param);
                    trainable.add(new Trainable(p.getKey(), param, g, learningRate * multipliers[g], decays,
                            decays ? weightDecay : 0));
                } else {
                    frozen.add(param);
                }
            }
        }
        return new EpochPlan(trainable, frozen, multipliers, learningRate, optimizer, schedule, clipNorm, batchNorm);
    }

    /** @return the strategy's multiplier per group (a copy) */
    @Override
    public double[] groupMultipliers() {
        return groupMultipliers.clone();
    }

    /** @return whether BatchNorm layers run in inference mode and keep their pretrained statistics */
    public boolean keepsBatchNormStatistics() {
        return batchNorm == BatchNormPolicy.KEEP_STATISTICS;
    }

    /** @return the number of trainable scalar values */
    public long trainableValues() {
        long n = 0;
        for (Trainable e : trainable) {
            n += e.parameter().getArray().getShape().size();
        }
        return n;
    }
}
