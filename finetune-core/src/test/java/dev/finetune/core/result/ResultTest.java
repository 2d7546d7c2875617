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

    /** Issue 13, point 5: the history out as CSV and JSON that read back to the same values. */
    @Test
    void historyRoundTripsThroughCsvAndJson(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
        EpochMetrics a = new EpochMetrics(new EpochMetrics.Position(1, 0, "head, \"quoted\"", 1),
                new EpochMetrics.Training(1.25, 0.5, 1e-3, 100, 0.5), new EpochMetrics.Validation(0.9, 0.75, 0.7),
                new EpochMetrics.Cost(1.0, 100, 3));
        EpochMetrics b = new EpochMetrics(new EpochMetrics.Position(2, 1, "full", 1),
                new EpochMetrics.Training(0.75, 0.8, 1e-4, 100, 0.7), new EpochMetrics.Validation(0.6, 0.8, 0.78),
                new EpochMetrics.Cost(1.5, 5000, 3));
        ConfusionMatrix cm = new ConfusionMatrix(new long[][] {{3, 1}, {0, 4}}, List.of("cat", "dog"));
        FineTuneResult r = new FineTuneResult(List.of(a, b), List.of("head-only", "full"), CheckpointMetric.ACCURACY, 1,
                cm, dir.resolve("best.ckpt"), 7, List.of("No validation samples of class(es) [x]"));

        java.nio.file.Path csv = r.writeHistory(dir.resolve("out/history.csv"));
        List<org.apache.commons.csv.CSVRecord> rows;
        try (var parser = org.apache.commons.csv.CSVFormat.RFC4180.builder().setHeader().setSkipHeaderRecord(true).get()
                .parse(java.nio.file.Files.newBufferedReader(csv))) {
            rows = parser.getRecords();
        }
        assertThat(rows).hasSize(2);
        assertThat(rows.get(0).get("stage_name")).isEqualTo("head, \"quoted\"");
        assertThat(rows.get(0).get("stage")).isEqualTo("1");
        assertThat(Double.parseDouble(rows.get(0).get("train_loss"))).isEqualTo(1.25);
        assertThat(Double.parseDouble(rows.get(1).get("val_macro_f1"))).isEqualTo(0.78);
        assertThat(rows.get(1).get("trainable_parameters")).isEqualTo("5000");
        assertThat(rows).extracting(x -> x.get("best")).containsExactly("false", "true");

        java.nio.file.Path json = r.writeHistory(dir.resolve("history.json"));
        var tree = com.google.gson.JsonParser.parseString(java.nio.file.Files.readString(json)).getAsJsonObject();
        assertThat(tree.get("bestEpoch").getAsInt()).isEqualTo(2);
        assertThat(tree.get("seed").getAsLong()).isEqualTo(7);
        assertThat(tree.getAsJsonArray("warnings").get(0).getAsString()).contains("No validation samples");
        assertThat(tree.getAsJsonObject("bestConfusion").getAsJsonArray("counts").get(0).getAsJsonArray().get(1).getAsLong())
                .isEqualTo(1);
        var epochs = tree.getAsJsonArray("epochs");
        assertThat(epochs).hasSize(2);
        assertThat(new com.google.gson.Gson().fromJson(epochs.get(1), EpochMetrics.class)).isEqualTo(b);

        org.assertj.core.api.Assertions.assertThatThrownBy(() -> r.writeHistory(dir.resolve("history.txt")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining(".csv or .json");
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
