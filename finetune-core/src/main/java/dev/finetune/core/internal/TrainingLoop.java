package dev.finetune.core.internal;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import ai.djl.training.dataset.Batch;
import ai.djl.training.dataset.Dataset;
import ai.djl.training.dataset.RandomAccessDataset;
import ai.djl.training.loss.Loss;
import ai.djl.translate.TranslateException;
import dev.finetune.core.TrainingInterruptedException;
import dev.finetune.core.plan.EpochPlan;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Iterator;
import java.util.Locale;
import java.util.concurrent.ExecutionException;

/**
 * One training loop for every strategy: forward, loss, backward, a plan-following optimizer step,
 * and metrics accumulated on the device. Every array a step creates lives in that step's
 * {@link NDManager} and is freed when the step ends; values are read to the host once per epoch
 * (a {@link StepObserver} may read more, e.g. a NaN flag every hundred steps), never per step.
 *
 * <p>The plan says how many batches make a step ({@link EpochPlan#accumulation()}): their gradients
 * add up on the parameters (each batch's arrays freed after its backward pass) and the optimizer
 * steps with their mean, at the end of an epoch with whatever the last group holds. It also says
 * how batches are mixed ({@link EpochPlan#mixUp()}, {@link BatchMixing}, seeded per batch). After
 * each optimizer step a {@link WeightAverage}, if given, is updated.
 *
 * <p>With a {@link DataLoaderPool}, random-access datasets are read through DJL's prefetching
 * iterator: worker threads read and transform the next batches into the epoch's host manager while
 * this thread computes; every batch is still closed at the end of its step, and the batches read
 * ahead are released (after the running reads finish) when the epoch ends, normally or not. The
 * loop checks the thread's interrupt flag before each step (never mid-step) and throws a
 * {@link TrainingInterruptedException} when it is set.
 */
public final class TrainingLoop {

    /** Serialises forward + backward across threads: DJL's PyTorch engine has one gradient collector per process. */
    private static final Object GRADIENT_LOCK = new Object();

    private final Block block;
    private final NDManager manager;
    private final Device device;
    private final Loss loss;
    private final Loss evaluationLoss;
    private final int numClasses;
    private final ParameterStore parameterStore;
    private MixedPrecision precision = MixedPrecision.off();
    private final DataLoaderPool loader;
    private final WeightAverage average;

    /**
     * Creates a loop.
     *
     * @param block the model; its parameters live in {@code manager}
     * @param manager the manager of the model's parameters; its device is where training runs
     * @param loss the loss on (labels, logits)
     * @param numClasses the number of classes of the head
     * @param loader the workers that read batches ahead, or null to read them in this thread
     */
    public TrainingLoop(Block block, NDManager manager, Loss loss, int numClasses, DataLoaderPool loader) {
        this(block, manager, loss, loss, numClasses, loader, null);
    }

    /**
     * Creates a loop with a loss of its own for evaluation and, optionally, a weight average.
     *
     * @param block the model; its parameters live in {@code manager}
     * @param manager the manager of the model's parameters; its device is where training runs
     * @param loss the training loss on (labels or soft targets, logits)
     * @param evaluationLoss the loss reported by {@link #evaluate} (e.g. without label smoothing)
     * @param numClasses the number of classes of the head
     * @param loader the workers that read batches ahead, or null to read them in this thread
     * @param average updated after every optimizer step of {@link #trainEpoch} (not of trial
     *     steps), or null
     */
    public TrainingLoop(Block block, NDManager manager, Loss loss, Loss evaluationLoss, int numClasses,
            DataLoaderPool loader, WeightAverage average) {
        this.loader = loader;
        this.block = block;
        this.manager = manager;
        this.device = manager.getDevice();
        this.loss = loss;
        this.evaluationLoss = evaluationLoss;
        this.numClasses = numClasses;
        this.parameterStore = new ParameterStore(manager, false);
        this.average = average;
    }

    /** Sees every training step, inside it: cheap calls, no device reads unless the observer makes them. */
    @FunctionalInterface
    public interface StepObserver {
        /**
         * @param clock the stage's clock, already advanced past this step
         * @param stepInEpoch 1-based step within the epoch
         * @param samples training samples seen in the epoch so far
         * @param learningRate the base rate of the step (schedule applied)
         * @param loss the step's mean loss on the device, detached
         * @param stepManager the step's manager: arrays made there are freed when the step ends
         */
        void onStep(StageClock clock, long stepInEpoch, long samples, double learningRate, NDArray loss,
                NDManager stepManager);
    }

    /** The position of a step within its stage, for the schedule and error messages. */
    public static final class StageClock {
        private final long totalSteps;
        private long step;

        /**
         * @param totalSteps steps in the whole stage
         * @param firstStep the step to start at (non-zero when resuming)
         */
        public StageClock(long totalSteps, long firstStep) {
            this.totalSteps = totalSteps;
            this.step = firstStep;
        }

        /** @return the 0-based step within the stage */
        public long step() {
            return step;
        }

        /** @return steps in the whole stage */
        public long totalSteps() {
            return totalSteps;
        }
    }

    /**
     * Trains in bfloat16 islands with float32 masters ({@link MixedPrecision}); off by default.
     *
     * @param precision the fit's installed precision
     */
    public void setPrecision(MixedPrecision precision) {
        this.precision = java.util.Objects.requireNonNull(precision, "precision");
    }

    /**
     * Trains one epoch under a plan.
     *
     * @param data the training data
     * @param plan what trains, at which rates, with which optimizer settings
     * @param optimizer the stage's optimizer
     * @param clock the stage's step clock
     * @param checkLabels whether to verify every label is in range (done on the host copy of the
     *     batch before it moves to the device)
     * @param label text for errors
     * @param epochSeed seeds the shuffle of a randomly sampled dataset for this epoch ({@link SeededSampling})
     * @param observer sees every step, or null
     * @return the epoch's totals
     */
    public EpochTotals trainEpoch(Dataset data, EpochPlan plan, PlanOptimizer optimizer, StageClock clock,
            boolean checkLabels, String label, long epochSeed, StepObserver observer) {
        applyPlan(plan);
        precision.beginPass();
        long samples = 0;
        long batches = 0;
        long steps = 0;
        double lastRate = Double.NaN;
        try (NDManager epoch = manager.newSubManager();
                NDManager host = NDManager.newBaseManager(Device.cpu());
                Reader reader = new Reader(data, host, "training", label, epochSeed)) {
            NDArray lossSum = epoch.zeros(new Shape(), DataType.FLOAT32);
            NDArray correct = epoch.zeros(new Shape(), DataType.INT64);
            long[] labelCounts = checkLabels ? new long[numClasses] : null;
            Group group = null;
            try {
                for (Batch batch = reader.next(steps); batch != null; batch = reader.next(steps)) {
                    try (Batch b = batch) {
                        if (checkLabels) {
                            checkLabels(b.getLabels(), label, labelCounts);
                        }
                        if (group == null) {
                            group = new Group(epoch, plan.accumulation());
                        }
                        group.train(b, plan, SeededSampling.batchSeed(epochSeed, batches), lossSum, correct);
                        samples += b.getSize();
                        batches++;
                    }
                    if (group.batches == plan.accumulation()) {
                        lastRate = finish(group, plan, optimizer, clock, ++steps, samples, observer);
                        group = null;
                    }
                }
                if (group != null) { // the epoch's last, shorter group
                    lastRate = finish(group, plan, optimizer, clock, ++steps, samples, observer);
                    group = null;
                }
            } finally {
                if (group != null) {
                    group.discard(plan); // stopped inside a group: its gradients must not reach a later step
                }
            }
            if (batches == 0) {
                throw new IllegalArgumentException(
                        "The training dataset produced no batches (" + label + "). Give it at least"
                                + " one sample, and a batch size no larger than the dataset when"
                                + " dropping the last batch.");
            }
            precision.endPass();
            double meanLoss = lossSum.getFloat() / samples;
            double accuracy = (double) correct.getLong() / samples;
            return new EpochTotals(samples, batches, meanLoss, accuracy, null, 2, lastRate, labelCounts);
        }
    }

    /**
     * One optimizer step over a group's accumulated gradients, the average's update and the
     * observer; closes the group (left open if the observer throws: the caller discards it).
     *
     * @return the step's base rate
     */
    private double finish(Group group, EpochPlan plan, PlanOptimizer optimizer, StageClock clock, long steps,
            long samples, StepObserver observer) {
        double factor = plan.schedule().factor(clock.step, clock.totalSteps());
        optimizer.step(plan, factor, group.manager, group.gradientScale(), precision::gradient);
        precision.afterStep();
        if (average != null) {
            average.update(group.manager);
        }
        clock.step++;
        double rate = factor * plan.learningRate();
        if (observer != null) {
            observer.onStep(clock, steps, samples, rate, group.loss(), group.manager);
        }
        group.close();
        return rate;
    }

    /**
     * The batches of one optimizer step. With one batch per step its arrays live in the step's
     * manager; with more, each batch has a sub-manager freed after its backward pass (only the
     * gradients stay), and each batch's loss is weighted by its sample count, so that
     * {@link #gradientScale()} turns the sum into the mean over the group's samples.
     */
    private final class Group implements AutoCloseable {
        final NDManager manager;
        private final boolean accumulating;
        private NDArray single;
        private NDArray lossSum;
        long samples;
        int batches;

        Group(NDManager parent, int accumulation) {
            manager = parent.newSubManager();
            accumulating = accumulation > 1;
        }

        /** Forward and backward on one batch (mixed as the plan says), adding to the epoch's sums. */
        void train(Batch b, EpochPlan plan, long mixSeed, NDArray epochLoss, NDArray epochCorrect) {
            NDManager scope = accumulating ? manager.newSubManager() : manager;
            try {
                NDList x = onDevice(b.getData(), scope);
                NDList y = onDevice(b.getLabels(), scope);
                NDList target = y;
                NDArray truth;
                BatchMixing.Draw draw = BatchMixing.draw(plan.mixUp(), mixSeed, x.head().getShape());
                if (draw.mixed()) {
                    BatchMixing.Mixed mixed = BatchMixing.apply(draw, x.head(), y.head(), numClasses);
                    x = new NDList(mixed.input());
                    target = new NDList(mixed.target());
                    truth = mixed.truth();
                } else {
                    truth = y.head().toType(DataType.INT64, false);
                }
                int size = b.getSize();
                NDList out = forwardBackward(x, target, accumulating ? size : 0);
                NDArray detached = out.get(0).stopGradient(); // the sums must not grow an autograd graph
                NDArray weighted = detached.mul(size);
                epochLoss.addi(weighted);
                epochCorrect.addi(out.get(1).argMax(1).eq(truth).sum());
                if (accumulating) {
                    if (lossSum == null) {
                        lossSum = manager.zeros(new Shape(), DataType.FLOAT32);
                    }
                    lossSum.addi(weighted);
                } else {
                    single = detached;
                }
                samples += size;
                batches++;
            } finally {
                if (accumulating) {
                    scope.close();
                }
            }
        }

        /** @return the factor that turns the accumulated gradients into their mean */
        double gradientScale() {
            return accumulating ? 1.0 / samples : 1;
        }

        /** @return the group's mean loss, in the group's manager */
        NDArray loss() {
            return accumulating ? lossSum.div(samples) : single;
        }

        /**
         * Zeroes the gradients accumulated without a step (best effort: never hides the failure
         * that stopped the group).
         */
        void discard(EpochPlan plan) {
            try {
                precision.discardGradients();
                if (batches > 0) {
                    for (EpochPlan.Trainable t : plan.trainable()) {
                        try {
                            NDArray grad = t.parameter().getArray().getGradient();
                            grad.attach(manager);
                            grad.muli(0);
                        } catch (RuntimeException ignored) {
                            // a parameter without a gradient: nothing accumulated there; zero the others
                        }
                    }
                }
            } finally {
                close();
            }
        }

        @Override
        public void close() {
            manager.close();
        }
    }

    /**
     * Forward in training mode, loss, backward: returns (loss, logits); the gradients are added to
     * the parameters' (backward runs on the loss times {@code weight} when it is above 0).
     */
    private NDList forwardBackward(NDList x, NDList y, int weight) {
        // DJL allows one gradient collector per process: fits in other threads take turns here
        synchronized (GRADIENT_LOCK) {
            if (precision.unverified()) {
                try {
                    NDList out = pass(x, y, weight);
                    precision.verified();
                    return out;
                } catch (ai.djl.engine.EngineException | IllegalArgumentException | IllegalStateException e) {
                    precision.fail(e); // nothing reached the masters: the pass runs again in float32
                }
            }
            return pass(x, y, weight);
        }
    }

    private NDList pass(NDList x, NDList y, int weight) {
        try (GradientCollector collector = manager.getEngine().newGradientCollector()) {
            NDList out = precision.forward(block, parameterStore, x);
            NDArray lossValue = loss.evaluate(y, out);
            collector.backward(weight > 0 ? lossValue.mul(weight) : lossValue);
            precision.transferGradients(collector, x.head().getManager(), weight > 0);
            return new NDList(lossValue, out.head());
        }
    }

    /**
     * Runs trial steps at given rates and reads each step's loss: for a learning-rate search, whose
     * caller puts the weights and optimizer state back afterwards. Passes over the data as often as
     * needed, each pass shuffled by its own seed.
     *
     * @param data the training data
     * @param plan what trains (its schedule is ignored)
     * @param optimizer the stage's optimizer
     * @param steps how many steps
     * @param rate the base (head) rate of each 0-based step
     * @param seed seeds the passes' shuffles
     * @return the loss of each step (NaN or infinite where it diverged)
     */
    public double[] trialSteps(Dataset data, EpochPlan plan, PlanOptimizer optimizer, int steps,
            java.util.function.LongToDoubleFunction rate, long seed) {
        applyPlan(plan);
        precision.beginPass();
        double[] losses = new double[steps];
        int done = 0;
        for (long pass = 0; done < steps; pass++) {
            int before = done;
            long passSeed = SeededSampling.epochSeed(seed, pass);
            try (NDManager epoch = manager.newSubManager();
                    NDManager host = NDManager.newBaseManager(Device.cpu());
                    Reader reader = new Reader(data, host, "training", "a trial step", passSeed)) {
                NDArray lossSum = epoch.zeros(new Shape(), DataType.FLOAT32);
                NDArray correct = epoch.zeros(new Shape(), DataType.INT64);
                Group group = null;
                long batches = 0;
                try {
                    for (Batch batch = reader.next(done); batch != null && done < steps; batch = reader.next(done)) {
                        try (Batch b = batch) {
                            if (group == null) {
                                group = new Group(epoch, plan.accumulation());
                            }
                            group.train(b, plan, SeededSampling.batchSeed(passSeed, batches++), lossSum, correct);
                        }
                        if (group.batches == plan.accumulation()) {
                            Group full = group;
                            group = null;
                            losses[done] = trialStep(full, plan, optimizer, rate.applyAsDouble(done));
                            done++;
                        }
                    }
                    if (group != null && done < steps) { // a pass's last, shorter group
                        Group last = group;
                        group = null;
                        losses[done] = trialStep(last, plan, optimizer, rate.applyAsDouble(done));
                        done++;
                    }
                } finally {
                    if (group != null) {
                        group.discard(plan);
                    }
                }
            }
            if (done == before) {
                throw new IllegalArgumentException("The training dataset produced no batches for the trial steps.");
            }
        }
        precision.endPass();
        return losses;
    }

    private double trialStep(Group group, EpochPlan plan, PlanOptimizer optimizer, double rate) {
        try (Group g = group) {
            double loss = g.loss().getFloat();
            optimizer.step(plan, rate / plan.learningRate(), g.manager, g.gradientScale(), precision::gradient);
            precision.afterStep();
            return loss;
        }
    }

    /**
     * Evaluates the model (no gradients, BatchNorm in inference mode) and builds the confusion
     * matrix on the device.
     *
     * @param data the evaluation data
     * @param checkLabels whether to verify every label is in range
     * @param label text for errors
     * @return totals with the confusion matrix
     */
    public EpochTotals evaluate(Dataset data, boolean checkLabels, String label) {
        long samples = 0;
        long batches = 0;
        try (NDManager epoch = manager.newSubManager();
                NDManager host = NDManager.newBaseManager(Device.cpu());
                Reader reader = new Reader(data, host, "validation", label, null)) {
            NDArray lossSum = epoch.zeros(new Shape(), DataType.FLOAT32);
            NDArray confusion = epoch.zeros(new Shape((long) numClasses * numClasses), DataType.FLOAT32);
            for (Batch batch = reader.next(batches); batch != null; batch = reader.next(batches)) {
                try (Batch b = batch; NDManager step = epoch.newSubManager()) {
                    if (checkLabels) {
                        checkLabels(b.getLabels(), label, null);
                    }
                    NDList x = onDevice(b.getData(), step);
                    NDList y = onDevice(b.getLabels(), step);
                    NDList out = block.forward(parameterStore, x, false);
                    lossSum.addi(evaluationLoss.evaluate(y, out).mul(b.getSize()));
                    NDArray truth = y.head().toType(DataType.INT64, false);
                    NDArray cell = truth.mul(numClasses).add(out.head().argMax(1));
                    confusion.addi(cell.oneHot(numClasses * numClasses).sum(new int[] {0}));
                    samples += b.getSize();
                    batches++;
                }
            }
            if (batches == 0) {
                throw new IllegalArgumentException(
                        "The dataset for " + label + " produced no batches. Give it at least one sample.");
            }
            float[] cells = confusion.toFloatArray();
            long[][] counts = new long[numClasses][numClasses];
            long correct = 0;
            for (int t = 0; t < numClasses; t++) {
                for (int p = 0; p < numClasses; p++) {
                    counts[t][p] = Math.round(cells[t * numClasses + p]);
                }
                correct += counts[t][t];
            }
            double meanLoss = lossSum.getFloat() / samples;
            return new EpochTotals(samples, batches, meanLoss, (double) correct / samples, counts, 2, Double.NaN, null);
        }
    }

    /**
     * Sets each learnable parameter's gradient requirement from the plan, so frozen groups cost no
     * backward computation. Applied at every epoch because DJL's trainer and initialisation can
     * re-enable gradients on loaded parameters.
     *
     * @param plan the plan
     */
    public static void applyPlan(EpochPlan plan) {
        for (var p : plan.frozen()) {
            p.freeze(true);
        }
        for (EpochPlan.Trainable e : plan.trainable()) {
            e.parameter().freeze(false);
        }
    }

    private NDList onDevice(NDList list, NDManager step) {
        NDList moved = list.toDevice(device, false);
        moved.attach(step);
        return moved;
    }

    private void checkLabels(NDList labels, String label, long[] counts) {
        float[] values = labels.head().toType(DataType.FLOAT32, false).toFloatArray();
        for (float v : values) {
            if (counts != null && v >= 0 && v < numClasses && v == Math.rint(v)) {
                counts[(int) v]++;
            }
            if (!(v >= 0 && v < numClasses) || v != Math.rint(v)) {
                throw new IllegalArgumentException(
                        String.format(
                                Locale.ROOT,
                                "Label %s in %s is outside the head's range 0..%d. Labels must be"
                                        + " class indices; replaceHead(n) with n = the number of"
                                        + " classes in the data.",
                                v == Math.rint(v) ? String.valueOf((long) v) : String.valueOf(v),
                                label,
                                numClasses - 1));
            }
        }
    }

    /**
     * One pass over a dataset: reads batches (ahead, on the loader's workers, when there is one),
     * checks for an interrupt before each, and turns read failures into exceptions that name their
     * cause (for image files, the path).
     */
    private final class Reader implements AutoCloseable {
        private final String phase;
        private final String label;
        private final DataLoaderPool.Epoch ahead;
        private final Iterator<Batch> batches;

        Reader(Dataset data, NDManager host, String phase, String label, Long epochSeed) {
            this.phase = phase;
            this.label = label;
            DataLoaderPool.Epoch pass = loader != null && data instanceof RandomAccessDataset ? loader.epoch() : null;
            try {
                ai.djl.training.dataset.Sampler sampler = epochSeed != null && data instanceof RandomAccessDataset
                        ? SeededSampling.forEpoch((RandomAccessDataset) data, epochSeed)
                        : null;
                Iterable<Batch> it;
                if (sampler != null) {
                    it = pass != null
                            ? ((RandomAccessDataset) data).getData(host, sampler, pass)
                            : ((RandomAccessDataset) data).getData(host, sampler);
                } else {
                    it = pass != null ? ((RandomAccessDataset) data).getData(host, pass) : data.getData(host);
                }
                batches = it.iterator();
            } catch (IOException e) {
                closeQuietly(pass);
                throw new UncheckedIOException(e);
            } catch (TranslateException e) {
                closeQuietly(pass);
                throw new IllegalStateException("Could not read the dataset: " + e.getMessage(), e);
            } catch (RuntimeException | Error e) {
                closeQuietly(pass);
                throw e;
            }
            ahead = pass;
        }

        /**
         * @param done the steps completed in this pass
         * @return the next batch, or null at the end of the pass
         * @throws TrainingInterruptedException if this thread is interrupted
         */
        Batch next(long done) {
            if (Thread.currentThread().isInterrupted()) {
                throw interrupted(done, null);
            }
            try {
                return batches.hasNext() ? batches.next() : null;
            } catch (RuntimeException e) {
                throw readFailure(e, done);
            }
        }

        private RuntimeException readFailure(RuntimeException e, long done) {
            Throwable c = e;
            // DJL wraps failed reads as ISE("Data loading failed", cause) and prefetched ones in an ExecutionException
            while (c.getCause() != null && (c instanceof ExecutionException
                    || c.getClass() == IllegalStateException.class && "Data loading failed".equals(c.getMessage()))) {
                c = c.getCause();
            }
            if (c instanceof InterruptedException) {
                Thread.currentThread().interrupt(); // DJL's wait for a prefetched batch cleared it
                return interrupted(done, c);
            }
            if (c instanceof Error) {
                throw (Error) c;
            }
            if (c instanceof IOException) {
                return new UncheckedIOException("Could not read a batch for " + label + ": " + c.getMessage(),
                        (IOException) c);
            }
            return c instanceof RuntimeException ? (RuntimeException) c : e;
        }

        private TrainingInterruptedException interrupted(long done, Throwable cause) {
            return new TrainingInterruptedException(
                    "Interrupted before " + phase + " step " + (done + 1) + " of " + label + ".",
                    0, null, 0, phase, done, null, cause);
        }

        @Override
        public void close() {
            closeQuietly(ahead);
        }

        private void closeQuietly(DataLoaderPool.Epoch pass) {
            if (pass != null) {
                pass.close();
            }
        }
    }
}
