package dev.finetune.vision.bottleneck;

import java.util.ArrayList;
import java.util.List;

/**
 * An orthonormal basis of the span of some rows (modified Gram-Schmidt, two passes). An
 * L2-penalised linear model's weights lie in the span of its training rows, so with fewer rows than
 * dimensions it is solved exactly, and faster, on the rows' coordinates in this basis; the weights
 * are lifted back after.
 */
final class Span {

    private final double[][] basis;
    private final int dims;

    private Span(double[][] basis, int dims) {
        this.basis = basis;
        this.dims = dims;
    }

    static Span of(double[][] rows) {
        List<double[]> q = new ArrayList<>();
        for (double[] row : rows) {
            double[] v = row.clone();
            double before = Math.sqrt(LogisticSolver.dot(v, v));
            for (int pass = 0; pass < 2; pass++) {
                for (double[] b : q) {
                    double c = LogisticSolver.dot(v, b);
                    for (int j = 0; j < v.length; j++) {
                        v[j] -= c * b[j];
                    }
                }
            }
            double norm = Math.sqrt(LogisticSolver.dot(v, v));
            if (norm > 1e-9 * before && norm > 0) {
                for (int j = 0; j < v.length; j++) {
                    v[j] /= norm;
                }
                q.add(v);
            }
        }
        return new Span(q.toArray(new double[0][]), rows[0].length);
    }

    /** @return the rows' coordinates in the basis */
    double[][] project(double[][] rows) {
        double[][] out = new double[rows.length][basis.length];
        for (int i = 0; i < rows.length; i++) {
            for (int k = 0; k < basis.length; k++) {
                out[i][k] = LogisticSolver.dot(rows[i], basis[k]);
            }
        }
        return out;
    }

    /**
     * @param w weights on the coordinates, classes x (basis size + 1), the bias last
     * @return the same weights on the original dimensions, classes x (dims + 1)
     */
    double[][] lift(double[][] w) {
        double[][] out = new double[w.length][dims + 1];
        for (int k = 0; k < w.length; k++) {
            for (int b = 0; b < basis.length; b++) {
                double c = w[k][b];
                for (int j = 0; j < dims; j++) {
                    out[k][j] += c * basis[b][j];
                }
            }
            out[k][dims] = w[k][basis.length];
        }
        return out;
    }
}
