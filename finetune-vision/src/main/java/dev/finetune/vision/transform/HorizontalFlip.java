package dev.finetune.vision.transform;

import ai.djl.ndarray.NDArray;
import ai.djl.translate.Transform;

import java.util.Random;

/**
 * Mirrors an HWC image left to right with a given probability, drawing from its own seeded
 * generator (DJL's {@code RandomFlipLeftRight} draws from the global {@code RandomUtils} and, in
 * 0.35.1, discards the flipped array).
 */
public final class HorizontalFlip implements Transform {

    private final double probability;
    private final Random random;

    /**
     * Creates a flip with its own draws.
     *
     * @param probability chance of a flip, in [0, 1]; 1 always flips
     * @param seed seed of the draws
     */
    public HorizontalFlip(double probability, long seed) {
        if (!(probability >= 0 && probability <= 1)) {
            throw new IllegalArgumentException("Flip probability must be in [0, 1], got " + probability);
        }
        this.probability = probability;
        this.random = new Random(seed);
    }

    /**
     * Mirrors an image left to right.
     *
     * @param image an HWC image
     * @return the mirrored image, a new array
     */
    public static NDArray flip(NDArray image) {
        Hwc.check(image, "HorizontalFlip");
        return image.flip(1);
    }

    /** {@inheritDoc} */
    @Override
    public NDArray transform(NDArray array) {
        Hwc.check(array, "HorizontalFlip");
        // always draw, so that the sequence of draws does not depend on the probability
        boolean flip = random.nextDouble() < probability;
        return flip ? array.flip(1) : array;
    }

    @Override
    public String toString() {
        return "HorizontalFlip(p=" + probability + ")";
    }
}
