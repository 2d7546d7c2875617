package dev.finetune.core.loss;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * How many training samples each class has, with the imbalance they show and the class weights
 * that balance them ({@code n / (k * count)}, scikit-learn's "balanced" rule).
 *
 * @param names class names in label order
 * @param counts samples per class, in label order
 */
public record ClassCounts(List<String> names, long[] counts) {

    /**
     * Validates that there is one count per name and no class is empty.
     *
     * @param names class names in label order
     * @param counts samples per class, in label order
     */
    public ClassCounts {
        names = List.copyOf(names);
        counts = counts.clone();
        if (names.size() != counts.length) {
            throw new IllegalArgumentException(names.size() + " class names for " + counts.length + " counts.");
        }
    }

    /**
     * Counts labels.
     *
     * @param names class names in label order
     * @param labels one class index per sample
     * @return the counts
     */
    public static ClassCounts of(List<String> names, int[] labels) {
        long[] c = new long[names.size()];
        for (int label : labels) {
            if (label < 0 || label >= c.length) {
                throw new IllegalArgumentException("Label " + label + " is outside 0.." + (c.length - 1) + ".");
            }
            c[label]++;
        }
        return new ClassCounts(names, c);
    }

    /** @return the number of samples */
    public long total() {
        long t = 0;
        for (long c : counts) {
            t += c;
        }
        return t;
    }

    /** @return the largest class count over the smallest (infinite when a class is empty) */
    public double imbalanceRatio() {
        long min = Long.MAX_VALUE;
        long max = 0;
        for (long c : counts) {
            min = Math.min(min, c);
            max = Math.max(max, c);
        }
        return min == 0 ? Double.POSITIVE_INFINITY : (double) max / min;
    }

    /**
     * Weights that make every class count equally in the loss: {@code total / (classes * count)}.
     *
     * @return one weight per class
     * @throws IllegalStateException if a class has no samples
     */
    public float[] balancedWeights() {
        float[] w = new float[counts.length];
        for (int i = 0; i < counts.length; i++) {
            if (counts[i] == 0) {
                throw new IllegalStateException(
                        "Class '" + names.get(i) + "' has no training samples: a weight cannot balance it; add"
                                + " images of it or drop the class.");
            }
            w[i] = (float) ((double) total() / (counts.length * counts[i]));
        }
        return w;
    }

    /** @return the classes whose count is below half the mean count */
    public List<String> rareClasses() {
        double mean = (double) total() / counts.length;
        List<String> rare = new ArrayList<>();
        for (int i = 0; i < counts.length; i++) {
            if (counts[i] < mean / 2) {
                rare.add(names.get(i));
            }
        }
        return rare;
    }

    /** @return one line per class: name, count, share, balanced weight */
    public String describe() {
        StringBuilder sb = new StringBuilder();
        long total = total();
        int width = 5;
        for (String n : names) {
            width = Math.max(width, n.length());
        }
        for (int i = 0; i < counts.length; i++) {
            sb.append(String.format(Locale.ROOT, "%-" + width + "s %7d  %5.1f%%  weight %s%n", names.get(i), counts[i],
                    total == 0 ? 0.0 : 100.0 * counts[i] / total,
                    counts[i] == 0 ? "-" : String.format(Locale.ROOT, "%.3f", (double) total / (counts.length * counts[i]))));
        }
        sb.append(String.format(Locale.ROOT, "imbalance (largest/smallest): %.1f", imbalanceRatio()));
        return sb.toString();
    }
}
