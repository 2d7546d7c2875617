package dev.finetune.core.compare;

import dev.finetune.core.result.FineTuneResult;

/**
 * One candidate fine-tuned with one seed: what it reached and what it cost.
 *
 * @param candidate the candidate's name
 * @param seed the seed
 * @param bestValidationAccuracy validation accuracy of the best epoch
 * @param bestValidationMacroF1 validation macro-F1 of the best epoch
 * @param testAccuracy test accuracy, measured once after training
 * @param testMacroF1 test macro-F1
 * @param wallSeconds wall time of the fit (training and validation)
 * @param secondsPerEpoch wall time per epoch
 * @param trainableParameters the most values trained in any epoch
 * @param peakResidentBytes the process's peak resident memory during the fit (-1 when unknown)
 * @param peakHeapBytes the Java heap's peak during the fit
 * @param imagesPerSecond training images per second over the training passes
 * @param result the full history
 */
public record StrategyRun(
        String candidate,
        long seed,
        double bestValidationAccuracy,
        double bestValidationMacroF1,
        double testAccuracy,
        double testMacroF1,
        double wallSeconds,
        double secondsPerEpoch,
        long trainableParameters,
        long peakResidentBytes,
        long peakHeapBytes,
        double imagesPerSecond,
        FineTuneResult result) {}
