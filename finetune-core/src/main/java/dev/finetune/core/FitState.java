package dev.finetune.core;

import ai.djl.ndarray.NDManager;
import ai.djl.nn.Block;
import dev.finetune.core.checkpoint.Checkpoint;
import dev.finetune.core.checkpoint.CheckpointException;
import dev.finetune.core.internal.PlanOptimizer;
import dev.finetune.core.internal.WeightAverage;
import dev.finetune.core.result.CheckpointMetric;
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
    /**
     * What the fit found that a user must know, for the result: classes without training or
     * validation samples, settings that could not hold, a resume that is not exact.
     */
    final List<String> warnings = new ArrayList<>();
    Checkpoint best;
    ConfusionMatrix bestConfusion;
    int bestIndex = -1;
    double bestValue = Double.NaN;
    int epochNumber;
    int stage;
    int epochInStage;
    /** The best checkpoint a run resumed from while it holds the best epoch, when no optCheckpoint file does. */
    private Path resumedBestFile;
    /** Optimizer state to load into the first stage's optimizer of a resumed run. */
    PlanOptimizer.SavedState pendingOptimizer;
    /** The fit's weight average (optEma), or null; its arrays live as long as the fit. */
    WeightAverage average;

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
        EpochMetrics previous = bestIndex >= 0 ? history.get(bestIndex) : null;
        history.add(m);
        double value = tuner.metric.of(m);
        if (!tuner.metric.isBetter(m, previous)) {
            return false;
        }
        bestValue = value;
        bestIndex = history.size() - 1;
        bestConfusion = cm;
        resumedBestFile = null;
        try {
            // the history up to this epoch travels with its weights: a run resumed from the best
            // checkpoint then knows which epoch is the best and what came before it
            Checkpoint.Resume upToHere = new Checkpoint.Resume(history, bestIndex, bestValue, counts(cm), List.of(),
                    List.of(), Map.of(), null, true);
            best = Checkpoint.of(block, metadata(m.epoch(), m.stage(), m.epochInStage(), value, upToHere));
        } catch (CheckpointException e) {
            throw new FitRun.CheckpointFailure(e);
        }
        return true;
    }

    private static long[][] counts(ConfusionMatrix cm) {
        if (cm == null) {
            return null;
        }
        int k = cm.classCount();
        long[][] counts = new long[k][k];
        for (int i = 0; i < k; i++) {
            for (int j = 0; j < k; j++) {
                counts[i][j] = cm.count(i, j);
            }
        }
        return counts;
    }

    /** The full state after an epoch, for an exact resume: the training weights, optimizer and average. */
    Checkpoint resumeCheckpoint(EpochMetrics last, PlanOptimizer.SavedState optimizer,
            WeightAverage.SavedState averaged, Map<String, String> listeners, String stopped)
            throws CheckpointException {
        Checkpoint.Resume resume = new Checkpoint.Resume(history, bestIndex, bestValue, counts(bestConfusion),
                optimizer.names(), optimizer.steps(), listeners, stopped, false,
                averaged == null ? null
                        : new Checkpoint.Average(averaged.decay(), averaged.updates(), averaged.names()));
        return Checkpoint.of(block, metadata(last.epoch(), last.stage(), last.epochInStage(), tuner.metric.of(last),
                resume), optimizer.arrays(), averaged == null ? new byte[0] : averaged.arrays());
    }

    /**
     * Restores a checkpoint of the same plan and classes into the model and sets where the fit goes
     * on, with the history and the best epoch the checkpoint records. The one rule of what a resume
     * continues from: a checkpoint a fit wrote. A last checkpoint continues exactly (optimizer and
     * listener state too); a best checkpoint continues after its epoch with a fresh optimizer, its
     * epoch counting as the best so far. Weights alone (no history) are refused.
     */
    Start resume(Path from, List<Stage> stages, NDManager manager) throws CheckpointException {
        Checkpoint resume = Checkpoint.load(from);
        Checkpoint.Metadata meta = resume.metadata();
        if (!meta.classNames().equals(names)) {
            throw new CheckpointException("Checkpoint " + from + " was written for the classes " + meta.classNames()
                    + "; this fine-tuner's are " + names + ". Resume with the same classes in the same order"
                    + " (optClassNames), or start without resuming.");
        }
        if (!meta.stagePlan().equals(plan)) {
            throw new CheckpointException("Checkpoint " + from + " was written by another stage plan "
                    + meta.stagePlan() + "; this fine-tuner's plan is " + plan
                    + ". Resume with the same stages, or start without resuming.");
        }
        Checkpoint.Resume r = meta.resume();
        if (r == null || r.history().isEmpty()) {
            throw new CheckpointException("Checkpoint " + from + " holds weights but no training history, so a"
                    + " resume could not tell which epoch is the best. Resume from a checkpoint a fit wrote"
                    + " (optCheckpoint or optLastCheckpoint), or start a new plan from these weights:"
                    + " Checkpoint.load(file).restoreInto(block, manager), then fit without optResumeFrom.");
        }
        resume.restoreInto(block, manager);
        int startStage = meta.stage();
        int startEpochInStage = meta.epochInStage();
        epochNumber = meta.epoch();
        boolean stageStopped = r.stopped() != null;
        boolean fitStopped = "fit".equals(r.stopped());
        if (fitStopped) {
            startStage = stages.size();
            startEpochInStage = 0;
        } else if (stageStopped || startEpochInStage >= stages.get(startStage).epochs()) {
            startStage++;
            startEpochInStage = 0;
        }
        LOG.info("Resuming from {} after epoch {} (stage {}, {} {})", from, meta.epoch(), meta.stage() + 1,
                tuner.metric, meta.metricValue());
        restoreHistory(r);
        if (r.partial()) {
            // a best checkpoint: its epoch is the best so far, and its weights are the ones just restored
            best = resume;
            resumedBestFile = from;
            saveBestWhereAsked(from);
            if (startStage < stages.size()) {
                String message = from + " is a best-epoch checkpoint: it holds no optimizer state, so the epochs"
                        + " after epoch " + meta.epoch() + " started with a fresh optimizer and differ from an"
                        + " uninterrupted run. For an exact resume, set optLastCheckpoint(file) and resume from that"
                        + " file.";
                LOG.warn(message);
                warnings.add(message);
            }
            return new Start(startStage, startEpochInStage, null);
        }
        restoreAverage(resume, from);
        restoreOptimizerAndBest(resume, from);
        if (startStage != meta.stage()) {
            pendingOptimizer = null; // the checkpoint ended a stage: the next starts a fresh optimizer
        }
        return new Start(startStage, startEpochInStage, r.listenerStates());
    }

    /**
     * Restores the weight average a last checkpoint holds, refusing a checkpoint whose average (or
     * its absence, or its decay) differs from this fine-tuner's: the resumed run would not be the
     * uninterrupted one.
     */
    private void restoreAverage(Checkpoint last, Path from) throws CheckpointException {
        Checkpoint.Average saved = last.metadata().resume().average();
        if (saved == null && average == null) {
            return;
        }
        if (saved == null || average == null || saved.decay() != average.decay()) {
            String written = saved == null ? "without a weight average" : "with optEma(" + saved.decay() + ")";
            String now = average == null ? "keeps none" : "has optEma(" + average.decay() + ")";
            throw new CheckpointException("Checkpoint " + from + " was written by a fit " + written + "; this"
                    + " fine-tuner " + now + ". Resume with the same optEma setting as the run that wrote it, or"
                    + " start without resuming.");
        }
        try {
            average.restore(new WeightAverage.SavedState(saved.decay(), saved.updates(), saved.parameters(),
                    last.averageState()), block.getParameters());
        } catch (RuntimeException e) {
            throw new CheckpointException("Could not restore the weight average of " + from + ": " + e.getMessage()
                    + " Use the checkpoint with the model that wrote it, or start without resuming.", e);
        }
    }

    private void restoreHistory(Checkpoint.Resume r) {
        history.addAll(r.history());
        bestIndex = r.bestIndex();
        bestValue = r.bestValue();
        if (r.bestConfusion() != null) {
            bestConfusion = new ConfusionMatrix(r.bestConfusion(), names);
        }
    }

    /** Keeps the best epoch in the fine-tuner's best checkpoint file too, when that is another file. */
    private void saveBestWhereAsked(Path from) throws CheckpointException {
        Path bestFile = tuner.checkpointPath;
        if (bestFile != null && !sameFile(bestFile, from)) {
            best.save(bestFile);
        }
    }

    private static boolean sameFile(Path a, Path b) {
        return a.toAbsolutePath().normalize().equals(b.toAbsolutePath().normalize());
    }

    /**
     * Restores what a last checkpoint holds beside the weights and history: the best epoch's
     * weights (from the best checkpoint, or the restored ones when it is the last epoch) and the
     * optimizer state for the first stage that runs.
     */
    private void restoreOptimizerAndBest(Checkpoint last, Path from) throws CheckpointException {
        Checkpoint.Resume r = last.metadata().resume();
        pendingOptimizer = new PlanOptimizer.SavedState(r.optimizerParameters(), r.optimizerSteps(),
                last.optimizerState());
        if (r.bestIndex() < 0) {
            return;
        }
        EpochMetrics bestEpoch = r.history().get(r.bestIndex());
        Path bestFile = tuner.checkpointPath;
        if (r.bestIndex() == r.history().size() - 1) {
            // the last epoch was the best: its weights are the ones just restored (with an average, the
            // average just restored); the best file may predate it if the run stopped between the two writes
            try (WeightAverage.Swap swapped = average != null ? average.swapIn() : null) {
                best = Checkpoint.of(block, metadata(bestEpoch.epoch(), bestEpoch.stage(), bestEpoch.epochInStage(),
                        r.bestValue(), new Checkpoint.Resume(r.history(), r.bestIndex(), r.bestValue(),
                                r.bestConfusion(), List.of(), List.of(), Map.of(), null, true)));
            }
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

    /**
     * Checks that a later fit of the same fine-tuner can go on from this finished one: the same
     * classes and metric, and the earlier plan followed by at least one new stage.
     */
    void requireContinuable(List<String> classNames, List<String> newPlan, CheckpointMetric newMetric) {
        EpochMetrics bestEpoch = history.get(bestIndex >= 0 ? bestIndex : history.size() - 1);
        if (newPlan.size() <= plan.size()) {
            throw new IllegalStateException("This fine-tuner has already run its plan of " + plan.size()
                    + " stage(s) (best: epoch " + bestEpoch.epoch() + "). To train further, add a stage with"
                    + " stage(...) and call fit again: a later fit runs only the stages added since, from the"
                    + " weights the model holds now. To start over, make a new FineTuner (and reload the"
                    + " pretrained weights).");
        }
        if (!newPlan.subList(0, plan.size()).equals(plan)) {
            throw new IllegalStateException("The fine-tuner's earlier stages changed since its last fit (" + plan
                    + " before, " + newPlan.subList(0, plan.size()) + " now); only added stages can run in a later fit.");
        }
        if (!classNames.equals(names)) {
            throw new IllegalStateException("The class names changed since the last fit (" + names + " before, "
                    + classNames + " now): a later fit continues the same classifier. Make a new FineTuner for"
                    + " other classes.");
        }
        if (newMetric != tuner.metric) {
            throw new IllegalStateException("The checkpoint metric changed since the last fit (" + tuner.metric
                    + " before, " + newMetric + " now): a later fit compares its epochs with the earlier best by"
                    + " the same metric. Keep optCheckpointMetric as it was, or make a new FineTuner.");
        }
    }

    /**
     * Goes on from an earlier finished fit of the same fine-tuner: its epochs and best epoch carry
     * over (so a checkpoint is replaced only by a better epoch), and the stages added since run.
     */
    Start continueFrom(FitState earlier) {
        history.addAll(earlier.history);
        best = earlier.best;
        bestConfusion = earlier.bestConfusion;
        bestIndex = earlier.bestIndex;
        bestValue = earlier.bestValue;
        resumedBestFile = earlier.resumedBestFile;
        epochNumber = earlier.epochNumber;
        warnings.addAll(earlier.warnings);
        LOG.info("Continuing after epoch {}: {} stage(s) already ran, the best so far is epoch {}", epochNumber,
                earlier.plan.size(), bestIndex >= 0 ? history.get(bestIndex).epoch() : 0);
        return new Start(earlier.plan.size(), 0, null);
    }

    /**
     * Warns (in the log and in the result) of classes the first epoch saw no training or no
     * validation sample of: a class without training samples cannot be learnt, one without
     * validation samples is never measured.
     */
    void checkClassCoverage(long[] trainCounts, long[][] validationConfusion) {
        List<String> untrained = new ArrayList<>();
        List<String> unmeasured = new ArrayList<>();
        for (int c = 0; c < names.size(); c++) {
            if (trainCounts != null && trainCounts[c] == 0) {
                untrained.add(names.get(c));
            }
            long validation = 0;
            if (validationConfusion != null) {
                for (long n : validationConfusion[c]) {
                    validation += n;
                }
                if (validation == 0) {
                    unmeasured.add(names.get(c));
                }
            }
        }
        List<String> found = new ArrayList<>();
        if (!untrained.isEmpty()) {
            found.add("No training samples of class(es) " + untrained + ": the model cannot learn them."
                    + " Add training images of them (a group split may have put all of a class's groups in"
                    + " validation or test), or leave them out.");
        }
        if (!unmeasured.isEmpty()) {
            found.add("No validation samples of class(es) " + unmeasured + ": their accuracy and F1 are not"
                    + " measured, and the best epoch is chosen without them. Give each class a few validation"
                    + " images (classes of 1-2 images end up in training only).");
        }
        for (String w : found) {
            LOG.warn(w);
        }
        warnings.addAll(found);
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
                if (tuner.metric.isBetter(history.get(i), history.get(index))) {
                    index = i;
                }
            }
            confusion = null;
        }
        if (confusion == null) {
            confusion = new ConfusionMatrix(new long[names.size()][names.size()], names);
        }
        return new FineTuneResult(new ArrayList<>(history), new ArrayList<>(plan), tuner.metric, index, confusion,
                best == null ? null : tuner.checkpointPath != null ? tuner.checkpointPath : resumedBestFile, tuner.seed,
                List.copyOf(new java.util.LinkedHashSet<>(warnings)));
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
            } else if (average != null) {
                average.copyInto();
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
                    + ": continue after it with optResumeFrom(" + file.getFileName() + ") (with a fresh"
                    + " optimizer; set optLastCheckpoint(file) too for an exact resume).";
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
