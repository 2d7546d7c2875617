package dev.finetune.core.result;

/**
 * What one epoch measured: training and validation loss and accuracy, validation macro-F1, wall
 * time and the number of values trained.
 *
 * @param epoch 1-based epoch over the whole fit
 * @param stage 0-based stage index
 * @param stageName the stage's name
 * @param epochInStage 1-based epoch within the stage
 * @param trainLoss mean training loss
 * @param trainAccuracy training accuracy (in training mode, as the network was updated)
 * @param validationLoss mean validation loss
 * @param validationAccuracy validation accuracy
 * @param validationMacroF1 validation macro-F1
 * @param seconds wall time of the epoch, training and validation
 * @param trainableParameters values trained in this epoch
 * @param learningRate the stage's base rate (the head's) at the epoch's last step, after the schedule
 * @param trainSamples training samples seen in the epoch
 * @param trainSeconds wall time of the training pass alone
 * @param hostReads values read from the device to the host during the training pass (the loop
 *     reads none per step: a NaN flag every 100 steps and three totals per epoch)
 */
public record EpochMetrics(
        int epoch,
        int stage,
        String stageName,
        int epochInStage,
        double trainLoss,
        double trainAccuracy,
        double validationLoss,
        double validationAccuracy,
        double validationMacroF1,
        double seconds,
        long trainableParameters,
        double learningRate,
        long trainSamples,
        double trainSeconds,
        int hostReads) {

    /** @return training images per second in this epoch (0 when not measured) */
    public double trainImagesPerSecond() {
        return trainSeconds > 0 ? trainSamples / trainSeconds : 0;
    }
}
