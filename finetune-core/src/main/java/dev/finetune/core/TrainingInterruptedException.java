package dev.finetune.core;

import dev.finetune.core.result.FineTuneResult;

/**
 * Thrown by a fit whose thread was interrupted: training stopped at a step boundary, every native
 * resource was released, the best checkpoint already written was kept, and the thread's interrupt
 * flag is set again. It says where the run stopped and carries the result of the completed epochs.
 */
public final class TrainingInterruptedException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    /** The 1-based stage, 0 when not known. */
    private final int stage;
    /** The stage's name, or null. */
    private final String stageName;
    /** The 1-based epoch within the stage, 0 when not known. */
    private final int epoch;
    /** "training", "validation" or "feature cache". */
    private final String phase;
    /** The steps of that phase completed in the epoch when it stopped. */
    private final long step;
    private final transient FineTuneResult partialResult;

    /**
     * Creates the exception.
     *
     * @param message what stopped where, and what to do
     * @param stage the 1-based stage, 0 when not known (inside a loop that knows no plan)
     * @param stageName the stage's name, or null
     * @param epoch the 1-based epoch within the stage, 0 when not known
     * @param phase "training", "validation" or "feature cache"
     * @param step the steps of that phase completed in the epoch when it stopped
     * @param partialResult the completed epochs, or null when none completed
     * @param cause where the interruption was first seen, or null
     */
    public TrainingInterruptedException(String message, int stage, String stageName, int epoch, String phase,
            long step, FineTuneResult partialResult, Throwable cause) {
        super(message, cause);
        this.stage = stage;
        this.stageName = stageName;
        this.epoch = epoch;
        this.phase = phase;
        this.step = step;
        this.partialResult = partialResult;
    }

    /** @return the 1-based stage that was running, 0 when not known */
    public int stage() {
        return stage;
    }

    /** @return the name of the stage that was running, or null */
    public String stageName() {
        return stageName;
    }

    /** @return the 1-based epoch within the stage that was running, 0 when not known */
    public int epoch() {
        return epoch;
    }

    /** @return the phase of the epoch: "training", "validation" or "feature cache" */
    public String phase() {
        return phase;
    }

    /** @return the steps of the phase that completed in the epoch before it stopped */
    public long step() {
        return step;
    }

    /**
     * @return the metrics of the epochs that completed before the interruption (best epoch, its
     *     confusion matrix, the checkpoint), or null when none completed
     */
    public FineTuneResult partialResult() {
        return partialResult;
    }
}
