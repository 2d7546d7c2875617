package dev.finetune.core.result;

import java.util.List;
import java.util.Locale;

/**
 * Counts of (true class, predicted class) pairs over an evaluation, with accuracy and macro-F1
 * derived from them. Immutable.
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
     * The F1 score of one class: 2PR/(P+R), 0 when the class is never predicted or never correct.
     *
     * @param c the class index
     * @return its F1
     */
    public double f1(int c) {
        long tp = counts[c][c];
        long actual = 0;
        long predicted = 0;
        for (int i = 0; i < counts.length; i++) {
            actual += counts[c][i];
            predicted += counts[i][c];
        }
        if (tp == 0) {
            return 0;
        }
        double precision = (double) tp / predicted;
        double recall = (double) tp / actual;
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
            long seen = 0;
            for (int i = 0; i < counts.length; i++) {
                seen += counts[c][i] + counts[i][c];
            }
            if (seen > 0) {
                sum += f1(c);
                present++;
            }
        }
        return present == 0 ? 0 : sum / present;
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
