package dev.finetune.core.advice;

import dev.finetune.core.result.EpochMetrics;
import dev.finetune.core.result.FineTuneResult;
import dev.finetune.core.TrainingDivergedException;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Reads a run's history as the monitoring table of the fine-tuning recipe does: training improves
 * while validation worsens (overfitting); neither improves (rate too low, wrong layers frozen, bad
 * labels); the loss became NaN (rate too high); validation jumps erratically (small validation set
 * or unstable preprocessing). Each finding is said in words with the numbers that show it.
 */
public final class Diagnosis {

    /** What a finding is about. */
    public enum Kind {
        /** Training improves, validation worsens. */
        OVERFITTING,
        /** Neither training nor validation improves. */
        NOT_LEARNING,
        /** The loss became NaN or infinite. */
        DIVERGED,
        /** Validation accuracy jumps between epochs more than its sampling noise explains. */
        ERRATIC_VALIDATION
    }

    /**
     * One finding.
     *
     * @param kind what it is about
     * @param words the explanation and what to do
     */
    public record Finding(Kind kind, String words) {}

    private Diagnosis() {}

    /**
     * Diagnoses a finished run.
     *
     * @param result the run
     * @return the findings; empty when the curves look healthy
     */
    public static List<Finding> of(FineTuneResult result) {
        List<Finding> out = new ArrayList<>();
        List<EpochMetrics> h = result.epochs();
        for (EpochMetrics m : h) {
            if (!Double.isFinite(m.trainLoss()) || !Double.isFinite(m.validationLoss())) {
                out.add(new Finding(Kind.DIVERGED, String.format(Locale.ROOT,
                        "The loss is not finite in epoch %d (train %s, validation %s): the learning rate (%.2e) is"
                                + " too high or the inputs hold NaN; lower the rate 3-10x or clip gradients"
                                + " (Stage.withClipNorm).", m.epoch(), m.trainLoss(), m.validationLoss(),
                        m.learningRate())));
                return out;
            }
        }
        for (String w : result.warnings()) {
            out.add(new Finding(Kind.OVERFITTING, w));
        }
        int classes = result.bestConfusionMatrix().classCount();
        long validationSize = result.bestConfusionMatrix().total();
        EpochMetrics first = h.get(0);
        double minTrainLoss = first.trainLoss();
        double bestValidation = first.validationAccuracy();
        for (EpochMetrics m : h) {
            minTrainLoss = Math.min(minTrainLoss, m.trainLoss());
            bestValidation = Math.max(bestValidation, m.validationAccuracy());
        }
        double chance = 1.0 / classes;
        boolean flatTraining = h.size() >= 2 && minTrainLoss > first.trainLoss() * 0.95;
        boolean nearChance = bestValidation < chance * 1.5;
        if ((flatTraining && bestValidation <= first.validationAccuracy() + 0.01) || (h.size() >= 2 && nearChance)) {
            out.add(new Finding(Kind.NOT_LEARNING, String.format(Locale.ROOT,
                    "Neither training nor validation improves: training loss %.4f -> best %.4f over %d epochs,"
                            + " validation accuracy at best %.3f (chance %.3f). The learning rate (at most %.2e over the fit) may be"
                            + " too low, the layers that need to adapt may be frozen, or the labels may be wrong:"
                            + " raise the rate 3-10x, unfreeze more groups, and check a few labelled images by eye.",
                    first.trainLoss(), minTrainLoss, h.size(), bestValidation, chance,
                    h.stream().mapToDouble(EpochMetrics::learningRate).max().orElse(Double.NaN))));
        }
        if (h.size() >= 4 && validationSize > 0) {
            int turns = 0;
            double sumJump = 0;
            for (int i = 1; i < h.size(); i++) {
                double d = h.get(i).validationAccuracy() - h.get(i - 1).validationAccuracy();
                sumJump += Math.abs(d);
                if (i >= 2) {
                    double prev = h.get(i - 1).validationAccuracy() - h.get(i - 2).validationAccuracy();
                    if (d * prev < 0) {
                        turns++;
                    }
                }
            }
            double meanJump = sumJump / (h.size() - 1);
            double p = Math.min(0.99, Math.max(0.01, bestValidation));
            double noise = Math.sqrt(p * (1 - p) / validationSize);
            if (turns >= (h.size() - 2) / 2 + 1 && meanJump > 2 * noise && meanJump > 0.02) {
                out.add(new Finding(Kind.ERRATIC_VALIDATION, String.format(Locale.ROOT,
                        "Validation accuracy jumps by %.3f per epoch on average and changes direction %d times in %d"
                                + " epochs, more than the sampling noise of %d validation images (about %.3f): use a"
                                + " larger validation set, average over seeds, lower the rate, and check that the"
                                + " evaluation preprocessing is deterministic.",
                        meanJump, turns, h.size(), validationSize, noise)));
            }
        }
        return out;
    }

    /**
     * Diagnoses a run that stopped because the loss became NaN or infinite.
     *
     * @param e the exception the fit threw
     * @return the finding
     */
    public static Finding of(TrainingDivergedException e) {
        return new Finding(Kind.DIVERGED, "The loss became NaN or infinite at step " + e.step()
                + " of its stage: the learning rate is too high (or the data holds NaN). Lower the rate 3-10x,"
                + " clip gradients by global norm (Stage.withClipNorm), or warm up longer.");
    }
}
