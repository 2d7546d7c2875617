package dev.finetune.core.compare;

import dev.finetune.core.result.FineTuneResult;

/**
 * One candidate fine-tuned with one seed, a run that finished: what it reached and what it cost. The
 * flat accessors ({@link #testAccuracy()}, {@link #wallSeconds()}, ...) read through to the parts. A
 * run that failed is a {@link FailedRun} instead.
 *
 * @param candidate the candidate's name
 * @param seed the seed
 * @param scores what it reached
 * @param cost what it cost
 * @param result the full history
 */
public record StrategyRun(String candidate, long seed, Scores scores, Cost cost, FineTuneResult result) {

    /**
     * What a run reached.
     *
     * @param bestValidationAccuracy validation accuracy of the best epoch
     * @param bestValidationMacroF1 validation macro-F1 of the best epoch
     * @param testAccuracy test accuracy, measured once after training
     * @param testMacroF1 test macro-F1
     */
    public record Scores(double bestValidationAccuracy, double bestValidationMacroF1, double testAccuracy,
            double testMacroF1) {}

    /**
     * What a run cost.
     *
     * @param wallSeconds wall time of the fit (training and validation)
     * @param secondsPerEpoch wall time per epoch
     * @param trainableParameters the most values trained in any epoch
     * @param peakResidentBytes the process's peak resident memory during the fit (-1 when unknown)
     * @param peakHeapBytes the Java heap's peak during the fit
     * @param imagesPerSecond training images per second over the training passes
     */
    public record Cost(double wallSeconds, double secondsPerEpoch, long trainableParameters, long peakResidentBytes,
            long peakHeapBytes, double imagesPerSecond) {}

    /** @return validation accuracy of the best epoch */
    public double bestValidationAccuracy() {
        return scores.bestValidationAccuracy();
    }

    /** @return validation macro-F1 of the best epoch */
    public double bestValidationMacroF1() {
        return scores.bestValidationMacroF1();
    }

    /** @return test accuracy, measured once after training */
    public double testAccuracy() {
        return scores.testAccuracy();
    }

    /** @return test macro-F1 */
    public double testMacroF1() {
        return scores.testMacroF1();
    }

    /** @return wall time of the fit */
    public double wallSeconds() {
        return cost.wallSeconds();
    }

    /** @return wall time per epoch */
    public double secondsPerEpoch() {
        return cost.secondsPerEpoch();
    }

    /** @return the most values trained in any epoch */
    public long trainableParameters() {
        return cost.trainableParameters();
    }

    /** @return the peak resident memory during the fit (-1 when unknown) */
    public long peakResidentBytes() {
        return cost.peakResidentBytes();
    }

    /** @return the Java heap's peak during the fit */
    public long peakHeapBytes() {
        return cost.peakHeapBytes();
    }

    /** @return training images per second */
    public double imagesPerSecond() {
        return cost.imagesPerSecond();
    }
}
