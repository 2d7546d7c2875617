package dev.finetune.core.advice;

/** Low, medium or high: the bands of Chu et al. 2016, Table 3, for data size and distance. */
public enum Band {
    /** 1-20 images per class; cosine distance 0-0.2. */
    LOW,
    /** 21-99 images per class; cosine distance 0.2-0.4. */
    MEDIUM,
    /** 100 or more images per class; cosine distance 0.4-1. */
    HIGH;

    /**
     * @param imagesPerClass training images per class
     * @return the data band: LOW up to 20, MEDIUM 21-99, HIGH from 100
     */
    public static Band ofImagesPerClass(double imagesPerClass) {
        if (imagesPerClass < 20.5) {
            return LOW;
        }
        return imagesPerClass < 99.5 ? MEDIUM : HIGH;
    }

    /**
     * @param cosineDistance distance of the mean penultimate features, in [0, 1] for non-negative features
     * @return the distance band: LOW below 0.2, MEDIUM below 0.4, HIGH from 0.4
     */
    public static Band ofDistance(double cosineDistance) {
        if (cosineDistance < 0.2) {
            return LOW;
        }
        return cosineDistance < 0.4 ? MEDIUM : HIGH;
    }
}
