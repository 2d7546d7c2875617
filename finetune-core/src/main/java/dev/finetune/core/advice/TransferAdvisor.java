package dev.finetune.core.advice;

import ai.djl.ndarray.NDManager;
import ai.djl.nn.Block;
import ai.djl.training.dataset.RandomAccessDataset;
import dev.finetune.core.features.FeatureCache;

/**
 * Chu et al. 2016's freeze-or-tune advice: measures the images per class of the target training
 * data and the cosine distance {@code 1 - mu_s . mu_t / (|mu_s| |mu_t|)} between the mean
 * penultimate-layer features of a source sample and of the target data, and looks both up in the
 * paper's Table 3.
 */
public final class TransferAdvisor {

    private TransferAdvisor() {}

    /**
     * Table 3 of the paper (all but the last layer copied): rows by distance, columns by data.
     *
     * @param imagesPerClass training images per target class
     * @param cosineDistance the source-target distance (NaN: treated as low)
     * @return the advice
     */
    public static Advice recommend(double imagesPerClass, double cosineDistance) {
        if (!(imagesPerClass > 0)) {
            throw new IllegalArgumentException("imagesPerClass must be positive, got " + imagesPerClass);
        }
        Band data = Band.ofImagesPerClass(imagesPerClass);
        Band distance = Double.isNaN(cosineDistance) ? Band.LOW : Band.ofDistance(cosineDistance);
        Recommendation r;
        if (data == Band.HIGH) {
            r = Recommendation.TUNE;
        } else if (distance == Band.LOW) {
            r = data == Band.LOW ? Recommendation.FREEZE : Recommendation.TRY_BOTH;
        } else {
            r = data == Band.LOW ? Recommendation.TRY_BOTH : Recommendation.TUNE;
        }
        return new Advice(imagesPerClass, cosineDistance, data, distance, r);
    }

    /**
     * Cosine distance between the mean feature vectors of two samples.
     *
     * @param source rows of source features
     * @param target rows of target features
     * @return {@code 1 - cos(mean(source), mean(target))}
     */
    public static double cosineDistance(float[][] source, float[][] target) {
        double[] a = mean(source);
        double[] b = mean(target);
        if (a.length != b.length) {
            throw new IllegalArgumentException("Source features have " + a.length + " values, target " + b.length + ".");
        }
        double dot = 0;
        double na = 0;
        double nb = 0;
        for (int i = 0; i < a.length; i++) {
            dot += a[i] * b[i];
            na += a[i] * a[i];
            nb += b[i] * b[i];
        }
        if (na == 0 || nb == 0) {
            throw new IllegalArgumentException("A mean feature vector is zero: the distance is undefined.");
        }
        return 1 - dot / Math.sqrt(na * nb);
    }

    private static double[] mean(float[][] rows) {
        if (rows.length == 0) {
            throw new IllegalArgumentException("No feature rows.");
        }
        double[] m = new double[rows[0].length];
        for (float[] r : rows) {
            for (int i = 0; i < m.length; i++) {
                m[i] += r[i] / (double) rows.length;
            }
        }
        return m;
    }

    /**
     * Measures the distance with a feature extractor (the pretrained network up to its penultimate
     * layer, in inference mode) over a source sample and the target training data, and advises.
     *
     * @param features the pretrained network without its last layer
     * @param parameterManager the manager of its parameters (its device is used)
     * @param sourceSample images of the source domain (a few hundred are enough)
     * @param targetTrain the target training data
     * @param targetClasses the number of target classes
     * @return the advice
     */
    public static Advice measure(Block features, NDManager parameterManager, RandomAccessDataset sourceSample,
            RandomAccessDataset targetTrain, int targetClasses) {
        if (targetClasses < 2) {
            throw new IllegalArgumentException("targetClasses must be at least 2 (the target's class count), got "
                    + targetClasses);
        }
        double distance;
        try (FeatureCache s = FeatureCache.compute(features, parameterManager, sourceSample, 256);
                FeatureCache t = FeatureCache.compute(features, parameterManager, targetTrain, 256)) {
            distance = cosineDistance(s.rows(), t.rows());
        }
        return recommend((double) targetTrain.size() / targetClasses, distance);
    }
}
