package dev.finetune.core;

import ai.djl.nn.Block;

/**
 * What a {@link FineTuneListener} may do to the fit it follows: stop the current stage or the whole
 * fit once the current epoch ends, and take a snapshot of the training state to put back later
 * (for trial runs such as a learning-rate search).
 */
public interface FitControl {

    /**
     * Ends the current stage after the current epoch (the next stage, if any, starts); a resumed
     * run remembers it.
     *
     * @param reason why, for the log and {@link FineTuneListener.StageEnd#stoppedEarly()}
     */
    void stopStage(String reason);

    /**
     * Ends the fit after the current epoch; the result reports the epochs run.
     *
     * @param reason why, for the log
     */
    void stopFit(String reason);

    /**
     * Sets the running stage's base (head) learning rate, the groups' multipliers kept: from the
     * epoch about to start when called before it trains ({@code onStageStart}, {@code onEpochStart}),
     * else from the next epoch. The stage's description, and so the checkpoints' plan, stay as given:
     * a listener that sets a rate saves it in its state to set it again on resume.
     *
     * @param rate the new rate, positive
     */
    void setLearningRate(double rate);

    /** @return the block being trained (its parameters are the live weights) */
    Block block();

    /**
     * Copies the weights (BatchNorm statistics included where the block exposes them) and the
     * optimizer's state, to put back with {@link Snapshot#restore()}.
     *
     * @return the snapshot; close it to free its memory
     */
    Snapshot snapshot();

    /**
     * Trains {@code steps} trial steps of the current stage's first remaining epoch plan at the
     * given rates, reading each step's loss, then puts the weights and optimizer state back as they
     * were (a learning-rate search). Repeatable: the trial's batches are shuffled by the fit's seed.
     * Only while a stage runs (from {@link FineTuneListener#onStageStart} to its last epoch's end).
     *
     * @param steps how many steps, at least 1
     * @param rate the base (head) rate of each 0-based step
     * @return each step's training loss
     */
    double[] trialSteps(int steps, java.util.function.LongToDoubleFunction rate);

    /** A copy of the training state. */
    interface Snapshot extends AutoCloseable {
        /** Puts the weights and optimizer state back as they were when the snapshot was taken. */
        void restore();

        @Override
        void close();
    }
}
