package dev.finetune.vision.bottleneck;

/**
 * How bottleneck features are scaled before a linear classifier sees them; part of every
 * {@link LinearClassifier}, so prediction and export apply the same scaling.
 *
 * <ul>
 *   <li>{@link #STANDARDISE}: each dimension to zero mean and unit variance over the training
 *       features ({@link Standardisation}); folds into an exported linear layer.</li>
 *   <li>{@link #SQRT_L2}: each value to its signed square root, then the vector to unit length,
 *       per image, with nothing fitted (the power and L2 normalisation of Perronnin et al. 2010,
 *       used on CNN features by Razavian et al. 2014). It damps the few large activations that
 *       dominate pooled ReLU features and makes images comparable whatever their contrast. On the
 *       quality benchmark's real sets it beat standardisation on all four settings compared, by
 *       2.6-6.7 points ({@code benchmarks/probe-study.md}). An export puts it as a parameterless
 *       block before the linear layer.</li>
 * </ul>
 */
public enum FeatureScaling {
    /** Per-dimension standardisation fitted on the training features. */
    STANDARDISE,
    /** Signed square root of each value, then unit L2 length, per image. */
    SQRT_L2;

    /**
     * Added under the square root so its slope at 0 stays finite (500) when a network is trained
     * through it; {@code sqrt(|v| + EPSILON) - sqrt(EPSILON)} keeps 0 at 0.
     */
    public static final double EPSILON = 1e-6;

    /**
     * The {@link #SQRT_L2} scaling of one vector: {@code s_j = sign(v_j) (sqrt(|v_j| + eps) - sqrt(eps))},
     * then {@code s / ||s||} (a zero vector stays zero).
     *
     * @param v one feature vector
     * @return the scaled vector
     */
    public static double[] sqrtL2(float[] v) {
        double[] s = new double[v.length];
        double root = Math.sqrt(EPSILON);
        double norm = 0;
        for (int j = 0; j < v.length; j++) {
            double a = Math.abs((double) v[j]);
            s[j] = Math.signum(v[j]) * (Math.sqrt(a + EPSILON) - root);
            norm += s[j] * s[j];
        }
        norm = Math.sqrt(norm);
        if (norm > 0) {
            for (int j = 0; j < s.length; j++) {
                s[j] /= norm;
            }
        }
        return s;
    }
}
