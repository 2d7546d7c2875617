package dev.finetune.vision.interpret;

import java.nio.file.Path;
import java.util.Locale;
import java.util.Objects;

/**
 * What the model made of one image of the dataset.
 *
 * @param index the image's position in the dataset (and in its catalog's samples)
 * @param path the image file
 * @param trueClass the label's class index
 * @param trueName the label's class name
 * @param predicted the predicted class index (the highest score; the first on a tie)
 * @param predictedName the predicted class name
 * @param probability the softmax probability of the predicted class
 * @param trueProbability the softmax probability of the true class
 * @param loss the cross-entropy of this image, {@code -ln(trueProbability)} (computed from the
 *     scores in double precision, so it stays finite where the probability underflows)
 */
public record Prediction(int index, Path path, int trueClass, String trueName, int predicted, String predictedName,
        double probability, double trueProbability, double loss) {

    /**
     * Checks the fields.
     *
     * @param index the image's position in the dataset
     * @param path the image file
     * @param trueClass the label's class index
     * @param trueName the label's class name
     * @param predicted the predicted class index
     * @param predictedName the predicted class name
     * @param probability the softmax probability of the predicted class
     * @param trueProbability the softmax probability of the true class
     * @param loss the cross-entropy of this image
     */
    public Prediction {
        Objects.requireNonNull(path, "path");
        Objects.requireNonNull(trueName, "trueName");
        Objects.requireNonNull(predictedName, "predictedName");
    }

    /** @return whether the predicted class differs from the label */
    public boolean isMistake() {
        return predicted != trueClass;
    }

    /** @return the file's name, without its folder */
    public String fileName() {
        Path name = path.getFileName();
        return name == null ? path.toString() : name.toString();
    }

    /** @return "path: true / predicted p=0.93 (true p=0.01, loss 4.61)" */
    @Override
    public String toString() {
        return String.format(Locale.ROOT, "%s: %s / %s p=%.2f (true p=%.2f, loss %.2f)", path, trueName, predictedName,
                probability, trueProbability, loss);
    }
}
