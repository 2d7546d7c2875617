package dev.finetune.vision.bottleneck;

import java.util.Locale;

/**
 * Trainers for linear classifiers on bottleneck features, the recommended path for small data
 * (under about 1000 images): multinomial logistic regression with an L2 penalty (accelerated
 * full-batch gradient descent) and a one-vs-rest linear SVM (dual coordinate descent for the hinge
 * loss, as in LIBLINEAR). Features are standardised first. Deterministic.
 */
public final class LinearModels {

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
     * Multinomial logistic regression minimising mean cross-entropy + ||W||^2 / (2 C n).
     *
     * @return the trainer
     */
    public static Trainer logisticRegression() {
        return (x, y, classes, c) -> {
            Standardised s = Standardised.of(x);
            int n = x.length;
            int d = s.dims;
            double lambda = 1.0 / (c * n);
            // step 1/L with L <= max ||x||^2 / 2 + lambda (softmax Hessian bound)
            double maxNorm = 0;
            for (double[] row : s.rows) {
                double norm = 0;
                for (double v : row) {
                    norm += v * v;
                }
                maxNorm = Math.max(maxNorm, norm + 1);
            }
            double step = 1.0 / (0.5 * maxNorm + lambda);
            double[][] w = new double[classes][d + 1];
            double[][] prev = new double[classes][d + 1];
            double[][] look = new double[classes][d + 1];
            double[][] grad = new double[classes][d + 1];
            double[] p = new double[classes];
            for (int it = 1; it <= 500; it++) {
                double momentum = (it - 1.0) / (it + 2.0);
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
                for (int k = 0; k < classes; k++) {
                    System.arraycopy(w[k], 0, prev[k], 0, d + 1);
                    for (int j = 0; j <= d; j++) {
                        w[k][j] = look[k][j] - step * grad[k][j];
                    }
                }
            }
            return s.classifier(w, String.format(Locale.ROOT, "logistic regression (C=%g)", c));
        };
    }

    /**
     * One-vs-rest linear SVM with the hinge loss, C * sum(hinge) + ||w||^2 / 2 per class, solved
     * by dual coordinate descent; the bias is an extra constant feature.
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
            for (int k = 0; k < classes; k++) {
                double[] wk = w[k];
                double[] alpha = new double[n];
                for (int epoch = 0; epoch < 200; epoch++) {
                    double maxChange = 0;
                    for (int i = 0; i < n; i++) {
                        double yi = y[i] == k ? 1 : -1;
                        double[] row = s.rows[i];
                        double margin = wk[d];
                        for (int j = 0; j < d; j++) {
                            margin += wk[j] * row[j];
                        }
                        double g = yi * margin - 1;
                        double a = Math.min(Math.max(alpha[i] - g / sq[i], 0), c);
                        double delta = (a - alpha[i]) * yi;
                        if (delta != 0) {
                            for (int j = 0; j < d; j++) {
                                wk[j] += delta * row[j];
                            }
                            wk[d] += delta;
                            maxChange = Math.max(maxChange, Math.abs(a - alpha[i]));
                            alpha[i] = a;
                        }
                    }
                    if (maxChange < 1e-4) {
                        break;
                    }
                }
            }
            return s.classifier(w, String.format(Locale.ROOT, "linear SVM (C=%g)", c));
        };
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
