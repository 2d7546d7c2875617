package dev.finetune.vision.bottleneck;

/**
 * A trained linear classifier over bottleneck features: scores {@code W z + b} per class, where
 * {@code z} is the feature vector after the {@link Standardisation} fitted on its training
 * features. The standardisation is part of the model: {@link #foldedWeights()} and
 * {@link #foldedBias()} give the same scores on raw features ({@code W' = W / std},
 * {@code b' = b - W' mean}), the form an exported linear layer takes. Immutable.
 */
public final class LinearClassifier {

    private final double[][] weights;
    private final double[] bias;
    private final Standardisation standardisation;
    private final String description;

    LinearClassifier(double[][] weights, double[] bias, Standardisation standardisation, String description) {
        if (weights.length != bias.length || weights.length == 0) {
            throw new IllegalArgumentException(
                    "A classifier needs one weight row and one bias per class, got " + weights.length + " and " + bias.length);
        }
        for (double[] row : weights) {
            if (row.length != standardisation.dimensions()) {
                throw new IllegalArgumentException("Weight rows have " + row.length + " values for "
                        + standardisation.dimensions() + " feature dimensions.");
            }
        }
        this.weights = weights;
        this.bias = bias;
        this.standardisation = standardisation;
        this.description = description;
    }

    /**
     * @param x one feature vector, as the backbone gives it (not standardised)
     * @return one score per class
     */
    public double[] scores(float[] x) {
        double[] z = standardisation.apply(x);
        double[] s = bias.clone();
        for (int c = 0; c < weights.length; c++) {
            double[] w = weights[c];
            double acc = s[c];
            for (int j = 0; j < z.length; j++) {
                acc += w[j] * z[j];
            }
            s[c] = acc;
        }
        return s;
    }

    /**
     * The softmax of the scores: class probabilities for logistic regression, and what an exported
     * model served with DJL's image classification translator ({@code applySoftmax}) reports.
     *
     * @param x one feature vector
     * @return one probability per class
     */
    public double[] probabilities(float[] x) {
        double[] s = scores(x);
        double max = Double.NEGATIVE_INFINITY;
        for (double v : s) {
            max = Math.max(max, v);
        }
        double sum = 0;
        for (int c = 0; c < s.length; c++) {
            s[c] = Math.exp(s[c] - max);
            sum += s[c];
        }
        for (int c = 0; c < s.length; c++) {
            s[c] /= sum;
        }
        return s;
    }

    /**
     * @param x one feature vector
     * @return the class with the highest score
     */
    public int predict(float[] x) {
        double[] s = scores(x);
        int best = 0;
        for (int c = 1; c < s.length; c++) {
            if (s[c] > s[best]) {
                best = c;
            }
        }
        return best;
    }

    /**
     * @param features feature vectors
     * @param labels their classes
     * @return the share predicted correctly
     */
    public double accuracy(float[][] features, int[] labels) {
        if (features.length != labels.length) {
            throw new IllegalArgumentException(features.length + " feature rows but " + labels.length + " labels.");
        }
        int correct = 0;
        for (int i = 0; i < features.length; i++) {
            correct += predict(features[i]) == labels[i] ? 1 : 0;
        }
        return features.length == 0 ? 0 : (double) correct / features.length;
    }

    /** @return the number of classes */
    public int classCount() {
        return weights.length;
    }

    /** @return the number of feature dimensions it takes */
    public int featureCount() {
        return standardisation.dimensions();
    }

    /** @return the standardisation fitted on the training features */
    public Standardisation standardisation() {
        return standardisation;
    }

    /** @return the weights on standardised features, classes x dimensions (a copy) */
    public double[][] weights() {
        double[][] out = new double[weights.length][];
        for (int c = 0; c < weights.length; c++) {
            out[c] = weights[c].clone();
        }
        return out;
    }

    /** @return the biases on standardised features (a copy) */
    public double[] bias() {
        return bias.clone();
    }

    /**
     * The weights on raw features, standardisation folded in: {@code W'[c][j] = W[c][j] / std[j]}
     * (0 for a dimension that was constant in training).
     *
     * @return classes x dimensions
     */
    public double[][] foldedWeights() {
        int d = featureCount();
        double[][] out = new double[weights.length][d];
        for (int c = 0; c < weights.length; c++) {
            for (int j = 0; j < d; j++) {
                out[c][j] = weights[c][j] * standardisation.scale(j);
            }
        }
        return out;
    }

    /**
     * The biases on raw features: {@code b'[c] = b[c] - sum_j W'[c][j] mean[j]}.
     *
     * @return one bias per class
     */
    public double[] foldedBias() {
        double[][] folded = foldedWeights();
        double[] mean = standardisation.mean();
        double[] out = bias.clone();
        for (int c = 0; c < out.length; c++) {
            for (int j = 0; j < mean.length; j++) {
                out[c] -= folded[c][j] * mean[j];
            }
        }
        return out;
    }

    @Override
    public String toString() {
        return description;
    }
}
