package dev.finetune.vision.bottleneck;

/**
 * A trained linear classifier over bottleneck features: scores {@code W x + b} per class after the
 * standardisation learnt on its training features. Immutable.
 */
public final class LinearClassifier {

    private final double[][] weights;
    private final double[] bias;
    private final double[] mean;
    private final double[] scale;
    private final String description;

    LinearClassifier(double[][] weights, double[] bias, double[] mean, double[] scale, String description) {
        this.weights = weights;
        this.bias = bias;
        this.mean = mean;
        this.scale = scale;
        this.description = description;
    }

    /**
     * @param x one feature vector
     * @return one score per class
     */
    public double[] scores(float[] x) {
        if (x.length != mean.length) {
            throw new IllegalArgumentException(
                    "Feature vector has " + x.length + " values; the classifier was trained on " + mean.length);
        }
        double[] s = bias.clone();
        for (int c = 0; c < weights.length; c++) {
            double[] w = weights[c];
            double acc = s[c];
            for (int j = 0; j < x.length; j++) {
                acc += w[j] * ((x[j] - mean[j]) * scale[j]);
            }
            s[c] = acc;
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

    @Override
    public String toString() {
        return description;
    }
}
