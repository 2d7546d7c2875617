package dev.finetune.core.plan;

import java.util.Locale;

/**
 * The learning-rate factor over the steps of a stage, multiplied into each group's rate: constant,
 * or linear warmup then cosine decay. Immutable.
 */
public interface Schedule {

    /**
     * The factor for a step.
     *
     * @param step the 0-based step within the stage
     * @param totalSteps the number of steps in the stage
     * @return the factor, in [0, 1]
     */
    double factor(long step, long totalSteps);

    /** @return a short description */
    String describe();

    /**
     * A factor of 1 throughout.
     *
     * @return the schedule
     */
    static Schedule constant() {
        return new Constant();
    }

    /**
     * Linear warmup up to 1 over the first {@code warmupFraction} of the
     * steps, then cosine decay to {@code finalFactor}.
     *
     * @param warmupFraction share of the stage spent warming up, in [0, 1)
     * @param finalFactor the factor at the last step, in [0, 1]
     * @return the schedule
     */
    static Schedule warmupCosine(double warmupFraction, double finalFactor) {
        return new WarmupCosine(warmupFraction, finalFactor);
    }

    /** A factor of 1. */
    record Constant() implements Schedule {
        @Override
        public double factor(long step, long totalSteps) {
            return 1.0;
        }

        @Override
        public String describe() {
            return "constant";
        }
    }

    /**
     * Linear warmup, then cosine decay.
     *
     * @param warmupFraction share of steps warming up
     * @param finalFactor factor at the end
     */
    record WarmupCosine(double warmupFraction, double finalFactor) implements Schedule {
        /**
         * Validates the values.
         *
         * @param warmupFraction share of steps warming up
         * @param finalFactor factor at the end
         */
        public WarmupCosine {
            if (!(warmupFraction >= 0 && warmupFraction < 1) || !(finalFactor >= 0 && finalFactor <= 1)) {
                throw new IllegalArgumentException(
                        "warmupCosine needs warmupFraction in [0,1) and finalFactor in [0,1], got "
                                + warmupFraction + ", " + finalFactor);
            }
        }

        @Override
        public double factor(long step, long totalSteps) {
            long warmup = (long) Math.floor(warmupFraction * totalSteps);
            if (step < warmup) {
                return (step + 1.0) / warmup;
            }
            long decaySteps = Math.max(1, totalSteps - warmup - 1);
            double progress = Math.min(1.0, (double) (step - warmup) / decaySteps);
            return finalFactor + (1 - finalFactor) * 0.5 * (1 + Math.cos(Math.PI * progress));
        }

        @Override
        public String describe() {
            return String.format(Locale.ROOT, "warmup(%.2f)+cosine(->%.3g)", warmupFraction, finalFactor);
        }
    }
}
