package dev.finetune.vision.image;

import ai.djl.modality.cv.util.NDImageUtils;
import ai.djl.ndarray.NDArray;
import ai.djl.translate.Transform;

import java.util.Arrays;

/**
 * Subtracts a per-channel mean and divides by a per-channel standard deviation of a CHW tensor on
 * the [0, 1] scale, for one (grey) or three (colour) channels; DJL's {@code Normalize} takes three
 * channels only.
 */
public final class Normalization implements Transform {

    private final float[] mean;
    private final float[] std;

    /**
     * @param mean per-channel means on the [0, 1] scale (1 or 3 values)
     * @param std per-channel standard deviations, all above 0 (as many as means)
     */
    public Normalization(float[] mean, float[] std) {
        if (mean == null || std == null || mean.length != std.length || (mean.length != 1 && mean.length != 3)) {
            throw new IllegalArgumentException("Normalization takes 1 (grey) or 3 (colour) means and as many standard"
                    + " deviations, got " + Arrays.toString(mean) + " and " + Arrays.toString(std));
        }
        for (float s : std) {
            if (!(s > 0 && Float.isFinite(s))) {
                throw new IllegalArgumentException("Normalization std must be above 0, got " + Arrays.toString(std));
            }
        }
        this.mean = mean.clone();
        this.std = std.clone();
    }

    /** {@inheritDoc} */
    @Override
    public NDArray transform(NDArray array) {
        if (array.getShape().dimension() != 3 || array.getShape().get(0) != mean.length) {
            throw new IllegalArgumentException("Normalization with " + mean.length + " channel(s) takes a CHW tensor with "
                    + mean.length + " channel(s), got shape " + array.getShape());
        }
        return mean.length == 3 ? NDImageUtils.normalize(array, mean, std) : array.sub(mean[0]).divi(std[0]);
    }

    @Override
    public String toString() {
        return "Normalization(mean=" + Arrays.toString(mean) + ", std=" + Arrays.toString(std) + ")";
    }
}
