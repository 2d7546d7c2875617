package dev.finetune.vision.bottleneck;

import java.util.Locale;
import java.util.Random;

/**
 * Trainers for linear classifiers on bottleneck features, the recommended path for small data
 * (under about 1000 images): multinomial logistic regression with an L2 penalty (accelerated
 * full-batch gradient descent with adaptive restart, step from the features' top eigenvalue, run to
 * a gradient tolerance) and a one-vs-rest linear SVM (dual coordinate descent for the hinge loss,
 * as in LIBLINEAR). Each trainer fits a {@link Standardisation} on the features it is given and
 * keeps it in the classifier. Deterministic.
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
    }

    /**
     * Multinomial logistic regression minimising mean cross-entropy + ||W||^2 / (2 C n) (the bias
     * is not penalised): the softmax of its scores are its class probabilities, as an exported
     * linear layer served with softmax reports them. Stops when no gradient entry exceeds 1e-5, or
     * after 1000 iterations (weakly regularised fits on separable data).
     *
     * @return the trainer
     */
    public static Trainer logisticRegression() {
        return (x, y, classes, c) -> {
            Standardised s = Standardised.of(x);
            int n = x.length;
            int d = s.dims;
            double lambda = 1.0 / (c * n);
            // step 1/L: the mean softmax loss has curvature <= top eigenvalue of (1/n) sum x x^T / 2
            double step = 1.0 / (0.5 * 1.1 * topEigenvalue(s.rows) + lambda);
            double[][] w = new double[classes][d + 1];
            double[][] prev = new double[classes][d + 1];
            double[][] look = new double[classes][d + 1];
            double[][] grad = new double[classes][d + 1];
            double[] p = new double[classes];
            int t = 1;
            for (int it = 1; it <= LR_MAX_ITERATIONS; it++, t++) {
                double momentum = (t - 1.0) / (t + 2.0);
                for (int k = 0; k < classes; k++) {
                    for (int j = 0; j <= d; j++) {
                        look[k][j] = w[k][j] + momentum * (w[k][j] - prev[k][j]);
                        grad[k][j] = j < d ? lambda * look[k][j] : 0;
                    }
                }
                for (int i = 0; i < n; i++) {
                    double[] row = s.rows[i];
                    double max = Double.NEGATIVE_INFINITY;
                    for (int k = 0; k < classes; k++) {
                        double z = look[k][d];
                        for (int j = 0; j < d; j++) {
                            z += look[k][j] * row[j];
                        }
                        p[k] = z;
                        max = Math.max(max, z);
                    }
                    double sum = 0;
                    for (int k = 0; k < classes; k++) {
                        p[k] = Math.exp(p[k] - max);
                        sum += p[k];
                    }
                    for (int k = 0; k < classes; k++) {
                        double g = (p[k] / sum - (y[i] == k ? 1 : 0)) / n;
                        for (int j = 0; j < d; j++) {
                            grad[k][j] += g * row[j];
                        }
                        grad[k][d] += g;
                    }
                }
                double largest = 0;
                double ascent = 0;
                for (int k = 0; k < classes; k++) {
                    System.arraycopy(w[k], 0, prev[k], 0, d + 1);
                    for (int j = 0; j <= d; j++) {
                        largest = Math.max(largest, Math.abs(grad[k][j]));
                        w[k][j] = look[k][j] - step * grad[k][j];
                        ascent += grad[k][j] * (w[k][j] - prev[k][j]);
                    }
                }
                if (largest < LR_TOLERANCE) {
                    break;
                }
                if (ascent > 0) {
                    t = 0; // adaptive restart: momentum pointed uphill
                }
            }
            return s.classifier(w, String.format(Locale.ROOT, "logistic regression (C=%g)", c));
        };
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
            Standardised s = Standardised.of(x);
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

    /** The largest eigenvalue of (1/n) sum x x^T over rows extended by a constant 1, by power iteration. */
    private static double topEigenvalue(double[][] rows) {
        int d = rows[0].length + 1;
        double[] v = new double[d];
        java.util.Arrays.fill(v, 1 / Math.sqrt(d));
        double value = 1;
        for (int it = 0; it < 50; it++) {
            double[] u = new double[d];
            for (double[] row : rows) {
                double dot = v[d - 1];
                for (int j = 0; j < d - 1; j++) {
                    dot += row[j] * v[j];
                }
                for (int j = 0; j < d - 1; j++) {
                    u[j] += dot * row[j];
                }
                u[d - 1] += dot;
            }
            double norm = 0;
            for (int j = 0; j < d; j++) {
                u[j] /= rows.length;
                norm += u[j] * u[j];
            }
            norm = Math.sqrt(norm);
            if (norm == 0) {
                return 1;
            }
            value = norm;
            for (int j = 0; j < d; j++) {
                v[j] = u[j] / norm;
            }
        }
        return value;
    }

    /** Training features after the standardisation fitted on them. */
    private static final class Standardised {
        final double[][] rows;
        final Standardisation standardisation;
        final int dims;

        private Standardised(double[][] rows, Standardisation standardisation) {
            this.rows = rows;
            this.standardisation = standardisation;
            this.dims = standardisation.dimensions();
        }

        static Standardised of(float[][] x) {
            Standardisation standardisation = Standardisation.fit(x);
            double[][] rows = new double[x.length][];
            for (int i = 0; i < x.length; i++) {
                rows[i] = standardisation.apply(x[i]);
            }
            return new Standardised(rows, standardisation);
        }

        LinearClassifier classifier(double[][] w, String description) {
            double[][] weights = new double[w.length][dims];
            double[] bias = new double[w.length];
            for (int k = 0; k < w.length; k++) {
                System.arraycopy(w[k], 0, weights[k], 0, dims);
                bias[k] = w[k][dims];
            }
            return new LinearClassifier(weights, bias, standardisation, description);
        }
    }
}
