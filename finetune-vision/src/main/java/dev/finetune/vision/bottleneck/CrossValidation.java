package dev.finetune.vision.bottleneck;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * Chooses the regularisation strength C of a linear classifier by stratified k-fold
 * cross-validation on the training features only, then refits on all of them. Each fold's model
 * fits its own {@link Standardisation} on that fold's training rows.
 *
 * <p>The default grid is wide, 1e-4 to 1e4 with two values per decade. When the best C lies at an
 * edge of the grid, the search extends the grid by one decade at that edge, up to
 * {@link Builder#optMaxExtensions} times; a best C still at the edge after that (or on a plateau of
 * equal accuracy there) is reported in {@link Selection#warnings()}. Equal accuracies are broken
 * toward the smaller C, the stronger regularisation. Rows can come in groups that never straddle
 * folds ({@link #select(float[][], int[], int, int[])}: an image and its mirror image, the photos of
 * one patient).
 *
 * <pre>{@code
 * Selection s = CrossValidation.builder().build().select(trainFeatures, trainLabels, classes);
 * s.warnings().forEach(System.out::println);   // e.g. "best C at the edge of the range ..."
 * LinearClassifier classifier = s.classifier();
 * }</pre>
 */
public final class CrossValidation {

    private final LinearModels.Trainer trainer;
    private final double[] grid;
    private final int folds;
    private final long seed;
    private final int maxExtensions;

    private CrossValidation(Builder b) {
        this.trainer = b.trainer;
        this.grid = b.grid.clone();
        this.folds = b.folds;
        this.seed = b.seed;
        this.maxExtensions = b.maxExtensions;
    }

    /** @return a builder with the defaults: logistic regression, 1e-4..1e4, 5 folds, seed 1, 4 extensions */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * Values spaced evenly on a log scale, both ends included.
     *
     * @param from the smallest value, positive
     * @param to the largest value, at least {@code from}
     * @param perDecade values per factor of 10, at least 1
     * @return the values, ascending
     */
    public static double[] logGrid(double from, double to, int perDecade) {
        if (!(from > 0) || !(to >= from) || perDecade < 1 || Double.isInfinite(to)) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "A log grid needs 0 < from <= to and perDecade >= 1, got from=%g to=%g perDecade=%d",
                    from, to, perDecade));
        }
        int steps = (int) Math.round(Math.log10(to / from) * perDecade);
        double[] out = new double[steps + 1];
        for (int i = 0; i <= steps; i++) {
            out[i] = i == steps ? to : from * Math.pow(10, (double) i / perDecade);
        }
        return out;
    }

    /**
     * The chosen classifier and how the candidates scored.
     *
     * @param classifier refit on all training features with the best C
     * @param c the chosen C
     * @param accuracy the cross-validated accuracy of that C
     * @param scores cross-validated accuracy of every C tried, C ascending (extensions included)
     * @param warnings what the user should know, e.g. that the best C is at the edge of the range;
     *     empty when the best C is inside the range
     */
    public record Selection(LinearClassifier classifier, double c, double accuracy, Map<Double, Double> scores,
                            List<String> warnings) {
        /**
         * Copies the collections.
         *
         * @param classifier refit on all training features with the best C
         * @param c the chosen C
         * @param accuracy the cross-validated accuracy of that C
         * @param scores cross-validated accuracy of every C tried, C ascending (extensions included)
         * @param warnings what the user should know, e.g. that the best C is at the edge of the range;
         *     empty when the best C is inside the range
         */
        public Selection {
            scores = Collections.unmodifiableMap(new LinkedHashMap<>(scores));
            warnings = List.copyOf(warnings);
        }

        /** @return whether the chosen C is the smallest or the largest value tried */
        public boolean atEdge() {
            double lo = scores.keySet().iterator().next();
            double hi = lo;
            for (double k : scores.keySet()) {
                hi = k;
            }
            return scores.size() > 1 && (c == lo || c == hi);
        }

        @Override
        public String toString() {
            StringBuilder sb = new StringBuilder(classifier.toString()).append(": cv accuracy ");
            sb.append(String.format(Locale.ROOT, "%.4f", accuracy)).append(" [");
            scores.forEach((k, v) -> sb.append(String.format(Locale.ROOT, " C=%.3g:%.4f", k, v)));
            sb.append(" ]");
            warnings.forEach(w -> sb.append(System.lineSeparator()).append("  warning: ").append(w));
            return sb.toString();
        }
    }

    /**
     * Runs the search: the grid as given, with no extension; a best C at its edge is reported in
     * the warnings. Prefer {@link #builder()}, whose default grid is wide and extends itself.
     *
     * @param trainer the classifier family
     * @param x training features
     * @param y training labels
     * @param classes number of classes
     * @param grid candidate values of C
     * @param folds number of folds, at least 2 and at most the smallest class size
     * @param seed fold assignment seed
     * @return the selection
     */
    public static Selection select(
            LinearModels.Trainer trainer, float[][] x, int[] y, int classes, double[] grid, int folds, long seed) {
        return builder().optTrainer(trainer).optGrid(grid).optFolds(folds).optSeed(seed).optMaxExtensions(0)
                .build().select(x, y, classes);
    }

    /**
     * Runs the search on training features (never the validation or test set).
     *
     * @param x training features, one row per sample
     * @param y training labels in 0..classes-1
     * @param classes number of classes
     * @return the selection
     */
    public Selection select(float[][] x, int[] y, int classes) {
        return select(x, y, classes, null);
    }

    /**
     * Runs the search with rows in groups that never straddle folds: the rows of one group (say an
     * image and its mirror image, or the photos of one patient) are held out together, so no fold
     * is judged on a copy of what it trained on.
     *
     * @param x training features, one row per sample
     * @param y training labels in 0..classes-1; all rows of a group share one label
     * @param classes number of classes
     * @param groups a group id per row, or null for one group per row
     * @return the selection
     */
    public Selection select(float[][] x, int[] y, int classes, int[] groups) {
        if (x.length != y.length) {
            throw new IllegalArgumentException(x.length + " feature rows but " + y.length + " labels.");
        }
        if (groups != null && groups.length != y.length) {
            throw new IllegalArgumentException(groups.length + " group ids for " + y.length + " rows.");
        }
        int[] fold = Folds.assign(y, classes, folds, seed, groups);
        LinearModels.LogisticRegression shared = trainer instanceof LinearModels.LogisticRegression lr ? lr : null;
        LinearModels.Prepared prepared = shared == null ? null : shared.prepare(x, y, classes);
        TreeMap<Double, Integer> correct = new TreeMap<>();
        int[] counts = correctAt(grid, x, y, classes, fold, shared, prepared);
        for (int i = 0; i < grid.length; i++) {
            correct.put(grid[i], counts[i]);
        }
        List<String> warnings = new ArrayList<>();
        for (int ext = 0; ext < maxExtensions; ext++) {
            double best = best(correct);
            if (best == correct.firstKey() && correct.size() > 1) {
                double lower = best / 10;
                int at = correctAt(new double[] {lower}, x, y, classes, fold, shared, prepared)[0];
                correct.put(lower, at);
                if (at == correct.get(best)) {
                    break; // a plateau: weaker steps down change nothing
                }
            } else if (best == correct.lastKey() && correct.size() > 1) {
                double upper = best * 10;
                correct.put(upper, correctAt(new double[] {upper}, x, y, classes, fold, shared, prepared)[0]);
            } else {
                break;
            }
        }
        double best = best(correct);
        Map<Double, Double> scores = new LinkedHashMap<>();
        correct.forEach((c, n) -> scores.put(c, (double) n / y.length));
        edgeWarning(best, scores).ifPresent(warnings::add);
        LinearClassifier refit = prepared != null ? shared.fitPath(prepared, y, classes, new double[] {best}).get(0)
                : trainer.train(x, y, classes, best);
        return new Selection(refit, best, scores.get(best), scores, warnings);
    }

    /** Correct held-out predictions for each C (ascending), one path of fits per fold. */
    private int[] correctAt(double[] cs, float[][] x, int[] y, int classes, int[] fold,
            LinearModels.LogisticRegression shared, LinearModels.Prepared prepared) {
        if (prepared != null) {
            return shared.crossValidate(prepared, y, classes, fold, folds, cs);
        }
        int[] correct = new int[cs.length];
        for (int f = 0; f < folds; f++) {
            List<Integer> trainIdx = new ArrayList<>();
            List<Integer> testIdx = new ArrayList<>();
            for (int i = 0; i < y.length; i++) {
                (fold[i] == f ? testIdx : trainIdx).add(i);
            }
            List<LinearClassifier> models = trainer.trainPath(rows(x, trainIdx), labels(y, trainIdx), classes, cs);
            for (int k = 0; k < cs.length; k++) {
                for (int i : testIdx) {
                    correct[k] += models.get(k).predict(x[i]) == y[i] ? 1 : 0;
                }
            }
        }
        return correct;
    }

    /** The C with the most correct predictions; ties go to the smallest C (strongest regularisation). */
    private static double best(TreeMap<Double, Integer> correct) {
        double bestC = correct.firstKey();
        int best = -1;
        for (Map.Entry<Double, Integer> e : correct.entrySet()) {
            if (e.getValue() > best) {
                best = e.getValue();
                bestC = e.getKey();
            }
        }
        return bestC;
    }

    private static Optional<String> edgeWarning(double best, Map<Double, Double> scores) {
        List<Double> cs = new ArrayList<>(scores.keySet());
        double lo = cs.get(0);
        double hi = cs.get(cs.size() - 1);
        if (cs.size() < 2 || (best != lo && best != hi)) {
            return Optional.empty();
        }
        double accuracy = scores.get(best);
        if (best == lo) {
            // how far up the accuracy stays the same
            double flatTo = lo;
            for (double c : cs) {
                if (scores.get(c) != accuracy) {
                    break;
                }
                flatTo = c;
            }
            String flat = flatTo > lo ? String.format(Locale.ROOT, "; accuracy is flat (%.4f) from C=%.3g to C=%.3g,"
                    + " so regularisation this strong no longer changes the predictions", accuracy, lo, flatTo) : "";
            return Optional.of(String.format(Locale.ROOT,
                    "best C at the edge of the range %.3g..%.3g: C=%.3g is the smallest value tried%s. Stronger"
                            + " regularisation might do better: give a grid that reaches lower.",
                    lo, hi, best, flat));
        }
        return Optional.of(String.format(Locale.ROOT,
                "best C at the edge of the range %.3g..%.3g: C=%.3g is the largest value tried. Weaker"
                        + " regularisation might do better: give a grid that reaches higher.",
                lo, hi, best));
    }

    private static float[][] rows(float[][] x, List<Integer> idx) {
        float[][] out = new float[idx.size()][];
        for (int k = 0; k < idx.size(); k++) {
            out[k] = x[idx.get(k)];
        }
        return out;
    }

    private static int[] labels(int[] y, List<Integer> idx) {
        int[] out = new int[idx.size()];
        for (int k = 0; k < idx.size(); k++) {
            out[k] = y[idx.get(k)];
        }
        return out;
    }

    /** Settings of a search; {@code optX} values have defaults. */
    public static final class Builder {
        private LinearModels.Trainer trainer = LinearModels.logisticRegression();
        private double[] grid = logGrid(1e-4, 1e4, 2);
        private int folds = 5;
        private long seed = 1;
        private int maxExtensions = 4;

        private Builder() {}

        /**
         * @param trainer the classifier family (default {@link LinearModels#logisticRegression()})
         * @return this builder
         */
        public Builder optTrainer(LinearModels.Trainer trainer) {
            if (trainer == null) {
                throw new IllegalArgumentException("Give a trainer, e.g. LinearModels.logisticRegression().");
            }
            this.trainer = trainer;
            return this;
        }

        /**
         * @param grid candidate values of C, positive, any order (default {@code logGrid(1e-4, 1e4, 2)})
         * @return this builder
         */
        public Builder optGrid(double... grid) {
            if (grid == null || grid.length == 0) {
                throw new IllegalArgumentException("Give at least one value of C to try.");
            }
            double[] sorted = Arrays.stream(grid).sorted().distinct().toArray();
            if (!(sorted[0] > 0) || Double.isInfinite(sorted[sorted.length - 1])) {
                throw new IllegalArgumentException("Values of C must be positive and finite, got " + Arrays.toString(grid));
            }
            this.grid = sorted;
            return this;
        }

        /**
         * @param folds number of stratified folds, at least 2 and at most the smallest class size (default 5)
         * @return this builder
         */
        public Builder optFolds(int folds) {
            if (folds < 2) {
                throw new IllegalArgumentException("Cross-validation needs at least 2 folds, got " + folds);
            }
            this.folds = folds;
            return this;
        }

        /**
         * @param seed fold assignment seed (default 1)
         * @return this builder
         */
        public Builder optSeed(long seed) {
            this.seed = seed;
            return this;
        }

        /**
         * @param maxExtensions how many decades the grid may grow at the edge where the best C lies
         *     (default 4; 0 keeps the grid as given)
         * @return this builder
         */
        public Builder optMaxExtensions(int maxExtensions) {
            if (maxExtensions < 0) {
                throw new IllegalArgumentException("maxExtensions must not be negative, got " + maxExtensions);
            }
            this.maxExtensions = maxExtensions;
            return this;
        }

        /** @return the search */
        public CrossValidation build() {
            return new CrossValidation(this);
        }
    }
}
