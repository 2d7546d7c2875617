package dev.finetune.core;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.finetune.core.result.EpochMetrics;
import dev.finetune.core.result.FineTuneResult;

import java.util.List;
import java.util.Locale;

/**
 * Follows a fit: its start, each stage, each epoch, each step, its end or failure. Add one with
 * {@link FineTuner#addListener}; every method has an empty default, so a listener overrides only
 * what it needs. Listeners run in the fitting thread, in the order they were added, after the
 * library's own (progress, log line, divergence check) and before the checkpoint writers, so that a
 * listener's state is saved with the epoch it saw.
 *
 * <pre>{@code
 * tuner.addListener(new FineTuneListener() {
 *     public void onEpochEnd(EpochEnd end) {
 *         dashboard.plot(end.metrics().epoch(), end.metrics().validationAccuracy());
 *         if (end.metrics().validationAccuracy() > 0.99) {
 *             end.control().stopFit("good enough");
 *         }
 *     }
 * });
 * }</pre>
 *
 * <p>A listener that keeps state across epochs (a patience counter, a running average) returns it
 * from {@link #saveState()} and takes it back in {@link #restoreState(String)}: the state is written
 * into the last checkpoint ({@link FineTuner#optLastCheckpoint}) after every epoch and given back
 * when a run resumes from it, so that a resumed run decides what the uninterrupted one would have.
 * States are matched by the listener's position and class.
 */
public interface FineTuneListener {

    /** @param start the plan, classes, seed and the epochs a resumed run already has */
    default void onFitStart(FitStart start) {}

    /** @param stage the stage about to train */
    default void onStageStart(StageStart stage) {}

    /** @param epoch the epoch about to train */
    default void onEpochStart(EpochStart epoch) {}

    /**
     * Called after every optimizer step. Cheap: nothing here was read from the device; reading
     * {@link Step#loss()} costs a device synchronisation.
     *
     * @param step the step
     */
    default void onStep(Step step) {}

    /** @param end the epoch's metrics and whether it is the best so far */
    default void onEpochEnd(EpochEnd end) {}

    /** @param end the stage that ended, and why */
    default void onStageEnd(StageEnd end) {}

    /** @param result the fit's result; the model holds its final weights */
    default void onFitEnd(FineTuneResult result) {}

    /** @param failure what stopped the fit (an interruption, divergence, a failed write, ...) */
    default void onFitFailure(Throwable failure) {}

    /**
     * @return this listener's state to write with the last checkpoint, or null when it keeps none
     */
    default String saveState() {
        return null;
    }

    /** @param state what {@link #saveState()} returned when the resumed run wrote its checkpoint */
    default void restoreState(String state) {}

    /**
     * A fit starts.
     *
     * @param plan every stage's description, in order
     * @param classNames class names in label order
     * @param seed the fit's seed
     * @param history the epochs already completed (non-empty when resuming from a last checkpoint)
     * @param control stops or snapshots the fit
     */
    record FitStart(List<String> plan, List<String> classNames, long seed, List<EpochMetrics> history,
            FitControl control) {}

    /**
     * A stage starts (or continues, when a run resumes inside it).
     *
     * @param stage 0-based stage index
     * @param stages stages in the plan
     * @param name the stage's name
     * @param epochs epochs of the stage
     * @param firstEpoch 0-based epoch the stage starts at (non-zero when resuming)
     * @param stepsPerEpoch optimizer steps per epoch
     * @param control stops or snapshots the fit
     */
    record StageStart(int stage, int stages, String name, int epochs, int firstEpoch, long stepsPerEpoch,
            FitControl control) {}

    /**
     * An epoch starts.
     *
     * @param epoch 1-based epoch over the whole fit
     * @param stage 0-based stage index
     * @param stages stages in the plan
     * @param stageName the stage's name
     * @param epochInStage 1-based epoch within the stage
     * @param epochsInStage epochs of the stage
     * @param steps optimizer steps in this epoch
     * @param learningRate the stage's base (head) rate before the schedule
     * @param manager a manager on the training device that lives until the epoch ends, for arrays a
     *     listener keeps over the epoch
     */
    record EpochStart(int epoch, int stage, int stages, String stageName, int epochInStage, int epochsInStage,
            long steps, double learningRate, NDManager manager) {

        /** @return "stage 1/2 'head-only' epoch 3/5" */
        public String label() {
            return String.format(Locale.ROOT, "stage %d/%d '%s' epoch %d/%d", stage + 1, stages, stageName,
                    epochInStage, epochsInStage);
        }
    }

    /**
     * One optimizer step is done.
     *
     * @param epoch the epoch it belongs to
     * @param step 1-based step within the epoch
     * @param samples training samples seen in the epoch so far
     * @param stepInStage 1-based step within the stage
     * @param learningRate the base (head) rate of this step, schedule applied
     * @param loss the step's mean loss, on the device and detached (reading it syncs the device)
     * @param manager the step's manager: arrays made in it are freed when the step ends
     */
    record Step(EpochStart epoch, long step, long samples, long stepInStage, double learningRate, NDArray loss,
            NDManager manager) {}

    /**
     * An epoch ended (validated).
     *
     * @param metrics what it measured
     * @param improved whether it is the best epoch so far by the checkpoint metric
     * @param control stops or snapshots the fit
     */
    record EpochEnd(EpochMetrics metrics, boolean improved, FitControl control) {}

    /**
     * A stage ended.
     *
     * @param stage 0-based stage index
     * @param name the stage's name
     * @param epochsRun epochs of the stage that ran in this fit
     * @param stoppedEarly why a listener stopped it before its last epoch, or null
     */
    record StageEnd(int stage, String name, int epochsRun, String stoppedEarly) {}
}
