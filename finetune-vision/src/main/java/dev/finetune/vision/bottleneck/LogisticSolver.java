package dev.finetune.vision.bottleneck;

import java.util.Arrays;

/**
 * L-BFGS (10 pairs, backtracking Armijo line search) for multinomial logistic regression:
 * mean cross-entropy of softmax(W z + b) + lambda/2 ||W||^2, the bias not penalised. Weights are
 * classes x (dimensions + 1), the bias last. Deterministic.
 */
final class LogisticSolver {

    private static final int MEMORY = 10;

    private LogisticSolver() {}

    /**
     * @param z scaled features, one row per sample
     * @param y labels in 0..classes-1
     * @param classes number of classes
     * @param lambda L2 penalty
     * @param start weights to start from (a previous fit on the same rows), or null for zeros
     * @param maxIterations iteration limit
     * @param tolerance stop when no gradient entry exceeds it
     * @return the weights, classes x (dimensions + 1)
     */
    static double[][] fit(double[][] z, int[] y, int classes, double lambda, double[][] start, int maxIterations,
            double tolerance) {
        int d = z[0].length;
        int stride = d + 1;
        int size = classes * stride;
        double[] w = new double[size];
        if (start != null) {
            for (int k = 0; k < classes; k++) {
                System.arraycopy(start[k], 0, w, k * stride, stride);
            }
        }
        double[][] sHistory = new double[MEMORY][];
        double[][] yHistory = new double[MEMORY][];
        double[] rho = new double[MEMORY];
        double[] alpha = new double[MEMORY];
        int stored = 0;
        int head = 0;
        double[] g = new double[size];
        double f = lossAndGradient(z, y, classes, lambda, w, g);
        double[] next = new double[size];
        double[] gNext = new double[size];
        for (int it = 0; it < maxIterations; it++) {
            double largest = 0;
            for (double v : g) {
                largest = Math.max(largest, Math.abs(v));
            }
            if (largest < tolerance) {
                break;
            }
            // the two-loop recursion: q ~ H^-1 g
            double[] q = g.clone();
            for (int m = 0; m < stored; m++) {
                int i = Math.floorMod(head - 1 - m, MEMORY);
                alpha[i] = rho[i] * dot(sHistory[i], q);
                axpy(-alpha[i], yHistory[i], q);
            }
            double gamma;
            if (stored > 0) {
                int last = Math.floorMod(head - 1, MEMORY);
                gamma = dot(sHistory[last], yHistory[last]) / dot(yHistory[last], yHistory[last]);
            } else {
                gamma = 1 / Math.max(1e-12, Math.sqrt(dot(g, g)));
            }
            for (int j = 0; j < size; j++) {
                q[j] *= gamma;
            }
            for (int m = stored - 1; m >= 0; m--) {
                int i = Math.floorMod(head - 1 - m, MEMORY);
                double beta = rho[i] * dot(yHistory[i], q);
                axpy(alpha[i] - beta, sHistory[i], q);
            }
            double slope = -dot(g, q);
            if (!(slope < 0)) { // not a descent direction: forget the curvature pairs
                stored = 0;
                q = g.clone();
                slope = -dot(g, q);
            }
            double t = 1;
            double fNext;
            while (true) {
                for (int j = 0; j < size; j++) {
                    next[j] = w[j] - t * q[j];
                }
                fNext = lossAndGradient(z, y, classes, lambda, next, gNext);
                if (fNext <= f + 1e-4 * t * slope || t < 1e-12) {
                    break;
                }
                t *= 0.5;
            }
            double[] sv = new double[size];
            double[] yv = new double[size];
            for (int j = 0; j < size; j++) {
                sv[j] = next[j] - w[j];
                yv[j] = gNext[j] - g[j];
            }
            double sy = dot(sv, yv);
            if (sy > 1e-12) {
                sHistory[head] = sv;
                yHistory[head] = yv;
                rho[head] = 1 / sy;
                head = (head + 1) % MEMORY;
                stored = Math.min(stored + 1, MEMORY);
            }
            boolean stalled = !(f - fNext > 1e-12 * Math.max(1, Math.abs(f)));
            double[] swap = w;
            w = next;
            next = swap;
            swap = g;
            g = gNext;
            gNext = swap;
            f = fNext;
            if (stalled) {
                break;
            }
        }
        double[][] out = new double[classes][stride];
        for (int k = 0; k < classes; k++) {
            System.arraycopy(w, k * stride, out[k], 0, stride);
        }
        return out;
    }

    /** @return the class with the highest score {@code w[k] . z + bias} */
    static int predict(double[][] w, double[] z) {
        int d = z.length;
        int best = 0;
        double top = Double.NEGATIVE_INFINITY;
        for (int k = 0; k < w.length; k++) {
            double s = w[k][d];
            for (int j = 0; j < d; j++) {
                s += w[k][j] * z[j];
            }
            if (s > top) {
                top = s;
                best = k;
            }
        }
        return best;
    }

    /** The objective at {@code w}; writes its gradient into {@code g}. */
    static double lossAndGradient(double[][] z, int[] y, int classes, double lambda, double[] w, double[] g) {
        int n = z.length;
        int d = z[0].length;
        int stride = d + 1;
        double loss = 0;
        Arrays.fill(g, 0);
        for (int k = 0; k < classes; k++) {
            for (int j = 0; j < d; j++) {
                double v = w[k * stride + j];
                loss += 0.5 * lambda * v * v;
                g[k * stride + j] = lambda * v;
            }
        }
        double[] p = new double[classes];
        for (int i = 0; i < n; i++) {
            double[] row = z[i];
            double max = Double.NEGATIVE_INFINITY;
            for (int k = 0; k < classes; k++) {
                p[k] = w[k * stride + d] + dot(w, k * stride, row, d);
                max = Math.max(max, p[k]);
            }
            double sum = 0;
            for (int k = 0; k < classes; k++) {
                sum += Math.exp(p[k] - max);
            }
            loss += (Math.log(sum) + max - p[y[i]]) / n;
            for (int k = 0; k < classes; k++) {
                double e = (Math.exp(p[k] - max) / sum - (y[i] == k ? 1 : 0)) / n;
                int o = k * stride;
                for (int j = 0; j < d; j++) {
                    g[o + j] += e * row[j];
                }
                g[o + d] += e;
            }
        }
        return loss;
    }

    /** {@code sum_j w[from + j] * row[j]} for j < d, four partial sums (the JIT keeps them in registers). */
    private static double dot(double[] w, int from, double[] row, int d) {
        double s0 = 0;
        double s1 = 0;
        double s2 = 0;
        double s3 = 0;
        int j = 0;
        for (; j + 3 < d; j += 4) {
            s0 += w[from + j] * row[j];
            s1 += w[from + j + 1] * row[j + 1];
            s2 += w[from + j + 2] * row[j + 2];
            s3 += w[from + j + 3] * row[j + 3];
        }
        for (; j < d; j++) {
            s0 += w[from + j] * row[j];
        }
        return (s0 + s1) + (s2 + s3);
    }

    static double dot(double[] a, double[] b) {
        double s = 0;
        for (int j = 0; j < a.length; j++) {
            s += a[j] * b[j];
        }
        return s;
    }

    private static void axpy(double a, double[] x, double[] y) {
        for (int j = 0; j < x.length; j++) {
            y[j] += a * x[j];
        }
    }
}
