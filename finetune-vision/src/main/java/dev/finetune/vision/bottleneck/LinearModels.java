package dev.finetune.vision.bottleneck;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;

/**
 * Trainers for linear classifiers on bottleneck features, the recommended path for small data
 * (under about 1000 images): multinomial logistic regression with an L2 penalty (L-BFGS, run to a
 * gradient tolerance; with fewer images than feature dimensions it solves in the span of the
 * images, where the solution lies, and along a path of C values it starts each fit from the last)
 * and a one-vs-rest linear SVM (dual coordinate descent for the hinge loss, as in LIBLINEAR). Each
 * trainer scales the features it is given ({@link FeatureScaling}; the SVM standardises) and keeps
 * the scaling in the classifier. Deterministic.
 *
 * <p>LIBLINEAR itself (its Java port) was measured against these solvers on real features and not
 * adopted: it has no multinomial logistic regression (one-vs-rest only), was less accurate on 784
 * raw-pixel features and, for the SVM, slower; see {@code benchmarks/bottleneck-solvers.md}.
 */
public final class LinearModels {

    private static final int LR_MAX_ITERATIONS = 1000;
    /** Largest gradient entry of the mean loss at which logistic regression stops. */
    private static final double LR_TOLERANCE = 1e-5;
    private static final int SVM_MAX_EPOCHS = 1000;
    /** LIBLINEAR's default stopping tolerance for the dual solvers. */
    private static final double SVM_TOLERANCE = 0.1;

    private LinearModels() {}

    /** Trains a classifier for one value of the regularisation strength. */
    @FunctionalInterface
    public interface Trainer {
        /**
         * @param x features
         * @param y labels in 0..classes-1
         * @param classes number of classes
         * @param c inverse regularisation strength (larger = weaker penalty), as scikit-learn's C
         * @return the classifier
         */
        LinearClassifier train(float[][] x, int[] y, int classes, double c);

        /**
         * One classifier per value of C, as {@link #train} gives them; a trainer may start each
         * fit from the previous one (give C ascending: weaker penalties start near the stronger).
         *
         * @param x features
         * @param y labels in 0..classes-1
         * @param classes number of classes
         * @param cs the values of C, in the order to fit them
         * @return the classifiers, in the order of {@code cs}
         */
        default List<LinearClassifier> trainPath(float[][] x, int[] y, int classes, double[] cs) {
            List<LinearClassifier> out = new ArrayList<>();
            for (double c : cs) {
                out.add(train(x, y, classes, c));
            }
            return out;
        }
    }

    /**
     * Multinomial logistic regression on standardised features ({@link FeatureScaling#STANDARDISE}).
     *
     * @return the trainer
     * @see #logisticRegression(FeatureScaling)
     */
    public static Trainer logisticRegression() {
        return logisticRegression(FeatureScaling.STANDARDISE);
    }

    /**
     * Multinomial logistic regression minimising mean cross-entropy + ||W||^2 / (2 C n) on the
     * scaled features (the bias is not penalised): the softmax of its scores are its class
     * probabilities, as an exported linear layer served with softmax reports them. L-BFGS stops
     * when no gradient entry exceeds 1e-5, when the loss stops falling, or after 1000 iterations
     * (weakly regularised fits on separable data).
     *
     * @param scaling how features are scaled first
     * @return the trainer
     */
    public static Trainer logisticRegression(FeatureScaling scaling) {
        if (scaling == null) {
            throw new IllegalArgumentException("Give a feature scaling, e.g. FeatureScaling.SQRT_L2.");
        }
        return new LogisticRegression(scaling);
    }

    /**
     * The logistic regression trainer. Cross-validation over a per-image scaling, which fits
     * nothing, shares one span of all rows between its folds ({@link #prepare}), since each fold's
     * optimum lies in the span of its own rows, a part of it.
     */
    static final class LogisticRegression implements Trainer {
        /** Gradient tolerance of the fits that only choose C: decades apart, they need less. */
        private static final double CV_TOLERANCE = 1e-4;
        private final FeatureScaling scaling;

        LogisticRegression(FeatureScaling scaling) {
            this.scaling = scaling;
        }

        @Override
        public LinearClassifier train(float[][] x, int[] y, int classes, double c) {
            return trainPath(x, y, classes, new double[] {c}).get(0);
        }

        @Override
        public List<LinearClassifier> trainPath(float[][] x, int[] y, int classes, double[] cs) {
            return fitPath(Prepared.of(x, y, classes, scaling), y, classes, cs);
        }

        /** @return the rows scaled and in span coordinates for cross-validation, or null if the scaling is fitted per fold */
        Prepared prepare(float[][] x, int[] y, int classes) {
            return scaling == FeatureScaling.STANDARDISE ? null : Prepared.of(x, y, classes, scaling);
        }

        /** Correct held-out predictions per C (in the order given), each fold a warm-started path. */
        int[] crossValidate(Prepared p, int[] y, int classes, int[] fold, int folds, double[] cs) {
            int[] correct = new int[cs.length];
            for (int f = 0; f < folds; f++) {
                int size = 0;
                for (int v : fold) {
                    size += v == f ? 0 : 1;
                }
                double[][] rows = new double[size][];
                int[] labels = new int[size];
                for (int i = 0, k = 0; i < y.length; i++) {
                    if (fold[i] != f) {
                        rows[k] = p.z[i];
                        labels[k++] = y[i];
                    }
                }
                double[][] w = null;
                for (int c = 0; c < cs.length; c++) {
                    w = LogisticSolver.fit(rows, labels, classes, 1.0 / (check(cs[c]) * size), w, LR_MAX_ITERATIONS,
                            CV_TOLERANCE);
                    for (int i = 0; i < y.length; i++) {
                        if (fold[i] == f && LogisticSolver.predict(w, p.z[i]) == y[i]) {
                            correct[c]++;
                        }
                    }
                }
            }
            return correct;
        }

        /** The classifiers on all prepared rows, one per C. */
        List<LinearClassifier> fitPath(Prepared p, int[] y, int classes, double[] cs) {
            List<LinearClassifier> out = new ArrayList<>();
            double[][] w = null;
            for (double c : cs) {
                w = LogisticSolver.fit(p.z, y, classes, 1.0 / (check(c) * y.length), w, LR_MAX_ITERATIONS, LR_TOLERANCE);
                String name = scaling == FeatureScaling.STANDARDISE ? "logistic regression (C=%g)"
                        : "logistic regression on " + scaling + " features (C=%g)";
                out.add(p.scaled.classifier(p.span == null ? w : p.span.lift(w), String.format(Locale.ROOT, name, c)));
            }
            return out;
        }

        static double check(double c) {
            if (!(c > 0) || Double.isInfinite(c)) {
                throw new IllegalArgumentException("C must be positive and finite, got " + c
                        + " (C <= 0 or NaN gives a constant or inverted classifier).");
            }
            return c;
        }
    }

    /** Scaled rows and, with fewer rows than dimensions, their coordinates in the rows' span, where the optimum lies. */
    static final class Prepared {
        final Scaled scaled;
        final Span span;
        final double[][] z;

        private Prepared(Scaled scaled, Span span, double[][] z) {
            this.scaled = scaled;
            this.span = span;
            this.z = z;
        }

        static Prepared of(float[][] x, int[] y, int classes, FeatureScaling scaling) {
            Scaled s = Scaled.of(x, scaling);
            checkLabels(y, x.length, classes);
            Span span = s.rows.length < s.dims ? Span.of(s.rows) : null;
            return new Prepared(s, span, span == null ? s.rows : span.project(s.rows));
        }
    }

    private static void checkLabels(int[] y, int n, int classes) {
        if (y.length != n) {
            throw new IllegalArgumentException(n + " feature rows but " + y.length + " labels.");
        }
        for (int i = 0; i < y.length; i++) {
            if (y[i] < 0 || y[i] >= classes) {
                throw new IllegalArgumentException("Label " + y[i] + " of sample " + i + " is outside 0.." + (classes - 1));
            }
        }
    }

    /**
     * One-vs-rest linear SVM with the hinge loss, C * sum(hinge) + ||w||^2 / 2 per class, solved
     * by dual coordinate descent in a seeded random order per epoch, stopped as LIBLINEAR stops
     * (projected-gradient spread under 0.1); the bias is an extra constant feature.
     *
     * @return the trainer
     */
    public static Trainer linearSvm() {
        return (x, y, classes, c) -> {
            LogisticRegression.check(c);
            Scaled s = Scaled.of(x, FeatureScaling.STANDARDISE);
            int n = x.length;
            int d = s.dims;
            double[][] w = new double[classes][d + 1];
            double[] sq = new double[n];
            for (int i = 0; i < n; i++) {
                double q = 1; // the bias feature
                for (double v : s.rows[i]) {
                    q += v * v;
                }
                sq[i] = q;
            }
            Random random = new Random(0);
            int[] order = new int[n];
            for (int k = 0; k < classes; k++) {
                double[] wk = w[k];
                double[] alpha = new double[n];
                for (int i = 0; i < n; i++) {
                    order[i] = i;
                }
                for (int epoch = 0; epoch < SVM_MAX_EPOCHS; epoch++) {
                    for (int i = n - 1; i > 0; i--) {
                        int r = random.nextInt(i + 1);
                        int tmp = order[i];
                        order[i] = order[r];
                        order[r] = tmp;
                    }
                    double pgMax = Double.NEGATIVE_INFINITY;
                    double pgMin = Double.POSITIVE_INFINITY;
                    for (int i : order) {
                        double yi = y[i] == k ? 1 : -1;
                        double[] row = s.rows[i];
                        double margin = wk[d];
                        for (int j = 0; j < d; j++) {
                            margin += wk[j] * row[j];
                        }
                        double g = yi * margin - 1;
                        double pg = alpha[i] == 0 ? Math.min(g, 0) : alpha[i] == c ? Math.max(g, 0) : g;
                        pgMax = Math.max(pgMax, pg);
                        pgMin = Math.min(pgMin, pg);
                        double a = Math.min(Math.max(alpha[i] - g / sq[i], 0), c);
                        double delta = (a - alpha[i]) * yi;
                        if (delta != 0) {
                            for (int j = 0; j < d; j++) {
                                wk[j] += delta * row[j];
                            }
                            wk[d] += delta;
                            alpha[i] = a;
                        }
                    }
                    if (pgMax - pgMin < SVM_TOLERANCE) {
                        break;
                    }
                }
            }
            return s.classifier(w, String.format(Locale.ROOT, "linear SVM (C=%g)", c));
        };
    }

    /** Training features after their scaling (a standardisation fitted on them, or per image). */
    private static final class Scaled {
        final double[][] rows;
        final FeatureScaling scaling;
        final Standardisation standardisation;
        final int dims;

        private Scaled(double[][] rows, FeatureScaling scaling, Standardisation standardisation, int dims) {
            this.rows = rows;
            this.scaling = scaling;
            this.standardisation = standardisation;
            this.dims = dims;
        }

        static Scaled of(float[][] x, FeatureScaling scaling) {
            if (x.length == 0) {
                throw new IllegalArgumentException("No training features.");
            }
            Standardisation standardisation = scaling == FeatureScaling.STANDARDISE ? Standardisation.fit(x) : null;
            double[][] rows = new double[x.length][];
            for (int i = 0; i < x.length; i++) {
                if (x[i].length != x[0].length) {
                    throw new IllegalArgumentException(
                            "Feature row " + i + " has " + x[i].length + " values, row 0 has " + x[0].length + ".");
                }
                rows[i] = standardisation != null ? standardisation.apply(x[i]) : FeatureScaling.sqrtL2(x[i]);
            }
            return new Scaled(rows, scaling, standardisation, x[0].length);
        }

        LinearClassifier classifier(double[][] w, String description) {
            double[][] weights = new double[w.length][dims];
            double[] bias = new double[w.length];
            for (int k = 0; k < w.length; k++) {
                System.arraycopy(w[k], 0, weights[k], 0, dims);
                bias[k] = w[k][dims];
            }
            return new LinearClassifier(weights, bias, scaling, standardisation, dims, description);
        }
    }
}
