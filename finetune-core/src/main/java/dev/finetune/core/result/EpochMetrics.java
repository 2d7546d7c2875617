package dev.finetune.core.result;

/**
 * What one epoch measured, in four parts: where it was in the plan, what training saw, what
 * validation measured, and what it cost. The flat accessors ({@link #trainLoss()},
 * {@link #validationAccuracy()}, ...) read through to the parts.
 *
 * @param position where the epoch was in the plan
 * @param training the training pass
 * @param validation the validation pass after it
 * @param cost wall time, values trained and host reads
 */
public record EpochMetrics(Position position, Training training, Validation validation, Cost cost) {

    /**
     * Where an epoch was in the plan.
     *
     * @param epoch 1-based epoch over the whole fit
     * @param stage 0-based stage index
     * @param stageName the stage's name
     * @param epochInStage 1-based epoch within the stage
     */
    public record Position(int epoch, int stage, String stageName, int epochInStage) {}

    /**
     * The training pass of an epoch.
     *
     * @param loss mean training loss
     * @param accuracy training accuracy (in training mode, as the network was updated)
     * @param learningRate the stage's base rate (the head's) at the epoch's last step, after the schedule
     * @param samples training samples seen
     * @param seconds wall time of the training pass alone
     */
    public record Training(double loss, double accuracy, double learningRate, long samples, double seconds) {}

    /**
     * The validation pass after an epoch.
     *
     * @param loss mean validation loss
     * @param accuracy validation accuracy
     * @param macroF1 validation macro-F1
     */
    public record Validation(double loss, double accuracy, double macroF1) {}

    /**
     * What an epoch cost.
     *
     * @param seconds wall time of the epoch, training and validation
     * @param trainableParameters values trained in this epoch
     * @param hostReads values read from the device to the host during the training pass (the loop
     *     reads none per step: a NaN flag every 100 steps and the totals once per epoch)
     */
    public record Cost(double seconds, long trainableParameters, int hostReads) {}

    /** @return 1-based epoch over the whole fit */
    public int epoch() {
        return position.epoch();
    }

    /** @return 0-based stage index */
    public int stage() {
        return position.stage();
    }

    /** @return the stage's name */
    public String stageName() {
        return position.stageName();
    }

    /** @return 1-based epoch within the stage */
    public int epochInStage() {
        return position.epochInStage();
    }

    /** @return mean training loss */
    public double trainLoss() {
        return training.loss();
    }

    /** @return training accuracy */
    public double trainAccuracy() {
        return training.accuracy();
    }

    /** @return the stage's base rate at the epoch's last step, after the schedule */
    public double learningRate() {
        return training.learningRate();
    }

    /** @return training samples seen in the epoch */
    public long trainSamples() {
        return training.samples();
    }

    /** @return wall time of the training pass alone */
    public double trainSeconds() {
        return training.seconds();
    }

    /** @return mean validation loss */
    public double validationLoss() {
        return validation.loss();
    }

    /** @return validation accuracy */
    public double validationAccuracy() {
        return validation.accuracy();
    }

    /** @return validation macro-F1 */
    public double validationMacroF1() {
        return validation.macroF1();
    }

    /** @return wall time of the epoch, training and validation */
    public double seconds() {
        return cost.seconds();
    }

    /** @return values trained in this epoch */
    public long trainableParameters() {
        return cost.trainableParameters();
    }

    /** @return values read from the device to the host during the training pass */
    public int hostReads() {
        return cost.hostReads();
    }

    /** @return training images per second in this epoch (0 when not measured) */
    public double trainImagesPerSecond() {
        return trainSeconds() > 0 ? trainSamples() / trainSeconds() : 0;
    }
}
