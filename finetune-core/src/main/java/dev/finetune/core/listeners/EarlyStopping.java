package dev.finetune.core.listeners;

import dev.finetune.core.FineTuneListener;
import dev.finetune.core.FitControl;
import dev.finetune.core.result.CheckpointMetric;

import java.util.Locale;

/**
 * Ends a stage when its validation metric has not improved for {@code patience} epochs, and puts
 * back the weights of the stage's best epoch so that the next stage (or the end of the fit) starts
 * from them. Patience counts within each stage. Its counters are saved with the last checkpoint, so
 * a resumed run stops where the uninterrupted one would have (the best weights of a stage that
 * began before the resume are then the fit's best checkpoint's, through {@code optRestoreBest}).
 *
 * <pre>{@code
 * tuner.addListener(EarlyStopping.patience(3));                          // validation loss
 * tuner.addListener(EarlyStopping.on(CheckpointMetric.MACRO_F1, 5));
 * }</pre>
 */
public final class EarlyStopping implements FineTuneListener {

    private final CheckpointMetric metric;
    private final int patience;
    private double best = Double.NaN;
    private int bestEpoch;
    private int since;
    private FitControl.Snapshot bestWeights;

    private EarlyStopping(CheckpointMetric metric, int patience) {
        if (patience < 1) {
            throw new IllegalArgumentException("Patience must be at least 1 epoch, got " + patience + ".");
        }
        this.metric = metric;
        this.patience = patience;
    }

    /**
     * Stops a stage after {@code epochs} epochs without a lower validation loss.
     *
     * @param epochs the patience
     * @return the listener
     */
    public static EarlyStopping patience(int epochs) {
        return new EarlyStopping(CheckpointMetric.LOSS, epochs);
    }

    /**
     * Stops a stage after {@code epochs} epochs without a better value of a validation metric.
     *
     * @param metric the metric
     * @param epochs the patience
     * @return the listener
     */
    public static EarlyStopping on(CheckpointMetric metric, int epochs) {
        return new EarlyStopping(metric, epochs);
    }

    @Override
    public void onStageStart(StageStart stage) {
        if (stage.firstEpoch() == 0) {
            best = Double.NaN;
            bestEpoch = 0;
            since = 0;
        }
        closeSnapshot();
    }

    @Override
    public void onEpochEnd(EpochEnd end) {
        double value = metric.of(end.metrics());
        if (metric.isBetter(value, best)) {
            best = value;
            bestEpoch = end.metrics().epoch();
            since = 0;
            closeSnapshot();
            bestWeights = end.control().snapshot();
            return;
        }
        since++;
        if (since >= patience) {
            end.control().stopStage(String.format(Locale.ROOT, "no better validation %s for %d epochs (best %.4f at epoch %d)",
                    metric.name().toLowerCase(Locale.ROOT), since, best, bestEpoch));
            if (bestWeights != null) {
                bestWeights.restore();
            }
            closeSnapshot();
        }
    }

    @Override
    public void onFitEnd(dev.finetune.core.result.FineTuneResult result) {
        closeSnapshot();
    }

    @Override
    public void onFitFailure(Throwable failure) {
        closeSnapshot();
    }

    @Override
    public String saveState() {
        return best + "," + bestEpoch + "," + since;
    }

    @Override
    public void restoreState(String state) {
        String[] parts = state.split(",");
        best = Double.parseDouble(parts[0]);
        bestEpoch = Integer.parseInt(parts[1]);
        since = Integer.parseInt(parts[2]);
    }

    private void closeSnapshot() {
        if (bestWeights != null) {
            bestWeights.close();
            bestWeights = null;
        }
    }
}
