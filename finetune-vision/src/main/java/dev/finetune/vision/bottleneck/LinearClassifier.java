package dev.finetune.vision.bottleneck;

/**
 * A trained linear classifier over bottleneck features: scores {@code W z + b} per class, where
 * {@code z} is the feature vector after its {@link FeatureScaling}: the {@link Standardisation}
 * fitted on its training features, or the per-image signed square root and unit length. The scaling
 * is part of the model. A standardisation folds into the weights ({@link #foldedWeights()} and
 * {@link #foldedBias()} give the same scores on raw features: {@code W' = W / std},
 * {@code b' = b - W' mean}), the form an exported linear layer takes; the per-image scaling cannot,
 * and an export puts it before the layer. Immutable.
 */
public final class LinearClassifier {

    private final double[][] weights;
    private final double[] bias;
    private final FeatureScaling scaling;
    private final Standardisation standardisation;
    private final int dimensions;
    private final String description;

    LinearClassifier(double[][] weights, double[] bias, Standardisation standardisation, String description) {
        this(weights, bias, FeatureScaling.STANDARDISE, standardisation, standardisation.dimensions(), description);
    }

    LinearClassifier(double[][] weights, double[] bias, FeatureScaling scaling, Standardisation standardisation,
            int dimensions, String description) {
        if (weights.length != bias.length || weights.length == 0) {
            throw new IllegalArgumentException(
                    "A classifier needs one weight row and one bias per class, got " + weights.length + " and " + bias.length);
        }
        if ((scaling == FeatureScaling.STANDARDISE) != (standardisation != null)) {
            throw new IllegalArgumentException("A standardisation goes with STANDARDISE scaling only.");
        }
        for (double[] row : weights) {
            if (row.length != dimensions) {
                throw new IllegalArgumentException("Weight rows have " + row.length + " values for "
                        + dimensions + " feature dimensions.");
            }
        }
        this.weights = weights;
        this.bias = bias;
        this.scaling = scaling;
        this.standardisation = standardisation;
        this.dimensions = dimensions;
        this.description = description;
    }

    /**
     * @param x one feature vector, as the backbone gives it
     * @return it after this classifier's scaling
     */
    public double[] scale(float[] x) {
        if (x.length != dimensions) {
            throw new IllegalArgumentException("Feature vector has " + x.length + " values; the classifier was"
                    + " fitted on " + dimensions + ". Use features of the same backbone.");
        }
        return scaling == FeatureScaling.STANDARDISE ? standardisation.apply(x) : FeatureScaling.sqrtL2(x);
    }

    /**
     * @param x one feature vector, as the backbone gives it (not standardised)
     * @return one score per class
     */
    public double[] scores(float[] x) {
        double[] z = scale(x);
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
        return dimensions;
    }

    /** @return how features are scaled before the weights apply */
    public FeatureScaling scaling() {
        return scaling;
    }

    /**
     * @return the standardisation fitted on the training features
     * @throws IllegalStateException for a classifier with {@link FeatureScaling#SQRT_L2}, which fits none
     */
    public Standardisation standardisation() {
        if (standardisation == null) {
            throw new IllegalStateException("This classifier scales each image (" + scaling
                    + "), it fitted no standardisation; see scaling().");
        }
        return standardisation;
    }

    /** @return the weights on scaled features, classes x dimensions (a copy) */
    public double[][] weights() {
        double[][] out = new double[weights.length][];
        for (int c = 0; c < weights.length; c++) {
            out[c] = weights[c].clone();
        }
        return out;
    }

    /** @return the biases on scaled features (a copy) */
    public double[] bias() {
        return bias.clone();
    }

    /**
     * The weights on raw features, standardisation folded in: {@code W'[c][j] = W[c][j] / std[j]}
     * (0 for a dimension that was constant in training).
     *
     * @return classes x dimensions
     * @throws IllegalStateException for {@link FeatureScaling#SQRT_L2}, which does not fold: use
     *     {@link #weights()} after that scaling
     */
    public double[][] foldedWeights() {
        standardisation();
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
     * @throws IllegalStateException for {@link FeatureScaling#SQRT_L2}, which does not fold: use
     *     {@link #bias()} after that scaling
     */
    public double[] foldedBias() {
        standardisation();
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
