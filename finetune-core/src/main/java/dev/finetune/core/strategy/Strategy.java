package dev.finetune.core.strategy;

import java.util.Arrays;
import java.util.Locale;

/**
 * Which layer groups train, and at what learning-rate multiplier, in each epoch of a stage. A
 * strategy is an immutable value; the same one can be shared between stages and threads.
 *
 * <p>Multipliers are relative to the stage's learning rate, which applies to the head; 0 means the
 * group is frozen (no gradient is computed for it and the optimizer holds no state for it). A stage
 * trains a strategy ({@link dev.finetune.core.stage.Stage#of}):
 *
 * <pre>{@code
 * Stage head = Stage.of(Strategy.headOnly()).withEpochs(3);
 * // the head at 3e-4, each group below it at the rate above / 2.6; the head re-initialised first
 * Stage tune = Stage.of(Strategy.discriminative(2.6).withReinitializedTop(1))
 *         .withEpochs(5).withLearningRate(3e-4);
 * double[] m = Strategy.partial(2).multipliers(5, 0);       // {0, 0, 1, 1, 1}: 2 groups below the head, and the head
 * String d = Strategy.gradualUnfreezing(1, 2.6).describe(); // "gradual-unfreezing(every 1 epochs, x2.60)"
 * }</pre>
 */
public interface Strategy {

    /**
     * The learning-rate multiplier of each group, stem first, head last.
     *
     * @param groupCount the number of layer groups of the model (head included)
     * @param epochInStage the 0-based epoch within the stage
     * @return one multiplier per group, 0 for frozen groups
     */
    double[] multipliers(int groupCount, int epochInStage);

    /**
     * How many of the top layer groups (the head counts as one) are re-initialised at random
     * before the stage starts, as in Chu et al. 2016's R(k) setting.
     *
     * @return 0 for none
     */
    default int reinitializedTopGroups() {
        return 0;
    }

    /** @return a short description that identifies the strategy and its settings */
    String describe();

    /**
     * Feature extraction: only the head trains.
     *
     * @return the strategy
     */
    static Strategy headOnly() {
        return new HeadOnly();
    }

    /**
     * Partial fine-tuning: the last {@code blocks} groups before the head and the head train at the
     * same rate.
     *
     * @param blocks how many groups below the head to unfreeze (at least 1)
     * @return the strategy
     */
    static Strategy partial(int blocks) {
        return new Partial(blocks);
    }

    /**
     * Full fine-tuning: every group trains at one rate (give the stage a rate 10-100x lower than
     * for training from scratch).
     *
     * @return the strategy
     */
    static Strategy full() {
        return new Full();
    }

    /**
     * Discriminative (layer-wise) learning rates: all groups train; each group below the head gets
     * the rate of the group above divided by {@code factor} (2-3 is usual; fastai uses 2.6).
     *
     * @param factor the ratio between neighbouring groups, at least 1
     * @return the strategy
     */
    static Strategy discriminative(double factor) {
        return new Discriminative(factor);
    }

    /**
     * Gradual unfreezing: epoch 0 trains the head only, and every {@code epochsPerGroup} epochs one
     * more group below it joins, with rates divided by {@code factor} per group (1 = one rate).
     *
     * @param epochsPerGroup epochs before the next group unfreezes, at least 1
     * @param factor the ratio between neighbouring groups, at least 1
     * @return the strategy
     */
    static Strategy gradualUnfreezing(int epochsPerGroup, double factor) {
        return new GradualUnfreezing(epochsPerGroup, factor);
    }

    /**
     * This strategy with the top {@code groups} layer groups re-initialised before the stage.
     *
     * @param groups how many top groups to re-initialise (the head counts as one), at least 1
     * @return the derived strategy
     */
    default Strategy withReinitializedTop(int groups) {
        return new Reinitialized(this, groups);
    }

    /** Only the head trains. */
    record HeadOnly() implements Strategy {
        @Override
        public double[] multipliers(int groupCount, int epochInStage) {
            double[] m = new double[groupCount];
            m[groupCount - 1] = 1;
            return m;
        }

        @Override
        public String describe() {
            return "head-only";
        }
    }

    /**
     * The last {@code blocks} groups below the head and the head train.
     *
     * @param blocks groups below the head to train
     */
    record Partial(int blocks) implements Strategy {
        /**
         * Validates the block count.
         *
         * @param blocks groups below the head to train
         */
        public Partial {
            if (blocks < 1) {
                throw new IllegalArgumentException(
                        "partial(" + blocks + "): unfreeze at least 1 group below the head;"
                                + " use headOnly() to train the head alone.");
            }
        }

        @Override
        public double[] multipliers(int groupCount, int epochInStage) {
            if (blocks > groupCount - 1) {
                throw new IllegalArgumentException(
                        String.format(
                                Locale.ROOT,
                                "partial(%d) asks for %d groups below the head, but the model has"
                                        + " only %d; use full() or a smaller number.",
                                blocks,
                                blocks,
                                groupCount - 1));
            }
            double[] m = new double[groupCount];
            Arrays.fill(m, groupCount - 1 - blocks, groupCount, 1.0);
            return m;
        }

        @Override
        public String describe() {
            return "partial(" + blocks + ")";
        }
    }

    /** Every group trains at one rate. */
    record Full() implements Strategy {
        @Override
        public double[] multipliers(int groupCount, int epochInStage) {
            double[] m = new double[groupCount];
            Arrays.fill(m, 1.0);
            return m;
        }

        @Override
        public String describe() {
            return "full";
        }
    }

    /**
     * Geometric rates: group i gets {@code factor^-(head - i)}.
     *
     * @param factor ratio between neighbouring groups
     */
    record Discriminative(double factor) implements Strategy {
        /**
         * Validates the factor.
         *
         * @param factor ratio between neighbouring groups
         */
        public Discriminative {
            requireFactor(factor);
        }

        @Override
        public double[] multipliers(int groupCount, int epochInStage) {
            return geometric(groupCount, groupCount, factor);
        }

        @Override
        public String describe() {
            return String.format(Locale.ROOT, "discriminative(x%.3g)", factor);
        }
    }

    /**
     * Head first, then one more group every {@code epochsPerGroup} epochs.
     *
     * @param epochsPerGroup epochs per unfreezing step
     * @param factor ratio between neighbouring groups
     */
    record GradualUnfreezing(int epochsPerGroup, double factor) implements Strategy {
        /**
         * Validates the settings.
         *
         * @param epochsPerGroup epochs per unfreezing step
         * @param factor ratio between neighbouring groups
         */
        public GradualUnfreezing {
            if (epochsPerGroup < 1) {
                throw new IllegalArgumentException(
                        "gradualUnfreezing: epochsPerGroup must be at least 1, got " + epochsPerGroup);
            }
            requireFactor(factor);
        }

        @Override
        public double[] multipliers(int groupCount, int epochInStage) {
            int trainable = Math.min(groupCount, 1 + epochInStage / epochsPerGroup);
            return geometric(groupCount, trainable, factor);
        }

        @Override
        public String describe() {
            return String.format(
                    Locale.ROOT, "gradual-unfreezing(every %d epochs, x%.3g)", epochsPerGroup, factor);
        }
    }

    /**
     * Another strategy, with its top groups re-initialised at the start of the stage.
     *
     * @param base the strategy deciding what trains
     * @param groups top groups to re-initialise
     */
    record Reinitialized(Strategy base, int groups) implements Strategy {
        /**
         * Validates the count.
         *
         * @param base the strategy deciding what trains
         * @param groups top groups to re-initialise
         */
        public Reinitialized {
            if (groups < 1) {
                throw new IllegalArgumentException(
                        "withReinitializedTop(" + groups + "): re-initialise at least 1 group.");
            }
        }

        @Override
        public double[] multipliers(int groupCount, int epochInStage) {
            if (groups > groupCount) {
                throw new IllegalArgumentException(
                        "withReinitializedTop(" + groups + "): the model has only " + groupCount + " groups.");
            }
            double[] m = base.multipliers(groupCount, epochInStage);
            for (int g = groupCount - groups; g < groupCount; g++) {
                if (m[g] == 0) {
                    throw new IllegalArgumentException(
                            "Re-initialising group " + g + " while " + base.describe()
                                    + " keeps it frozen would leave it random; train it or"
                                    + " re-initialise fewer groups.");
                }
            }
            return m;
        }

        @Override
        public int reinitializedTopGroups() {
            return groups;
        }

        @Override
        public String describe() {
            return base.describe() + "+reinit-top(" + groups + ")";
        }
    }

    private static void requireFactor(double factor) {
        if (!(factor >= 1.0) || Double.isInfinite(factor)) {
            throw new IllegalArgumentException(
                    "The learning-rate factor between groups must be a finite number >= 1 (2-3 is"
                            + " usual), got " + factor);
        }
    }

    private static double[] geometric(int groupCount, int trainableTop, double factor) {
        double[] m = new double[groupCount];
        for (int g = groupCount - trainableTop; g < groupCount; g++) {
            m[g] = Math.pow(factor, -(groupCount - 1 - g));
        }
        return m;
    }
}
