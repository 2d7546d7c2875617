package dev.finetune.core.stage;

import dev.finetune.core.groups.LayerGroups;
import dev.finetune.core.plan.BatchNormPolicy;
import dev.finetune.core.plan.EpochPlan;
import dev.finetune.core.plan.MixUp;
import dev.finetune.core.plan.OptimizerSpec;
import dev.finetune.core.plan.Schedule;
import dev.finetune.core.strategy.Strategy;

import java.util.Locale;
import java.util.Objects;

/**
 * One phase of a fine-tune: a strategy trained for some epochs with an optimizer, a learning-rate
 * schedule, a BatchNorm policy, weight decay, optional gradient clipping by global norm, and optional
 * gradient accumulation and MixUp/CutMix.
 * Immutable: every {@code withX} returns a new stage, so plans are safe to share.
 *
 * <pre>{@code
 * Stage head = Stage.headOnly().withEpochs(2);                 // AdamW, lr 1e-3, warmup + cosine
 * Stage tune = Stage.of(Strategy.discriminative(2.6).withReinitializedTop(1))
 *         .withEpochs(5).withLearningRate(3e-4)
 *         .withOptimizer(OptimizerSpec.sgd(0.9))
 *         .withSchedule(Schedule.warmupCosine(0.1, 0.0))
 *         .withBatchNormPolicy(BatchNormPolicy.FREEZE_AFFINE)
 *         .withClipNorm(1.0);
 * Stage budget = Stage.headOnly().withSteps(300);              // enough whole epochs for 300 steps
 * FineTuneResult result = FineTuner.from(model).replaceHead(5)
 *         .stage(head).stage(tune)
 *         .fit(train, validation);
 * }</pre>
 */
public final class Stage {

    private final String name;
    private final Strategy strategy;
    private final int epochs;
    private final double learningRate;
    private final double weightDecay;
    private final OptimizerSpec optimizer;
    private final Schedule schedule;
    private final BatchNormPolicy batchNormPolicy;
    private final double clipNorm;
    private final int steps;
    private final int accumulation;
    private final MixUp mixUp;

    private Stage(
            String name,
            Strategy strategy,
            int epochs,
            double learningRate,
            double weightDecay,
            OptimizerSpec optimizer,
            Schedule schedule,
            BatchNormPolicy batchNormPolicy,
            double clipNorm,
            int steps,
            int accumulation,
            MixUp mixUp) {
        if (epochs < 1) {
            throw new IllegalArgumentException("A stage needs at least 1 epoch, got " + epochs);
        }
        if (!(learningRate > 0) || Double.isInfinite(learningRate)) {
            throw new IllegalArgumentException(
                    "The learning rate must be a positive finite number, got " + learningRate);
        }
        if (!(weightDecay >= 0) || Double.isInfinite(weightDecay)) {
            throw new IllegalArgumentException("Weight decay must be >= 0, got " + weightDecay);
        }
        if (!(clipNorm >= 0) || Double.isInfinite(clipNorm)) {
            throw new IllegalArgumentException(
                    "The clipping norm must be >= 0 (0 turns clipping off), got " + clipNorm);
        }
        this.name = Objects.requireNonNull(name, "name");
        this.strategy = Objects.requireNonNull(strategy, "strategy");
        this.epochs = epochs;
        this.learningRate = learningRate;
        this.weightDecay = weightDecay;
        this.optimizer = Objects.requireNonNull(optimizer, "optimizer");
        this.schedule = Objects.requireNonNull(schedule, "schedule");
        this.batchNormPolicy = Objects.requireNonNull(batchNormPolicy, "batchNormPolicy");
        this.clipNorm = clipNorm;
        if (steps < 0) {
            throw new IllegalArgumentException("A step budget must be positive (or 0 for epochs), got " + steps);
        }
        this.steps = steps;
        if (accumulation < 1) {
            throw new IllegalArgumentException("Gradient accumulation needs at least 1 batch per optimizer step, got "
                    + accumulation + " (1 steps after every batch).");
        }
        this.accumulation = accumulation;
        this.mixUp = Objects.requireNonNull(mixUp, "mixUp: use MixUp.none() for a stage without mixing");
    }

    /**
     * A stage for any strategy with the defaults: 1 epoch, AdamW, learning rate 1e-3, weight decay
     * 1e-4, 10% warmup then cosine decay, pretrained BatchNorm statistics kept, no clipping.
     *
     * @param strategy what trains
     * @return the stage
     */
    public static Stage of(Strategy strategy) {
        return new Stage(
                strategy.describe(),
                strategy,
                1,
                1e-3,
                1e-4,
                OptimizerSpec.adamW(),
                Schedule.warmupCosine(0.1, 0.0),
                BatchNormPolicy.KEEP_STATISTICS,
                0,
                0,
                1,
                MixUp.none());
    }

    /**
     * Head-only (feature extraction) at learning rate 1e-3.
     *
     * @return the stage
     */
    public static Stage headOnly() {
        return of(Strategy.headOnly());
    }

    /**
     * The last {@code blocks} groups and the head at learning rate 3e-4.
     *
     * @param blocks groups below the head to train
     * @return the stage
     */
    public static Stage partial(int blocks) {
        return of(Strategy.partial(blocks)).withLearningRate(3e-4);
    }

    /**
     * Every group at one low learning rate, 1e-4 (10x below head-only).
     *
     * @return the stage
     */
    public static Stage full() {
        return of(Strategy.full()).withLearningRate(1e-4);
    }

    /**
     * Discriminative rates at 3e-4 for the head, divided by {@code factor} per group below.
     *
     * @param factor ratio between neighbouring groups (2-3)
     * @return the stage
     */
    public static Stage discriminative(double factor) {
        return of(Strategy.discriminative(factor)).withLearningRate(3e-4);
    }

    /**
     * Gradual unfreezing, one more group per epoch, rates divided by 2.6 per group, 3e-4 at the
     * head; give it as many epochs as groups to unfreeze everything.
     *
     * @return the stage
     */
    public static Stage gradualUnfreezing() {
        return of(Strategy.gradualUnfreezing(1, 2.6)).withLearningRate(3e-4);
    }

    /**
     * Resolves one epoch of this stage on a model's groups: each trainable parameter's rate and
     * decay, the optimizer, the schedule, clipping, the BatchNorm policy, accumulation and mixing.
     *
     * @param groups the model's groups
     * @param epochInStage 0-based epoch within the stage
     * @return the epoch's plan
     */
    public EpochPlan plan(LayerGroups groups, int epochInStage) {
        EpochPlan plan = EpochPlan.of(groups, strategy.multipliers(groups.size(), epochInStage), learningRate,
                weightDecay, optimizer, schedule, clipNorm, batchNormPolicy);
        return accumulation == 1 && !mixUp.enabled() ? plan : plan.withAccumulation(accumulation).withMixUp(mixUp);
    }

    /** @return the display name (the strategy's description unless renamed) */
    public String name() {
        return name;
    }

    /** @return the strategy */
    public Strategy strategy() {
        return strategy;
    }

    /** @return the number of epochs */
    public int epochs() {
        return epochs;
    }

    /** @return the learning rate of the head (groups get it times their multiplier) */
    public double learningRate() {
        return learningRate;
    }

    /** @return the weight decay applied to weights (not biases or norms) */
    public double weightDecay() {
        return weightDecay;
    }

    /** @return the optimizer */
    public OptimizerSpec optimizer() {
        return optimizer;
    }

    /** @return the learning-rate schedule */
    public Schedule schedule() {
        return schedule;
    }

    /** @return the BatchNorm policy */
    public BatchNormPolicy batchNormPolicy() {
        return batchNormPolicy;
    }

    /** @return the maximum global gradient norm, 0 when clipping is off */
    public double clipNorm() {
        return clipNorm;
    }

    /**
     * Same as {@link #withEpochs(int)}, named for the fluent form
     * {@code Stage.headOnly().epochs(3)}.
     *
     * @param n epochs
     * @return the derived stage
     */
    public Stage epochs(int n) {
        return withEpochs(n);
    }

    /**
     * @param n epochs, at least 1
     * @return a copy with that many epochs
     */
    public Stage withEpochs(int n) {
        return new Stage(name, strategy, n, learningRate, weightDecay, optimizer, schedule, batchNormPolicy,
                clipNorm, 0, accumulation, mixUp);
    }

    /**
     * @param newName the display name
     * @return a renamed copy
     */
    public Stage withName(String newName) {
        return new Stage(newName, strategy, epochs, learningRate, weightDecay, optimizer, schedule, batchNormPolicy,
                clipNorm, steps, accumulation, mixUp);
    }

    /**
     * @param newStrategy what trains
     * @return a copy with another strategy
     */
    public Stage withStrategy(Strategy newStrategy) {
        return new Stage(name, newStrategy, epochs, learningRate, weightDecay, optimizer, schedule, batchNormPolicy,
                clipNorm, steps, accumulation, mixUp);
    }

    /**
     * @param lr the head's learning rate
     * @return a copy with that rate
     */
    public Stage withLearningRate(double lr) {
        return new Stage(name, strategy, epochs, lr, weightDecay, optimizer, schedule, batchNormPolicy, clipNorm,
                steps, accumulation, mixUp);
    }

    /**
     * @param decay weight decay for weights (biases and norms never decay)
     * @return a copy with that decay
     */
    public Stage withWeightDecay(double decay) {
        return new Stage(name, strategy, epochs, learningRate, decay, optimizer, schedule, batchNormPolicy, clipNorm,
                steps, accumulation, mixUp);
    }

    /**
     * @param spec the optimizer
     * @return a copy with that optimizer
     */
    public Stage withOptimizer(OptimizerSpec spec) {
        return new Stage(name, strategy, epochs, learningRate, weightDecay, spec, schedule, batchNormPolicy,
                clipNorm, steps, accumulation, mixUp);
    }

    /**
     * @param newSchedule the schedule
     * @return a copy with that schedule
     */
    public Stage withSchedule(Schedule newSchedule) {
        return new Stage(name, strategy, epochs, learningRate, weightDecay, optimizer, newSchedule, batchNormPolicy,
                clipNorm, steps, accumulation, mixUp);
    }

    /**
     * @param policy the BatchNorm policy
     * @return a copy with that policy
     */
    public Stage withBatchNormPolicy(BatchNormPolicy policy) {
        return new Stage(name, strategy, epochs, learningRate, weightDecay, optimizer, schedule, policy, clipNorm,
                steps, accumulation, mixUp);
    }

    /**
     * @param maxNorm the maximum global gradient norm, 0 for none
     * @return a copy with clipping
     */
    public Stage withClipNorm(double maxNorm) {
        return new Stage(name, strategy, epochs, learningRate, weightDecay, optimizer, schedule, batchNormPolicy,
                maxNorm, steps, accumulation, mixUp);
    }

    /**
     * A budget in optimizer steps instead of epochs: the stage runs {@code ceil(n / steps per
     * epoch)} epochs, so small data sets get as many updates as large ones (a head needs a few
     * hundred steps, whatever the data's size).
     *
     * @param n optimizer steps, at least 1
     * @return a copy with that budget
     */
    public Stage withSteps(int n) {
        if (n < 1) {
            throw new IllegalArgumentException("A stage needs at least 1 step, got " + n);
        }
        return new Stage(name, strategy, epochs, learningRate, weightDecay, optimizer, schedule, batchNormPolicy,
                clipNorm, n, accumulation, mixUp);
    }

    /**
     * Gradient accumulation: the optimizer steps once every {@code batches} batches with their mean
     * gradient, as one {@code batches} times larger batch would (exactly so for models without
     * BatchNorm in training mode: BatchNorm normalises each batch by its own statistics), for large
     * images on small memory. The schedule, {@link #withSteps} budgets and the listeners' steps count
     * optimizer steps; clipping applies to the accumulated gradient. An epoch ends with a step over
     * what it has accumulated: the last group may have fewer batches (or a smaller last batch), and its
     * gradient is the mean over the samples it holds. Nothing carries over to the next epoch.
     *
     * @param batches batches per optimizer step, at least 1 (1, the default, steps after every batch)
     * @return a copy with that accumulation
     */
    public Stage withAccumulation(int batches) {
        return new Stage(name, strategy, epochs, learningRate, weightDecay, optimizer, schedule, batchNormPolicy,
                clipNorm, steps, batches, mixUp);
    }

    /** @return batches per optimizer step (1 when not accumulating) */
    public int accumulation() {
        return accumulation;
    }

    /**
     * Mixes this stage's training batches by MixUp and/or CutMix ({@link MixUp}); the loss is then
     * computed on the mixed (soft) targets, which needs the library's cross-entropy (the default,
     * with or without class weights and smoothing). Training accuracy counts a prediction as right when
     * it names the label with the larger share of the mix. Validation is never mixed. A stage that
     * mixes does not use the feature cache (the images are mixed, not features).
     *
     * @param mixing the mixing, or {@link MixUp#none()} to turn it off (the default)
     * @return a copy with that mixing
     */
    public Stage withMixUp(MixUp mixing) {
        return new Stage(name, strategy, epochs, learningRate, weightDecay, optimizer, schedule, batchNormPolicy,
                clipNorm, steps, accumulation, mixing);
    }

    /** @return how training batches are mixed ({@link MixUp#none()} when they are not) */
    public MixUp mixUp() {
        return mixUp;
    }

    /** @return the budget in optimizer steps, or 0 when the budget is {@link #epochs()} */
    public int steps() {
        return steps;
    }

    /**
     * The optimizer steps of one epoch over a number of batches: {@code ceil(batches / accumulation)}.
     *
     * @param batches training batches per epoch
     * @return optimizer steps per epoch
     */
    public long stepsPerEpoch(long batches) {
        return (batches + accumulation - 1) / accumulation;
    }

    /**
     * The epochs this stage runs on data of a given size.
     *
     * @param stepsPerEpoch optimizer steps per epoch ({@link #stepsPerEpoch(long)} of the training data's
     *     batches)
     * @return the epochs: {@link #epochs()}, or enough whole epochs for the step budget
     */
    public int epochsFor(long stepsPerEpoch) {
        if (steps == 0) {
            return epochs;
        }
        return (int) Math.max(1, (steps + Math.max(1, stepsPerEpoch) - 1) / Math.max(1, stepsPerEpoch));
    }

    /**
     * @return every setting in one line; two stages with equal descriptions train alike (accumulation
     *     and mixing appear only when set, so plans without them read as before)
     */
    public String describe() {
        String base = String.format(
                Locale.ROOT,
                "%s: strategy=%s %s lr=%s wd=%s optimizer=%s schedule=%s bn=%s clip=%s",
                name,
                strategy.describe(),
                steps > 0 ? "steps=" + steps : "epochs=" + epochs,
                learningRate,
                weightDecay,
                optimizer.describe(),
                schedule.describe(),
                batchNormPolicy,
                clipNorm);
        return base + (accumulation > 1 ? " accumulate=" + accumulation : "")
                + (mixUp.enabled() ? " mix=" + mixUp.describe() : "");
    }

    @Override
    public String toString() {
        return describe();
    }
}
