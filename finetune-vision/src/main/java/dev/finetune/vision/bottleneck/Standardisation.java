package dev.finetune.vision.bottleneck;

import java.util.Arrays;

/**
 * Per-dimension standardisation of feature vectors, {@code z = (x - mean) / std}, with the mean and
 * (population) standard deviation of the training features it was fitted on. It is part of every
 * {@link LinearClassifier}: prediction and export apply the same values, and cross-validation fits
 * a new one on each fold's training rows, so held-out rows never inform it. A dimension that is
 * constant in the training features maps to 0 (its weight has no effect). Immutable.
 */
public final class Standardisation {

    private static final double MIN_STD = 1e-12;

    private final double[] mean;
    private final double[] std;

    private Standardisation(double[] mean, double[] std) {
        this.mean = mean;
        this.std = std;
    }

    /**
     * Fits the mean and standard deviation of each dimension of the training features.
     *
     * @param x training features, one row per sample, all of one length
     * @return the standardisation
     */
    public static Standardisation fit(float[][] x) {
        if (x.length == 0) {
            throw new IllegalArgumentException("No training features to standardise.");
        }
        int d = x[0].length;
        double[] mean = new double[d];
        for (int i = 0; i < x.length; i++) {
            if (x[i].length != d) {
                throw new IllegalArgumentException(
                        "Feature row " + i + " has " + x[i].length + " values, row 0 has " + d + ".");
            }
            for (int j = 0; j < d; j++) {
                mean[j] += x[i][j];
            }
        }
        for (int j = 0; j < d; j++) {
            mean[j] /= x.length;
        }
        double[] var = new double[d];
        for (float[] row : x) {
            for (int j = 0; j < d; j++) {
                double v = row[j] - mean[j];
                var[j] += v * v;
            }
        }
        double[] std = new double[d];
        for (int j = 0; j < d; j++) {
            std[j] = Math.sqrt(var[j] / x.length);
        }
        return new Standardisation(mean, std);
    }

    /**
     * @param x one feature vector
     * @return its standardised values ({@code 0} for a dimension constant in the training features)
     */
    public double[] apply(float[] x) {
        if (x.length != mean.length) {
            throw new IllegalArgumentException("Feature vector has " + x.length + " values; the standardisation was"
                    + " fitted on " + mean.length + ". Use features of the same backbone.");
        }
        double[] z = new double[x.length];
        for (int j = 0; j < x.length; j++) {
            z[j] = (x[j] - mean[j]) * scale(j);
        }
        return z;
    }

    /**
     * The factor a standardised value is multiplied by: {@code 1 / std}, or 0 for a constant dimension.
     *
     * @param j the dimension
     * @return the factor
     */
    double scale(int j) {
        return std[j] > MIN_STD ? 1 / std[j] : 0;
    }

    /** @return the number of feature dimensions */
    public int dimensions() {
        return mean.length;
    }

    /** @return the training mean of each dimension (a copy) */
    public double[] mean() {
        return mean.clone();
    }

    /** @return the training standard deviation of each dimension (a copy) */
    public double[] std() {
        return std.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Standardisation s && Arrays.equals(mean, s.mean) && Arrays.equals(std, s.std);
    }

    @Override
    public int hashCode() {
        return 31 * Arrays.hashCode(mean) + Arrays.hashCode(std);
    }

    @Override
    public String toString() {
        return "Standardisation(" + mean.length + " dimensions)";
    }
}
