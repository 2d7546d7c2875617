package dev.finetune.core.result;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** Metrics from counts, and the overfitting warning from curves. */
class ResultTest {

    @Test
    void macroF1MatchesHandComputedValues() {
        // true\pred: class 0: 8 right, 2 as 1; class 1: 3 as 0, 6 right, 1 as 2; class 2: 5 right
        ConfusionMatrix cm = new ConfusionMatrix(new long[][] {{8, 2, 0}, {3, 6, 1}, {0, 0, 5}}, List.of("a", "b", "c"));
        double f0 = 2 * (8 / 11.0) * (8 / 10.0) / (8 / 11.0 + 8 / 10.0);
        double f1 = 2 * (6 / 8.0) * (6 / 10.0) / (6 / 8.0 + 6 / 10.0);
        double f2 = 2 * (5 / 6.0) * 1.0 / (5 / 6.0 + 1.0);
        assertThat(cm.accuracy()).isCloseTo(19 / 25.0, within(1e-12));
        assertThat(cm.macroF1()).isCloseTo((f0 + f1 + f2) / 3, within(1e-12));
        assertThat(cm.toString()).contains("true\\pred").contains("a");
        // a class absent from labels and predictions does not count
        ConfusionMatrix absent = new ConfusionMatrix(new long[][] {{4, 0, 0}, {0, 4, 0}, {0, 0, 0}}, List.of("a", "b", "c"));
        assertThat(absent.macroF1()).isEqualTo(1.0);
    }

    private static EpochMetrics epoch(int n, double trainLoss, double valLoss, double valAcc) {
        return new EpochMetrics(new EpochMetrics.Position(n, 0, "full", n),
                new EpochMetrics.Training(trainLoss, 0.9, 1e-3, 100, 0.5), new EpochMetrics.Validation(valLoss, valAcc, valAcc),
                new EpochMetrics.Cost(1.0, 100, 3));
    }

    /** Issue 13, point 6: equal accuracy over epochs kept the first although validation loss fell. */
    @Test
    void tiesAreBrokenByValidationLossThenByTheEarlierEpoch() {
        EpochMetrics first = epoch(1, 1.0, 0.90, 0.75);
        EpochMetrics surer = epoch(2, 0.8, 0.65, 0.75);
        EpochMetrics same = epoch(3, 0.7, 0.65, 0.75);
        EpochMetrics better = epoch(4, 0.6, 0.99, 0.80);
        CheckpointMetric acc = CheckpointMetric.ACCURACY;
        assertThat(acc.isBetter(first, null)).isTrue();
        assertThat(acc.isBetter(surer, first)).as("equal accuracy, lower loss").isTrue();
        assertThat(acc.isBetter(first, surer)).isFalse();
        assertThat(acc.isBetter(same, surer)).as("a full tie keeps the earlier epoch").isFalse();
        assertThat(acc.isBetter(better, surer)).as("higher accuracy wins whatever the loss").isTrue();
        assertThat(acc.isBetter(surer, better)).isFalse();
        assertThat(CheckpointMetric.MACRO_F1.isBetter(surer, first)).isTrue();
        // for the loss metric, equal loss is broken by accuracy
        EpochMetrics moreRight = epoch(5, 0.6, 0.65, 0.80);
        assertThat(CheckpointMetric.LOSS.isBetter(moreRight, surer)).isTrue();
        assertThat(CheckpointMetric.LOSS.isBetter(surer, moreRight)).isFalse();
        assertThat(CheckpointMetric.LOSS.isBetter(first, surer)).isFalse();
    }

    @Test
    void overfittingIsStatedWhenValidationWorsensWhileTrainingImproves() {
        ConfusionMatrix cm = new ConfusionMatrix(new long[][] {{1, 0}, {0, 1}}, List.of("x", "y"));
        FineTuneResult overfit = new FineTuneResult(
                List.of(epoch(1, 1.0, 0.8, 0.7), epoch(2, 0.6, 0.6, 0.8), epoch(3, 0.3, 0.7, 0.78), epoch(4, 0.1, 0.9, 0.75)),
                List.of("full"), CheckpointMetric.ACCURACY, 1, cm, null, 42);
        assertThat(overfit.warnings()).singleElement().asString()
                .startsWith("Overfitting: validation loss rose from 0.6000 (epoch 2) to 0.9000 (epoch 4)")
                .contains("checkpoint keeps epoch 2");
        assertThat(overfit.toString()).contains("WARNING Overfitting").contains("    2* ");

        FineTuneResult healthy = new FineTuneResult(
                List.of(epoch(1, 1.0, 0.8, 0.7), epoch(2, 0.6, 0.6, 0.8), epoch(3, 0.4, 0.5, 0.85)),
                List.of("full"), CheckpointMetric.ACCURACY, 2, cm, null, 42);
        assertThat(healthy.warnings()).isEmpty();
    }
}
