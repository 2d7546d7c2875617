package dev.finetune.core.result;

import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/** Per-class precision, recall, F1 and support, the classification report and the pairs most confused, from hand counts. */
class ConfusionReportTest {

    /**
     * Names out of alphabetical order, so an order by index and an order by name differ. True class
     * by row, predicted by column: zebra 5 right, 2 as ant, 2 as moth; ant 2 as zebra, 6 right;
     * moth 2 as ant, never right; bee neither a label nor a prediction.
     */
    private static final ConfusionMatrix CM = new ConfusionMatrix(new long[][] {
        {5, 2, 2, 0},
        {2, 6, 0, 0},
        {0, 2, 0, 0},
        {0, 0, 0, 0}}, List.of("zebra", "ant", "moth", "bee"));

    @Test
    void perClassPrecisionRecallF1AndSupportMatchHandCounts() {
        // column sums (predicted as): zebra 7, ant 10, moth 2, bee 0; row sums (support): 9, 8, 2, 0
        assertThat(new long[] {CM.support(0), CM.support(1), CM.support(2), CM.support(3)}).containsExactly(9, 8, 2, 0);
        assertThat(new long[] {CM.predictedCount(0), CM.predictedCount(1), CM.predictedCount(2), CM.predictedCount(3)})
                .containsExactly(7, 10, 2, 0);
        assertThat(CM.precision(0)).isCloseTo(5 / 7.0, within(1e-12));
        assertThat(CM.precision(1)).isCloseTo(6 / 10.0, within(1e-12));
        assertThat(CM.precision(2)).isZero();   // predicted twice, never right
        assertThat(CM.precision(3)).isZero();   // never predicted: 0, as scikit-learn's zero_division=0
        assertThat(CM.recall(0)).isCloseTo(5 / 9.0, within(1e-12));
        assertThat(CM.recall(1)).isCloseTo(6 / 8.0, within(1e-12));
        assertThat(CM.recall(2)).isZero();
        assertThat(CM.recall(3)).isZero();     // no samples
        assertThat(CM.f1(0)).isCloseTo(2 * (5 / 7.0) * (5 / 9.0) / (5 / 7.0 + 5 / 9.0), within(1e-12));
        assertThat(CM.f1(1)).isCloseTo(2 * 0.6 * 0.75 / (0.6 + 0.75), within(1e-12));
        assertThat(CM.f1(2)).isZero();
        assertThat(CM.accuracy()).isCloseTo(11 / 19.0, within(1e-12));
    }

    @Test
    void reportListsEveryClassThenAccuracyAndTheMacroAndWeightedAverages() {
        String report = CM.report();
        System.out.print(report);
        List<String> lines = Arrays.stream(report.split("\n")).filter(l -> !l.isBlank()).toList();
        assertThat(lines.get(0).trim().split(" +")).containsExactly("precision", "recall", "f1-score", "support");
        double f0 = 2 * (5 / 7.0) * (5 / 9.0) / (5 / 7.0 + 5 / 9.0);
        double f1 = 2 * 0.6 * 0.75 / (0.6 + 0.75);
        row(lines.get(1), "zebra", 5 / 7.0, 5 / 9.0, f0, 9);
        row(lines.get(2), "ant", 0.6, 0.75, f1, 8);
        row(lines.get(3), "moth", 0, 0, 0, 2);
        row(lines.get(4), "bee", 0, 0, 0, 0);
        String[] accuracy = lines.get(5).trim().split(" +");
        assertThat(accuracy[0]).isEqualTo("accuracy");
        assertThat(Double.parseDouble(accuracy[1])).isCloseTo(11 / 19.0, within(5e-4));
        assertThat(accuracy[2]).isEqualTo("19");
        // macro: over the three classes that occur (bee neither a label nor a prediction), as macroF1()
        row(lines.get(6), "macro avg", (5 / 7.0 + 0.6) / 3, (5 / 9.0 + 0.75) / 3, (f0 + f1) / 3, 19);
        assertThat(CM.macroF1()).isCloseTo((f0 + f1) / 3, within(1e-12));
        // weighted by support
        row(lines.get(7), "weighted avg", (9 * 5 / 7.0 + 8 * 0.6) / 19, (9 * 5 / 9.0 + 8 * 0.75) / 19,
                (9 * f0 + 8 * f1) / 19, 19);
        assertThat(lines).hasSize(8);
    }

    private static void row(String line, String name, double precision, double recall, double f1, long support) {
        assertThat(line.trim()).startsWith(name + " ");
        String[] v = line.trim().substring(name.length()).trim().split(" +");
        assertThat(v).hasSize(4);
        assertThat(Double.parseDouble(v[0])).as("%s precision", name).isCloseTo(precision, within(5e-4));
        assertThat(Double.parseDouble(v[1])).as("%s recall", name).isCloseTo(recall, within(5e-4));
        assertThat(Double.parseDouble(v[2])).as("%s f1", name).isCloseTo(f1, within(5e-4));
        assertThat(Long.parseLong(v[3])).as("%s support", name).isEqualTo(support);
    }

    @Test
    void mostConfusedListsOffDiagonalPairsByCountThenByName() {
        // four pairs of 2: by true name ant, moth, zebra (twice: by predicted name ant, moth)
        assertThat(CM.mostConfused(Integer.MAX_VALUE)).extracting(Object::toString).containsExactly(
                "ant -> zebra: 2", "moth -> ant: 2", "zebra -> ant: 2", "zebra -> moth: 2");
        assertThat(CM.mostConfused(2)).containsExactly(
                new ConfusionMatrix.ConfusedPair(1, "ant", 0, "zebra", 2),
                new ConfusionMatrix.ConfusedPair(2, "moth", 1, "ant", 2));
        assertThat(CM.mostConfused(0)).isEmpty();
        assertThatThrownBy(() -> CM.mostConfused(-1)).isInstanceOf(IllegalArgumentException.class);

        // counts first: the largest cell leads whatever the names; the diagonal never appears
        ConfusionMatrix cm = new ConfusionMatrix(new long[][] {{9, 1, 0}, {0, 9, 4}, {3, 0, 9}}, List.of("a", "b", "c"));
        assertThat(cm.mostConfused(5)).extracting(Object::toString)
                .containsExactly("b -> c: 4", "c -> a: 3", "a -> b: 1");
        ConfusionMatrix perfect = new ConfusionMatrix(new long[][] {{3, 0}, {0, 3}}, List.of("a", "b"));
        assertThat(perfect.mostConfused(3)).isEmpty();
    }
}
