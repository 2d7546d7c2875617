package dev.finetune.core.result;

/**
 * The validation measure that picks the best epoch (and so the checkpoint kept). Ties are broken by
 * validation loss (lower wins; for {@link #LOSS}, by higher validation accuracy), then by the
 * earlier epoch: among epochs of equal accuracy the one with the most confident right answers is
 * kept.
 */
public enum CheckpointMetric {
    /** Validation accuracy; higher is better. */
    ACCURACY,
    /** Validation macro-F1, better for imbalanced classes; higher is better. */
    MACRO_F1,
    /** Validation loss; lower is better. */
    LOSS;

    /**
     * The value of this metric in an epoch.
     *
     * @param m the epoch's metrics
     * @return the value
     */
    public double of(EpochMetrics m) {
        switch (this) {
            case ACCURACY:
                return m.validationAccuracy();
            case MACRO_F1:
                return m.validationMacroF1();
            default:
                return m.validationLoss();
        }
    }

    /**
     * Whether an epoch is better than the best so far: strictly better by this metric, or equal and
     * better by the tie-break (validation loss; for {@link #LOSS}, validation accuracy).
     *
     * @param candidate the new epoch
     * @param best the best epoch so far, or null when none
     * @return whether the candidate is better
     */
    public boolean isBetter(EpochMetrics candidate, EpochMetrics best) {
        if (best == null) {
            return !Double.isNaN(of(candidate));
        }
        double a = of(candidate);
        double b = of(best);
        if (isBetter(a, b)) {
            return true;
        }
        if (a != b) {
            return false;
        }
        return this == LOSS
                ? candidate.validationAccuracy() > best.validationAccuracy()
                : candidate.validationLoss() < best.validationLoss();
    }

    /**
     * Compares values alone, without a tie-break.
     *
     * @param candidate a new value
     * @param best the best so far (NaN when none)
     * @return whether the candidate is strictly better
     */
    public boolean isBetter(double candidate, double best) {
        if (Double.isNaN(best)) {
            return !Double.isNaN(candidate);
        }
        return this == LOSS ? candidate < best : candidate > best;
    }
}
