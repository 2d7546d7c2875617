package dev.finetune.vision.export;

import dev.finetune.core.result.ConfusionMatrix;
import dev.finetune.core.result.Evaluation;

import java.util.Objects;

/**
 * A classifier measured once with test-time augmentation ({@link TestTimeAugmentation#evaluate}):
 * the evaluation of the averaged probabilities and the views that were averaged.
 *
 * @param evaluation mean negative log of the averaged probability of the true class, and the
 *     confusion matrix of the most probable class
 * @param augmentation the views averaged
 */
public record TtaEvaluation(Evaluation evaluation, TestTimeAugmentation augmentation) {

    /**
     * Checks that both parts are given.
     *
     * @param evaluation the evaluation of the averaged probabilities
     * @param augmentation the views averaged
     */
    public TtaEvaluation {
        Objects.requireNonNull(evaluation, "evaluation");
        Objects.requireNonNull(augmentation, "augmentation");
    }

    /** @return the mean negative log of the averaged probability of the true class */
    public double loss() {
        return evaluation.loss();
    }

    /** @return the share of correct predictions */
    public double accuracy() {
        return evaluation.accuracy();
    }

    /** @return macro-F1 over the classes present */
    public double macroF1() {
        return evaluation.macroF1();
    }

    /** @return counts of (true, predicted) classes */
    public ConfusionMatrix confusion() {
        return evaluation.confusion();
    }

    @Override
    public String toString() {
        return evaluation + " with test-time augmentation: " + augmentation.describe();
    }
}
