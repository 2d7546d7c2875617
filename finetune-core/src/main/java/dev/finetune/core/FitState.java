package dev.finetune.core;

import ai.djl.ndarray.NDManager;
import ai.djl.nn.Block;
import dev.finetune.core.checkpoint.Checkpoint;
import dev.finetune.core.checkpoint.CheckpointException;
import dev.finetune.core.internal.PlanOptimizer;
import dev.finetune.core.result.ConfusionMatrix;
import dev.finetune.core.result.EpochMetrics;
import dev.finetune.core.result.FineTuneResult;
import dev.finetune.core.stage.Stage;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * What a fit has measured and where it is: the history, the best epoch (its weights in memory), the
 * position in the plan; and the one place where checkpoint metadata is made, written and read back
 * for a resume.
 */
final class FitState {

    private static final Logger LOG = LoggerFactory.getLogger(FineTuner.class);

    private final FineTuner tuner;
    private final Block block;
    final List<String> names;
    final List<String> plan;
    final List<EpochMetrics> history = new ArrayList<>();
    Checkpoint best;
    ConfusionMatrix bestConfusion;
    int bestIndex = -1;
    double bestValue = Double.NaN;
    int epochNumber;
    int stage;
    int epochInStage;
    /** Optimizer state to load into the first stage's optimizer of a resumed run. */
    PlanOptimizer.SavedState pendingOptimizer;

    FitState(FineTuner tuner, Block block, List<String> names, List<String> plan) {
        this.tuner = tuner;
        this.block = block;
        this.names = List.copyOf(names);
        this.plan = List.copyOf(plan);
    }

    /** What the first batch of a dataset tells: input shape, batches per epoch, batch size. */
    record FirstBatch(ai.djl.ndarray.types.Shape shape, long batches, int size) {}

    /**
     * Where a fit starts.
     *
     * @param stage 0-based stage
     * @param epochInStage 0-based epoch within it
     * @param listenerStates the listeners' saved states of an exact resume, or null
     */
    record Start(int stage, int epochInStage, Map<String, String> listenerStates) {}

    /** The checkpoint metadata of this fit: the one place it is made. */
    Checkpoint.Metadata metadata(int epoch, int stageIndex, int epochInStageIndex, double value,
            Checkpoint.Resume resume) {
        return new Checkpoint.Metadata(names, epoch, stageIndex, epochInStageIndex, tuner.metric.name(), value, plan,
                tuner.seed, Checkpoint.shapesOf(block), Instant.now().toString(), resume);
    }

    /**
     * Adds an epoch to the history and keeps its weights in memory when it is the best so far.
     *
     * @return whether it is the best so far
     */
    boolean record(EpochMetrics m, ConfusionMatrix cm) {
        history.add(m);
        double value = tuner.metric.of(m);
        if (!tuner.metric.isBetter(value, bestValue)) {
            return false;
        }
        bestValue = value;
        bestIndex = history.size() - 1;
        bestConfusion = cm;
        try {
            best = Checkpoint.of(block, metadata(m.epoch(), m.stage(), m.epochInStage(), value, null));
        } catch (CheckpointException e) {
            throw new FitRun.CheckpointFailure(e);
        }
        return true;
    }

    /** The full state after an epoch, for an exact resume. */
    Checkpoint resumeCheckpoint(EpochMetrics last, PlanOptimizer.SavedState optimizer, Map<String, String> listeners,
            String stopped) throws CheckpointException {
        long[][] confusion = null;
        if (bestConfusion != null) {
            int k = bestConfusion.classCount();
            confusion = new long[k][k];
            for (int i = 0; i < k; i++) {
                for (int j = 0; j < k; j++) {
                    confusion[i][j] = bestConfusion.count(i, j);
                }
            }
        }
        Checkpoint.Resume resume = new Checkpoint.Resume(history, bestIndex, bestValue, confusion, optimizer.names(),
                optimizer.steps(), listeners, stopped);
        return Checkpoint.of(block, metadata(last.epoch(), last.stage(), last.epochInStage(), tuner.metric.of(last),
                resume), optimizer.arrays());
    }

    /**
     * Restores a checkpoint of the same plan into the model and sets where the fit goes on; for a
     * resume checkpoint also the history, the best epoch and the optimizer state.
     */
    Start resume(Path from, List<Stage> stages, NDManager manager) throws CheckpointException {
        Checkpoint resume = Checkpoint.load(from);
        Checkpoint.Metadata meta = resume.metadata();
        if (!meta.stagePlan().equals(plan)) {
            throw new CheckpointException("Checkpoint " + from + " was written by another stage plan "
                    + meta.stagePlan() + "; this fine-tuner's plan is " + plan
                    + ". Resume with the same stages, or start without resuming.");
        }
        resume.restoreInto(block, manager);
        int startStage = meta.stage();
        int startEpochInStage = meta.epochInStage();
        epochNumber = meta.epoch();
        bestValue = meta.metricValue();
        Checkpoint.Resume r = meta.resume();
        boolean stageStopped = r != null && r.stopped() != null;
        boolean fitStopped = r != null && "fit".equals(r.stopped());
        if (fitStopped) {
            startStage = stages.size();
            startEpochInStage = 0;
        } else if (stageStopped || startEpochInStage >= stages.get(startStage).epochs()) {
            startStage++;
            startEpochInStage = 0;
        }
        LOG.info("Resuming from {} after epoch {} (stage {}, {} {})", from, meta.epoch(), meta.stage() + 1,
                tuner.metric, meta.metricValue());
        if (r == null) {
            return new Start(startStage, startEpochInStage, null);
        }
        continueExactly(resume, from);
        if (startStage != meta.stage()) {
            pendingOptimizer = null; // the checkpoint ended a stage: the next starts a fresh optimizer
        }
        return new Start(startStage, startEpochInStage, r.listenerStates());
    }

    /**
     * Restores what a resume checkpoint holds beside the weights: the history, the best epoch (its
     * weights from the best checkpoint, or the restored ones when it is the last epoch) and the
     * optimizer state for the first stage that runs.
     */
    private void continueExactly(Checkpoint last, Path from) throws CheckpointException {
        Checkpoint.Resume r = last.metadata().resume();
        history.addAll(r.history());
        bestIndex = r.bestIndex();
        bestValue = r.bestValue();
        if (r.bestConfusion() != null) {
            bestConfusion = new ConfusionMatrix(r.bestConfusion(), names);
        }
        pendingOptimizer = new PlanOptimizer.SavedState(r.optimizerParameters(), r.optimizerSteps(),
                last.optimizerState());
        if (r.bestIndex() < 0) {
            return;
        }
        EpochMetrics bestEpoch = r.history().get(r.bestIndex());
        Path bestFile = tuner.checkpointPath;
        if (r.bestIndex() == r.history().size() - 1) {
            // the last epoch was the best: its weights are the ones just restored; the best file may
            // predate it if the run stopped between the two writes
            best = Checkpoint.of(block, metadata(bestEpoch.epoch(), bestEpoch.stage(), bestEpoch.epochInStage(),
                    r.bestValue(), null));
            if (bestFile != null) {
                best.save(bestFile);
            }
            return;
        }
        if (bestFile == null) {
            throw new CheckpointException("The resume checkpoint " + from + " names epoch " + bestEpoch.epoch()
                    + " as the best so far, and its weights are in the best checkpoint that run wrote: set"
                    + " optCheckpoint(that file) as well, so that the best weights are not lost.");
        }
        Checkpoint file = Checkpoint.load(bestFile);
        if (file.metadata().epoch() != bestEpoch.epoch()) {
            throw new CheckpointException("The best checkpoint " + bestFile + " holds epoch "
                    + file.metadata().epoch() + " but the resume checkpoint " + from + " names epoch "
                    + bestEpoch.epoch() + " as the best: give the best checkpoint written by the same run.");
        }
        best = file;
    }

    /** The result of the epochs recorded so far, or null when there are none. */
    FineTuneResult result() {
        if (history.isEmpty()) {
            return null;
        }
        int index = bestIndex;
        ConfusionMatrix confusion = bestConfusion;
        if (index < 0) {
            // resumed run that never beat the checkpoint's metric: report the best of this run
            index = 0;
            for (int i = 1; i < history.size(); i++) {
                if (tuner.metric.isBetter(tuner.metric.of(history.get(i)), tuner.metric.of(history.get(index)))) {
                    index = i;
                }
            }
            confusion = null;
        }
        if (confusion == null) {
            confusion = new ConfusionMatrix(new long[names.size()][names.size()], names);
        }
        return new FineTuneResult(new ArrayList<>(history), new ArrayList<>(plan), tuner.metric, index, confusion,
                best != null ? tuner.checkpointPath : null, tuner.seed);
    }

    /**
     * Finishes an interrupted fit: restores the best weights (if asked), sets the interrupt flag
     * again and describes where it stopped.
     */
    TrainingInterruptedException interrupted(TrainingInterruptedException e, List<Stage> stages) {
        Thread.interrupted(); // cleared while restoring, set again below
        try {
            if (tuner.restoreBest && best != null) { // the weights moved since the last completed epoch
                best.restoreInto(block, tuner.manager);
            }
        } catch (CheckpointException | RuntimeException failure) {
            e.addSuppressed(failure);
        } finally {
            Thread.currentThread().interrupt();
        }
        Stage current = stages.get(Math.min(stage, stages.size() - 1));
        FineTuneResult partial = result();
        String where = String.format(Locale.ROOT, "stage %d/%d '%s', epoch %d/%d, %s step %d", stage + 1,
                stages.size(), current.name(), epochInStage + 1, current.epochs(), e.phase(), e.step() + 1);
        Path file = tuner.checkpointPath;
        Path last = tuner.lastCheckpointPath;
        String kept;
        if (partial == null) {
            kept = " No epoch completed.";
        } else if (last != null) {
            // the last checkpoint continues exactly: history, best epoch, optimizer and listener state
            kept = " Continue exactly where it stopped with optResumeFrom(" + last.getFileName() + ")"
                    + (best != null && file != null ? "; the best epoch so far (" + history.get(bestIndex).epoch()
                            + ") is in " + file : "") + ".";
        } else if (best != null && file != null) {
            kept = " The best epoch so far (" + history.get(bestIndex).epoch() + ") is in " + file
                    + ": continue with optResumeFrom(" + file.getFileName() + ").";
        } else {
            kept = "";
        }
        String message = "Training was interrupted; it stopped before " + where + " (" + e.step() + " steps of the "
                + e.phase() + " pass done, " + history.size() + " epochs completed)." + kept;
        LOG.info(message);
        return new TrainingInterruptedException(message, stage + 1, current.name(), epochInStage + 1, e.phase(),
                e.step(), partial, e);
    }
}
