package dev.finetune.core;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.util.ProgressBar;
import dev.finetune.core.checkpoint.Checkpoint;
import dev.finetune.core.checkpoint.CheckpointException;
import dev.finetune.core.result.EpochMetrics;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Path;
import java.util.Locale;

/** The listeners every fit has: progress, the epoch log line, the divergence check, the checkpoint writers. */
final class BuiltInListeners {

    private BuiltInListeners() {}

    /** DJL's console progress bar, one per epoch, with the whole stage label after the bar. */
    static final class Progress implements FineTuneListener {
        private ProgressBar bar;
        private String label;

        @Override
        public void onEpochStart(EpochStart epoch) {
            label = epoch.label();
            // DJL cuts its message to 13 characters: the label goes in the trailing message, which it prints whole
            bar = new ProgressBar("Training", Math.max(1, epoch.steps()), label);
        }

        @Override
        public void onStep(Step step) {
            if (bar != null) {
                bar.update(Math.min(step.step(), step.epoch().steps()), label);
            }
        }

        @Override
        public void onEpochEnd(EpochEnd end) {
            if (bar != null) {
                bar.end();
                bar = null;
            }
        }
    }

    /** One SLF4J line per epoch. */
    static final class EpochLog implements FineTuneListener {
        private static final Logger LOG = LoggerFactory.getLogger(FineTuner.class);
        private String label = "";

        @Override
        public void onEpochStart(EpochStart epoch) {
            label = epoch.label();
        }

        @Override
        public void onEpochEnd(EpochEnd end) {
            EpochMetrics m = end.metrics();
            LOG.info("epoch {} ({}): train loss {} acc {} | val loss {} acc {} macro-F1 {} | {} s, {} trainable",
                    m.epoch(), label, fmt(m.trainLoss()), fmt(m.trainAccuracy()), fmt(m.validationLoss()),
                    fmt(m.validationAccuracy()), fmt(m.validationMacroF1()), fmt(m.seconds()), m.trainableParameters());
        }

        private static String fmt(double v) {
            return String.format(Locale.ROOT, "%.4f", v);
        }
    }

    /**
     * Stops a stage whose loss became NaN or infinite, naming the step: the first bad step is kept on
     * the device and read every {@code interval} steps and at the epoch's last step.
     */
    static final class Divergence implements FineTuneListener {
        private final int interval;
        private NDArray firstBad;
        private EpochStart epoch;
        private int reads;
        private long steps;
        private long checkedAt;

        Divergence(int interval) {
            this.interval = Math.max(1, interval);
        }

        @Override
        public void onEpochStart(EpochStart start) {
            epoch = start;
            reads = 0;
            steps = 0;
            checkedAt = 0;
            firstBad = start.manager().zeros(new Shape(), DataType.FLOAT32);
        }

        @Override
        public void onStep(Step step) {
            // x - x is NaN iff x is not finite; results live with their first operand: keep them in the step
            NDArray noneYet = firstBad.eq(0);
            noneYet.attach(step.manager());
            NDArray bad = step.loss().sub(step.loss()).isNaN().logicalAnd(noneYet);
            firstBad.addi(bad.toType(DataType.FLOAT32, false).mul(step.stepInStage()));
            steps = step.step();
            if (step.step() % interval == 0 || step.step() == epoch.steps()) {
                check();
            }
        }

        /**
         * Reads the flag once more when the training pass ended after a step that was not read (the
         * pass had fewer steps than its first batch announced, e.g. a dropped last batch), so no
         * non-finite loss reaches validation.
         */
        void endOfPass() {
            if (steps > checkedAt) {
                check();
            }
        }

        /** @return the host reads of this epoch so far (for the epoch's metrics) */
        int reads() {
            return reads;
        }

        private void check() {
            reads++;
            checkedAt = steps;
            long step = (long) firstBad.getFloat();
            if (step > 0) {
                throw new TrainingDivergedException(String.format(Locale.ROOT,
                        "The loss became NaN or infinite at step %d of %s. The learning rate (%.3g) is probably"
                                + " too high: lower it (e.g. 10x) or enable gradient clipping with"
                                + " Stage.withClipNorm(1.0).",
                        step, epoch.label(), epoch.learningRate()), step);
            }
        }
    }

    /** Writes the full state after every epoch, for an exact resume. Runs after the users' listeners. */
    static final class LastCheckpoint implements FineTuneListener {
        private final FitRun run;
        private final Path file;

        LastCheckpoint(FitRun run, Path file) {
            this.run = run;
            this.file = file;
        }

        @Override
        public void onEpochEnd(EpochEnd end) {
            save(run.resumeCheckpoint(end.metrics()), file);
        }
    }

    /** Writes the best epoch's weights each time the checkpoint metric improves. */
    static final class BestCheckpoint implements FineTuneListener {
        private final FitRun run;
        private final Path file;

        BestCheckpoint(FitRun run, Path file) {
            this.run = run;
            this.file = file;
        }

        @Override
        public void onEpochEnd(EpochEnd end) {
            if (end.improved()) {
                save(run.best(), file);
            }
        }
    }

    /**
     * Saves a checkpoint even when the thread is interrupted (file channels close on an interrupt):
     * the epoch is complete, and the interrupt stops the run at the next step.
     */
    static void save(Checkpoint checkpoint, Path file) {
        boolean interrupted = Thread.interrupted();
        try {
            checkpoint.save(file);
        } catch (CheckpointException e) {
            throw new FitRun.CheckpointFailure(e);
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
