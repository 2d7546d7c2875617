package dev.finetune.core.result;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;

/**
 * Counts of (true class, predicted class) pairs over an evaluation, with accuracy, per-class
 * precision, recall and F1, macro-F1, a per-class report (as scikit-learn's
 * {@code classification_report}) and the pairs of classes most often confused, derived from them.
 * Immutable.
 */
public final class ConfusionMatrix {

    private final long[][] counts;
    private final List<String> classNames;

    /**
     * Creates a matrix; {@code counts[t][p]} is the number of samples of true class t predicted as p.
     *
     * @param counts square counts, copied
     * @param classNames one name per class
     */
    public ConfusionMatrix(long[][] counts, List<String> classNames) {
        if (counts.length != classNames.size()) {
            throw new IllegalArgumentException("Need one class name per row of the matrix.");
        }
        this.counts = new long[counts.length][];
        for (int i = 0; i < counts.length; i++) {
            if (counts[i].length != counts.length) {
                throw new IllegalArgumentException("The confusion matrix must be square.");
            }
            this.counts[i] = counts[i].clone();
        }
        this.classNames = List.copyOf(classNames);
    }

    /** @return the number of classes */
    public int classCount() {
        return counts.length;
    }

    /** @return class names, index order */
    public List<String> classNames() {
        return classNames;
    }

    /**
     * @param trueClass the true class index
     * @param predicted the predicted class index
     * @return how many samples of {@code trueClass} were predicted as {@code predicted}
     */
    public long count(int trueClass, int predicted) {
        return counts[trueClass][predicted];
    }

    /** @return the total number of samples */
    public long total() {
        long n = 0;
        for (long[] row : counts) {
            for (long c : row) {
                n += c;
            }
        }
        return n;
    }

    /** @return correct / total, 0 for an empty matrix */
    public double accuracy() {
        long correct = 0;
        for (int i = 0; i < counts.length; i++) {
            correct += counts[i][i];
        }
        long total = total();
        return total == 0 ? 0 : (double) correct / total;
    }

    /**
     * @param c the class index
     * @return how many samples have true class {@code c} (its row sum)
     */
    public long support(int c) {
        long n = 0;
        for (long v : counts[c]) {
            n += v;
        }
        return n;
    }

    /**
     * @param c the class index
     * @return how many samples were predicted as {@code c} (its column sum)
     */
    public long predictedCount(int c) {
        long n = 0;
        for (long[] row : counts) {
            n += row[c];
        }
        return n;
    }

    /**
     * The precision of one class: of the samples predicted as {@code c}, the share that are
     * {@code c}; 0 when the class is never predicted (as scikit-learn's {@code zero_division=0}).
     *
     * @param c the class index
     * @return its precision
     */
    public double precision(int c) {
        long predicted = predictedCount(c);
        return predicted == 0 ? 0 : (double) counts[c][c] / predicted;
    }

    /**
     * The recall of one class: of the samples of class {@code c}, the share predicted as {@code c};
     * 0 when the class has no samples.
     *
     * @param c the class index
     * @return its recall
     */
    public double recall(int c) {
        long support = support(c);
        return support == 0 ? 0 : (double) counts[c][c] / support;
    }

    /**
     * The F1 score of one class: 2PR/(P+R), 0 when the class is never predicted or never correct.
     *
     * @param c the class index
     * @return its F1
     */
    public double f1(int c) {
        if (counts[c][c] == 0) {
            return 0;
        }
        double precision = precision(c);
        double recall = recall(c);
        return 2 * precision * recall / (precision + recall);
    }

    /**
     * The unweighted mean of per-class F1 over the classes that occur as a label or a prediction
     * (as scikit-learn's {@code f1_score(average="macro")}).
     *
     * @return macro-F1, 0 for an empty matrix
     */
    public double macroF1() {
        double sum = 0;
        int present = 0;
        for (int c = 0; c < counts.length; c++) {
            if (present(c)) {
                sum += f1(c);
                present++;
            }
        }
        return present == 0 ? 0 : sum / present;
    }

    /** Whether a class occurs as a label or a prediction. */
    private boolean present(int c) {
        return support(c) + predictedCount(c) > 0;
    }

    /**
     * A pair of classes the model confused: samples of {@code trueClass} predicted as
     * {@code predicted}.
     *
     * @param trueClass the true class index
     * @param trueName its name
     * @param predicted the predicted class index (not {@code trueClass})
     * @param predictedName its name
     * @param count how many samples
     */
    public record ConfusedPair(int trueClass, String trueName, int predicted, String predictedName, long count) {

        /** @return "true -> predicted: count" */
        @Override
        public String toString() {
            return trueName + " -> " + predictedName + ": " + count;
        }
    }

    /**
     * The off-diagonal cells with a count, largest first, as fastai's {@code most_confused}: which
     * classes the model takes for which. Ties are ordered by the true class's name, then the
     * predicted class's name (then their indices).
     *
     * @param n the most pairs to return ({@code Integer.MAX_VALUE} for all)
     * @return at most {@code n} pairs, each with a count of at least 1
     * @throws IllegalArgumentException if {@code n} is negative
     */
    public List<ConfusedPair> mostConfused(int n) {
        if (n < 0) {
            throw new IllegalArgumentException("mostConfused(n): n must be 0 or more, got " + n);
        }
        List<ConfusedPair> pairs = new ArrayList<>();
        for (int t = 0; t < counts.length; t++) {
            for (int p = 0; p < counts.length; p++) {
                if (t != p && counts[t][p] > 0) {
                    pairs.add(new ConfusedPair(t, classNames.get(t), p, classNames.get(p), counts[t][p]));
                }
            }
        }
        pairs.sort(Comparator.comparingLong(ConfusedPair::count).reversed()
                .thenComparing(ConfusedPair::trueName)
                .thenComparing(ConfusedPair::predictedName)
                .thenComparingInt(ConfusedPair::trueClass)
                .thenComparingInt(ConfusedPair::predicted));
        return List.copyOf(pairs.subList(0, Math.min(n, pairs.size())));
    }

    /**
     * A per-class table as scikit-learn's {@code classification_report}: precision, recall, F1 and
     * support of each class, then the accuracy, the macro average (the unweighted mean over the
     * classes that occur as a label or a prediction, as {@link #macroF1()}) and the average weighted
     * by support. Values have 3 decimals.
     *
     * @return the table, lines separated by "\n"
     */
    public String report() {
        int width = "weighted avg".length();
        for (String name : classNames) {
            width = Math.max(width, name.length());
        }
        String head = "%" + width + "s %9s %9s %9s %9s\n";
        String row = "%" + width + "s %9.3f %9.3f %9.3f %9d\n";
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, head, "", "precision", "recall", "f1-score", "support")).append('\n');
        double[] macro = new double[3];
        double[] weighted = new double[3];
        int present = 0;
        long total = total();
        for (int c = 0; c < counts.length; c++) {
            double[] v = {precision(c), recall(c), f1(c)};
            long support = support(c);
            sb.append(String.format(Locale.ROOT, row, classNames.get(c), v[0], v[1], v[2], support));
            if (present(c)) {
                present++;
                for (int k = 0; k < 3; k++) {
                    macro[k] += v[k];
                    weighted[k] += v[k] * support;
                }
            }
        }
        sb.append('\n');
        sb.append(String.format(Locale.ROOT, "%" + width + "s %9s %9s %9.3f %9d\n", "accuracy", "", "", accuracy(), total));
        for (int k = 0; k < 3; k++) {
            macro[k] = present == 0 ? 0 : macro[k] / present;
            weighted[k] = total == 0 ? 0 : weighted[k] / total;
        }
        sb.append(String.format(Locale.ROOT, row, "macro avg", macro[0], macro[1], macro[2], total));
        sb.append(String.format(Locale.ROOT, row, "weighted avg", weighted[0], weighted[1], weighted[2], total));
        return sb.toString();
    }

    /** @return rows of true classes, columns of predictions, as a text table */
    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder();
        int width = 6;
        for (String n : classNames) {
            width = Math.max(width, Math.min(14, n.length()) + 1);
        }
        sb.append(String.format(Locale.ROOT, "%-" + width + "s", "true\\pred"));
        for (String n : classNames) {
            sb.append(String.format(Locale.ROOT, "%" + width + "s", shorten(n, width - 1)));
        }
        sb.append(System.lineSeparator());
        for (int t = 0; t < counts.length; t++) {
            sb.append(String.format(Locale.ROOT, "%-" + width + "s", shorten(classNames.get(t), width - 1)));
            for (int p = 0; p < counts.length; p++) {
                sb.append(String.format(Locale.ROOT, "%" + width + "d", counts[t][p]));
            }
            sb.append(System.lineSeparator());
        }
        return sb.toString();
    }

    private static String shorten(String s, int max) {
        return s.length() <= max ? s : s.substring(0, max);
    }
}
