package dev.finetune.core.result;

/** The validation measure that picks the best epoch (and so the checkpoint kept). */
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
