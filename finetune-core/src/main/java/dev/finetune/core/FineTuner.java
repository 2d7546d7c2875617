package dev.finetune.core;

import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.nn.SequentialBlock;
import ai.djl.training.dataset.Batch;
import ai.djl.training.dataset.Dataset;
import ai.djl.training.dataset.RandomAccessDataset;
import ai.djl.training.loss.Loss;
import ai.djl.translate.TranslateException;
import ai.djl.util.Pair;
import dev.finetune.core.checkpoint.Checkpoint;
import dev.finetune.core.checkpoint.CheckpointException;
import dev.finetune.core.groups.LayerGroups;
import dev.finetune.core.head.HeadReplacer;
import dev.finetune.core.optim.PlanOptimizer;
import dev.finetune.core.result.CheckpointMetric;
import dev.finetune.core.result.ConfusionMatrix;
import dev.finetune.core.result.EpochMetrics;
import dev.finetune.core.result.Evaluation;
import dev.finetune.core.result.FineTuneResult;
import dev.finetune.core.stage.BatchNormPolicy;
import dev.finetune.core.stage.Stage;
import dev.finetune.core.strategy.TrainingPlan;
import dev.finetune.core.train.BatchNormControl;
import dev.finetune.core.train.DataLoaderPool;
import dev.finetune.core.train.EpochTotals;
import dev.finetune.core.train.FeatureCache;
import dev.finetune.core.train.SeededSampling;
import dev.finetune.core.train.TrainingInterruptedException;
import dev.finetune.core.train.TrainingLoop;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Objects;
import java.util.function.Function;

/**
 * Fine-tunes a pretrained classifier through a plan of stages:
 *
 * <pre>{@code
 * FineTuneResult r = FineTuner.from(model)
 *         .replaceHead(12)
 *         .stage(Stage.headOnly().withEpochs(2))
 *         .stage(Stage.discriminative(2.6).withEpochs(3))
 *         .fit(trainData, validationData);
 * }</pre>
 *
 * <p><b>Threads.</b> A {@code FineTuner} is a mutable configuration for one model and is not
 * thread-safe: use one per thread, on its own model. Fine-tunes of different models may run in
 * different threads of one JVM and give exactly what they give one after the other (tested): every
 * random draw comes from generators seeded by the fit's seed and epoch (initialisation takes a
 * process-wide lock), and because DJL's PyTorch engine allows one gradient collector per process,
 * their forward and backward passes take turns while data loading, updates and evaluation overlap;
 * for parallel speed run separate processes. Dropout inside a model draws from libtorch's
 * process-wide generator, so models with dropout are reproducible only when fits run one at a
 * time. Stages and strategies are immutable and may be shared. The model's parameters are
 * changed in place; at the end of {@link #fit} they hold the best epoch's weights (see
 * {@link #optRestoreBest}).
 *
 * <p>Interrupting the thread that runs {@link #fit} stops it at the next step boundary with a
 * {@link TrainingInterruptedException}: the best checkpoint already written stays, native memory
 * and data loader threads are released, and the interrupt flag is set again.
 */
public final class FineTuner {

    private static final Logger LOG = LoggerFactory.getLogger(FineTuner.class);
    private static final int CACHE_CHUNK = 256;

    private final Model model;
    private Block block;
    private final NDManager manager;
    private int numClasses;
    private List<String> classNames;
    private HeadReplacer headReplacer = HeadReplacer.sequential();
    private Function<Block, LayerGroups> grouping = LayerGroups::of;
    private final List<Stage> stages = new ArrayList<>();
    private Loss loss = Loss.softmaxCrossEntropyLoss();
    private Path checkpointPath;
    private CheckpointMetric metric = CheckpointMetric.ACCURACY;
    private long seed = 42;
    private boolean progress = true;
    private boolean restoreBest = true;
    private Path resumeFrom;
    private Path lastCheckpointPath;
    /** Serialises seeding and drawing from libtorch's and DJL's process-wide generators. */
    private static final Object RNG_LOCK = new Object();
    private int divergenceCheckInterval = 100;
    private boolean featureCache;
    private long featureCacheMemoryLimit = 1L << 30;
    private Path featureCacheDirectory;
    private int dataLoaderThreads;

    private FineTuner(Model model, Block block, NDManager manager) {
        this.model = model;
        this.block = Objects.requireNonNull(block, "the model has no block");
        this.manager = manager;
    }

    /**
     * Starts a fine-tune of a model holding pretrained weights; the model's manager (and so its
     * device) is where training runs.
     *
     * @param model a loaded model
     * @return the fine-tuner
     */
    public static FineTuner from(Model model) {
        return new FineTuner(model, model.getBlock(), model.getNDManager());
    }

    /**
     * Starts a fine-tune of a block whose parameters are initialised or loaded; training runs on
     * the device of its parameters.
     *
     * @param block the pretrained block
     * @return the fine-tuner
     */
    public static FineTuner from(Block block) {
        for (Pair<String, Parameter> p : block.getParameters()) {
            if (p.getValue().isInitialized()) {
                return new FineTuner(null, block, p.getValue().getArray().getManager());
            }
        }
        throw new IllegalArgumentException(
                "The block has no initialised parameters: load its pretrained weights first, or"
                        + " use FineTuner.from(model) with a Model that owns a manager.");
    }

    /**
     * Replaces the classifier with a new randomly initialised one for {@code classes} classes.
     * Call it after the pretrained weights are loaded.
     *
     * @param classes the number of target classes, at least 2
     * @return this
     */
    public FineTuner replaceHead(int classes) {
        requireClassCount(classes);
        Block replaced = headReplacer.replace(block, classes);
        if (replaced != block && model != null) {
            model.setBlock(replaced);
        }
        block = replaced;
        numClasses = classes;
        return this;
    }

    /**
     * Declares the class count without replacing the head (the model's head already has it).
     *
     * @param classes the number of classes
     * @return this
     */
    public FineTuner optNumClasses(int classes) {
        requireClassCount(classes);
        numClasses = classes;
        return this;
    }

    private static void requireClassCount(int classes) {
        if (classes < 2) {
            throw new IllegalArgumentException(
                    "replaceHead(" + classes + "): a classifier needs at least 2 classes; pass the"
                            + " number of classes in your target data.");
        }
    }

    /**
     * @param names class names in label order (default "0", "1", ...)
     * @return this
     */
    public FineTuner optClassNames(List<String> names) {
        classNames = List.copyOf(names);
        return this;
    }

    /**
     * @param replacer how to find and replace the head (set before {@link #replaceHead})
     * @return this
     */
    public FineTuner optHeadReplacer(HeadReplacer replacer) {
        headReplacer = Objects.requireNonNull(replacer);
        return this;
    }

    /**
     * @param groups how to split the model into layer groups (default {@link LayerGroups#of})
     * @return this
     */
    public FineTuner optLayerGroups(Function<Block, LayerGroups> groups) {
        grouping = Objects.requireNonNull(groups);
        return this;
    }

    /**
     * Appends a stage to the plan.
     *
     * @param stage the stage
     * @return this
     */
    public FineTuner stage(Stage stage) {
        stages.add(Objects.requireNonNull(stage, "stage"));
        return this;
    }

    /**
     * @param lossFunction the training loss on (labels, logits); default softmax cross-entropy
     * @return this
     */
    public FineTuner optLoss(Loss lossFunction) {
        loss = Objects.requireNonNull(lossFunction);
        return this;
    }

    /**
     * Weighs each class's samples in the training (and validation) loss, e.g. with
     * {@link dev.finetune.core.loss.ClassCounts#balancedWeights()} for imbalanced data; replaces the
     * loss with {@link dev.finetune.core.loss.ClassWeightedCrossEntropy}. Pair it with
     * {@code optCheckpointMetric(CheckpointMetric.MACRO_F1)}, which rare classes move as much as common ones.
     *
     * @param weights one positive weight per class, in label order
     * @return this
     */
    public FineTuner optClassWeights(float[] weights) {
        loss = new dev.finetune.core.loss.ClassWeightedCrossEntropy(weights);
        return this;
    }

    /**
     * Writes the best epoch's checkpoint to this file (atomically, each time the metric improves).
     *
     * @param file the checkpoint file
     * @return this
     */
    public FineTuner optCheckpoint(Path file) {
        checkpointPath = file;
        return this;
    }

    /**
     * @param checkpointMetric the validation metric that picks the best epoch (default accuracy)
     * @return this
     */
    public FineTuner optCheckpointMetric(CheckpointMetric checkpointMetric) {
        metric = Objects.requireNonNull(checkpointMetric);
        return this;
    }

    /**
     * @param randomSeed seed for initialisation and shuffling (default 42)
     * @return this
     */
    public FineTuner optSeed(long randomSeed) {
        seed = randomSeed;
        return this;
    }

    /**
     * @param show whether to draw a console progress bar (default true)
     * @return this
     */
    public FineTuner optProgress(boolean show) {
        progress = show;
        return this;
    }

    /**
     * @param restore whether the model ends with the best epoch's weights (default) or the last's
     * @return this
     */
    public FineTuner optRestoreBest(boolean restore) {
        restoreBest = restore;
        return this;
    }

    /**
     * Continues a plan from a checkpoint it wrote: the weights are restored and training goes on
     * after the checkpoint's epoch. The plan must be the same as when the checkpoint was written.
     *
     * @param checkpoint the checkpoint file
     * @return this
     */
    public FineTuner optResumeFrom(Path checkpoint) {
        resumeFrom = checkpoint;
        return this;
    }

    /**
     * Writes the full state after every epoch (weights, optimizer moments and step counts, history,
     * best epoch) to this file, atomically, so that a run killed at any point continues with
     * {@code optResumeFrom(file)} exactly as if it had not stopped (same weights and metrics on the
     * same machine, for models without dropout and data without random augmentation). Needs
     * {@link #optCheckpoint} for the best epoch's weights.
     *
     * @param file the resume checkpoint
     * @return this
     */
    public FineTuner optLastCheckpoint(Path file) {
        lastCheckpointPath = file;
        return this;
    }

    /**
     * @param steps steps between host reads of the NaN/inf flag (default 100)
     * @return this
     */
    public FineTuner optDivergenceCheckInterval(int steps) {
        divergenceCheckInterval = steps;
        return this;
    }

    /**
     * Trains stages whose first layer groups stay frozen on cached outputs of those groups: the
     * frozen prefix runs once over the training and validation data (in inference mode), and every
     * epoch of the stage runs only the rest. A head-only stage caches the backbone's features; a
     * partial stage caches up to its last frozen group (mid-network). Used for a stage when the
     * model is a {@link ai.djl.nn.SequentialBlock} whose frozen groups are whole leading children,
     * BatchNorm keeps its statistics and both datasets are random-access; give data without
     * augmentation (the cache holds one output per sample) and no dropout in the frozen part.
     *
     * @param enable whether to cache (default false)
     * @return this
     */
    public FineTuner optFeatureCache(boolean enable) {
        featureCache = enable;
        return this;
    }

    /**
     * @param bytes the most bytes of cached features kept on the model's device; larger caches go
     *     to a memory-mapped file (default 1 GiB)
     * @return this
     */
    public FineTuner optFeatureCacheMemoryLimit(long bytes) {
        if (bytes < 0) {
            throw new IllegalArgumentException("optFeatureCacheMemoryLimit must not be negative, got " + bytes);
        }
        featureCacheMemoryLimit = bytes;
        return this;
    }

    /**
     * @param directory where file-backed feature caches are written (default: the temporary folder);
     *     the files are deleted at the end of their stage
     * @return this
     */
    public FineTuner optFeatureCacheDirectory(Path directory) {
        featureCacheDirectory = directory;
        return this;
    }

    /**
     * Reads training and validation batches on {@code threads} worker threads while this thread
     * computes: decoding and augmentation (e.g. of an image dataset) overlap the forward and backward
     * passes. The workers are daemon threads named {@code finetune-data-loader-*}, created when
     * {@link #fit} starts and stopped when it ends, normally or by an exception. Only
     * {@link RandomAccessDataset}s are read ahead (through DJL's {@code getData(manager, executor)},
     * {@code optPrefetchNumber} batches ahead); other datasets are read in the calling thread.
     *
     * <p>The batch order (the shuffle) is drawn in the calling thread, so without random
     * augmentation the training is the same as with 0 threads. With a seeded augmenting pipeline
     * (e.g. {@code ImagePipeline.training(seed)}), workers transforming images concurrently take the
     * pipeline's draws in the order they reach them, so a draw may go to another image than in a run
     * with 0 threads, and two runs with threads may differ: use 0 threads where runs must repeat
     * exactly.
     *
     * @param threads the number of worker threads; 0 (default) reads in the calling thread
     * @return this
     */
    public FineTuner optDataLoaderThreads(int threads) {
        if (threads < 0) {
            throw new IllegalArgumentException(
                    "optDataLoaderThreads must be 0 (read in the calling thread) or more, got " + threads + ".");
        }
        dataLoaderThreads = threads;
        return this;
    }

    /** @return the block being fine-tuned (with its new head once replaced) */
    public Block block() {
        return block;
    }

    /**
     * The model's layer groups with the trainable state a stage gives them in its first epoch.
     *
     * @param stage a stage, or null for counts only
     * @return a printable table
     */
    public String describeGroups(Stage stage) {
        LayerGroups groups = grouping.apply(block);
        return groups.describe(stage == null ? null : stage.strategy().multipliers(groups.size(), 0));
    }

    /**
     * Runs the plan.
     *
     * @param train the training data (labels are class indices)
     * @param validation the validation data, evaluated after every epoch
     * @return the per-epoch metrics, best epoch and its confusion matrix
     * @throws CheckpointException if a checkpoint cannot be written or the resume checkpoint is
     *     missing, corrupt or from another plan
     * @throws TrainingInterruptedException if the thread was interrupted: it stopped at a step
     *     boundary and carries the result of the completed epochs
     */
    public FineTuneResult fit(Dataset train, Dataset validation) throws CheckpointException {
        if (numClasses < 2) {
            throw new IllegalStateException(
                    "The class count is unknown: call replaceHead(n) (or optNumClasses(n) if the"
                            + " head already fits) before fit.");
        }
        if (stages.isEmpty()) {
            throw new IllegalStateException(
                    "The plan has no stage: add one, e.g. stage(Stage.headOnly().withEpochs(3)).");
        }
        Objects.requireNonNull(train, "training dataset");
        Objects.requireNonNull(validation, "validation dataset");
        List<String> names = classNames != null ? classNames : defaultNames(numClasses);
        if (names.size() != numClasses) {
            throw new IllegalArgumentException(
                    names.size() + " class names were given for " + numClasses + " classes.");
        }
        if (loss instanceof dev.finetune.core.loss.ClassWeightedCrossEntropy
                && ((dev.finetune.core.loss.ClassWeightedCrossEntropy) loss).weights().length != numClasses) {
            throw new IllegalArgumentException(
                    ((dev.finetune.core.loss.ClassWeightedCrossEntropy) loss).weights().length
                            + " class weights were given for " + numClasses + " classes (optClassWeights).");
        }
        if (lastCheckpointPath != null && checkpointPath == null) {
            throw new IllegalStateException("optLastCheckpoint needs optCheckpoint(file) too: the best epoch's weights"
                    + " are kept there when a run resumes.");
        }
        prepare(train);
        prepare(validation);
        requireNotEmpty(train, "training");
        requireNotEmpty(validation, "validation");

        FirstBatch trainFirst = peek(train, "training");
        FirstBatch validationFirst = peek(validation, "validation");
        synchronized (RNG_LOCK) { // new layers draw their initial values from the process-wide generator
            Engine.getInstance().setRandomSeed((int) seed);
            initialize(trainFirst.shape());
        }
        List<String> plan = new ArrayList<>();
        for (Stage s : stages) {
            plan.add(s.describe());
        }

        int startStage = 0;
        int startEpochInStage = 0;
        int epochNumber = 0;
        double bestValue = Double.NaN;
        Checkpoint exact = null;
        if (resumeFrom != null) {
            Checkpoint resume = Checkpoint.load(resumeFrom);
            exact = resume.metadata().resume() != null ? resume : null;
            Checkpoint.Metadata meta = resume.metadata();
            if (!meta.stagePlan().equals(plan)) {
                throw new CheckpointException(
                        "Checkpoint " + resumeFrom + " was written by another stage plan "
                                + meta.stagePlan() + "; this fine-tuner's plan is " + plan
                                + ". Resume with the same stages, or start without resuming.");
            }
            resume.restoreInto(block, manager);
            startStage = meta.stage();
            startEpochInStage = meta.epochInStage();
            epochNumber = meta.epoch();
            bestValue = meta.metricValue();
            if (startEpochInStage >= stages.get(startStage).epochs()) {
                startStage++;
                startEpochInStage = 0;
            }
            LOG.info("Resuming from {} after epoch {} (stage {}, {} {})", resumeFrom, meta.epoch(),
                    meta.stage() + 1, metric, meta.metricValue());
        }

        // groups after any restore: an imported module gets new parameter objects when it loads
        LayerGroups groups = grouping.apply(block);
        for (Stage s : stages) {
            s.plan(groups, 0); // validates every stage before any training
        }
        Run run = new Run(names, plan);
        run.bestValue = bestValue;
        run.epochNumber = epochNumber;
        run.stage = startStage;
        run.epochInStage = startEpochInStage;
        if (exact != null) {
            continueExactly(run, exact);
            if (startStage != exact.metadata().stage()) {
                run.pendingOptimizer = null; // the checkpoint ended a stage: the next starts a fresh optimizer
            }
        }
        try (DataLoaderPool loader = dataLoaderThreads > 0 ? new DataLoaderPool(dataLoaderThreads) : null) {
            train(run, groups, loader, train, validation, trainFirst, validationFirst, startStage, startEpochInStage);
        } catch (TrainingInterruptedException e) {
            throw interrupted(run, e);
        }
        if (run.history.isEmpty()) {
            throw new IllegalStateException(
                    "Nothing left to train: the checkpoint " + resumeFrom + " is at the end of the plan.");
        }
        if (run.bestIndex >= 0 && restoreBest && run.best != null && run.bestIndex != run.history.size() - 1) {
            run.best.restoreInto(block, manager);
        }
        return run.result();
    }

    /**
     * Restores what a resume checkpoint holds beside the weights: the history, the best epoch (its
     * weights from the best checkpoint, or the restored ones when it is the last epoch) and the
     * optimizer state for the first stage that runs.
     */
    private void continueExactly(Run run, Checkpoint last) throws CheckpointException {
        Checkpoint.Metadata meta = last.metadata();
        Checkpoint.Resume r = meta.resume();
        run.history.addAll(r.history());
        run.bestIndex = r.bestIndex();
        run.bestValue = r.bestValue();
        if (r.bestConfusion() != null) {
            run.bestConfusion = new ConfusionMatrix(r.bestConfusion(), run.names);
        }
        run.pendingOptimizer = new PlanOptimizer.SavedState(r.optimizerParameters(), r.optimizerSteps(),
                last.optimizerState());
        if (r.bestIndex() < 0) {
            return;
        }
        EpochMetrics best = r.history().get(r.bestIndex());
        if (r.bestIndex() == r.history().size() - 1) {
            // the last epoch was the best: its weights are the ones just restored; the best file may
            // predate it if the run stopped between the two writes
            run.best = Checkpoint.of(block, new Checkpoint.Metadata(run.names, best.epoch(), best.stage(),
                    best.epochInStage(), metric.name(), r.bestValue(), run.plan, seed, Checkpoint.shapesOf(block),
                    Instant.now().toString(), null));
            run.best.save(checkpointPath);
            return;
        }
        Checkpoint file = Checkpoint.load(checkpointPath);
        if (file.metadata().epoch() != best.epoch()) {
            throw new CheckpointException("The best checkpoint " + checkpointPath + " holds epoch "
                    + file.metadata().epoch() + " but the resume checkpoint " + resumeFrom + " names epoch "
                    + best.epoch() + " as the best: give the best checkpoint written by the same run.");
        }
        run.best = file;
    }

    /** The state of one fit: where it is, what it measured and the best epoch so far. */
    private final class Run {
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

        Run(List<String> names, List<String> plan) {
            this.names = names;
            this.plan = plan;
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
                    if (metric.isBetter(metric.of(history.get(i)), metric.of(history.get(index)))) {
                        index = i;
                    }
                }
                confusion = null;
            }
            if (confusion == null) {
                confusion = new ConfusionMatrix(new long[numClasses][numClasses], names);
            }
            return new FineTuneResult(new ArrayList<>(history), new ArrayList<>(plan), metric, index, confusion,
                    best != null ? checkpointPath : null, seed);
        }
    }

    /**
     * Finishes an interrupted fit: restores the best weights (if asked), sets the interrupt flag
     * again and describes where it stopped.
     */
    private TrainingInterruptedException interrupted(Run run, TrainingInterruptedException e) {
        Thread.interrupted(); // cleared while restoring, set again below
        try {
            if (restoreBest && run.best != null) { // the weights moved since the last completed epoch
                run.best.restoreInto(block, manager);
            }
        } catch (CheckpointException | RuntimeException failure) {
            e.addSuppressed(failure);
        } finally {
            Thread.currentThread().interrupt();
        }
        Stage stage = stages.get(run.stage);
        FineTuneResult partial = run.result();
        String where = String.format(java.util.Locale.ROOT, "stage %d/%d '%s', epoch %d/%d, %s step %d",
                run.stage + 1, stages.size(), stage.name(), run.epochInStage + 1, stage.epochs(), e.phase(),
                e.step() + 1);
        String kept = run.best != null && checkpointPath != null
                ? " The best epoch so far (" + run.history.get(run.bestIndex).epoch() + ") is in " + checkpointPath
                        + ": continue with optResumeFrom(" + checkpointPath.getFileName() + ")."
                : partial == null ? " No epoch completed." : "";
        String message = "Training was interrupted; it stopped before " + where + " (" + e.step() + " steps of the "
                + e.phase() + " pass done, " + run.history.size() + " epochs completed)." + kept;
        LOG.info(message);
        return new TrainingInterruptedException(message, run.stage + 1, stage.name(), run.epochInStage + 1,
                e.phase(), e.step(), partial, e);
    }

    private void train(Run run, LayerGroups groups, DataLoaderPool loader, Dataset train, Dataset validation,
            FirstBatch trainFirst, FirstBatch validationFirst, int startStage, int startEpochInStage)
            throws CheckpointException {
        TrainingLoop loop = new TrainingLoop(block, manager, loss, numClasses, progress, divergenceCheckInterval, loader);
        long stepsPerEpoch = trainFirst.batches();
        boolean checkLabels = true;
        try (BatchNormControl batchNorm = BatchNormControl.install(block)) {
            for (int s = startStage; s < stages.size(); s++) {
                Stage stage = stages.get(s);
                int firstEpoch = s == startStage ? startEpochInStage : 0;
                run.stage = s;
                run.epochInStage = firstEpoch;
                if (firstEpoch == 0) {
                    synchronized (RNG_LOCK) {
                        Engine.getInstance().setRandomSeed((int) SeededSampling.epochSeed(seed, -(s + 1L)));
                        reinitializeTop(groups, stage.strategy().reinitializedTopGroups());
                    }
                }
                batchNorm.setKeepStatistics(stage.batchNormPolicy() == BatchNormPolicy.KEEP_STATISTICS);
                TrainingLoop.StageClock clock = new TrainingLoop.StageClock(
                        stage.epochs() * stepsPerEpoch, firstEpoch * stepsPerEpoch);
                int split = featureCache ? cacheSplitChild(stage, groups, firstEpoch, train, validation) : -1;
                Dataset stageTrain = train;
                Dataset stageValidation = validation;
                TrainingLoop stageLoop = loop;
                FeatureCache trainCache = null;
                FeatureCache validationCache = null;
                if (split > 0) {
                    SequentialBlock frozen = new SequentialBlock();
                    SequentialBlock rest = new SequentialBlock();
                    var children = block.getChildren();
                    for (int c = 0; c < children.size(); c++) {
                        (c < split ? frozen : rest).add(children.get(c).getValue());
                    }
                    trainCache = FeatureCache.compute(frozen, manager, (RandomAccessDataset) train, CACHE_CHUNK,
                            featureCacheMemoryLimit, featureCacheDirectory);
                    try {
                        validationCache = FeatureCache.compute(frozen, manager, (RandomAccessDataset) validation,
                                CACHE_CHUNK, featureCacheMemoryLimit, featureCacheDirectory);
                    } catch (RuntimeException e) {
                        trainCache.close();
                        throw e;
                    }
                    stageTrain = trainCache.dataset(trainFirst.size(), true);
                    stageValidation = validationCache.dataset(validationFirst.size(), false);
                    stageLoop = new TrainingLoop(rest, manager, loss, numClasses, progress, divergenceCheckInterval,
                            loader);
                    LOG.info("stage {}: training children {}.. on cached outputs of the first {} ({} + {} samples of {},"
                                    + " {} MB, {})", s + 1, split, split, trainCache.size(), validationCache.size(),
                            trainCache.sampleShape(), (trainCache.bytes() + validationCache.bytes()) / (1 << 20),
                            trainCache.onDisk() ? "memory-mapped file" : "in memory");
                }
                try (PlanOptimizer optimizer = new PlanOptimizer(stage.optimizer(), manager);
                        FeatureCache closeTrain = trainCache;
                        FeatureCache closeValidation = validationCache) {
                    if (run.pendingOptimizer != null) {
                        optimizer.restore(run.pendingOptimizer, block.getParameters());
                        run.pendingOptimizer = null;
                    }
                    for (int e = firstEpoch; e < stage.epochs(); e++) {
                        run.epochInStage = e;
                        TrainingPlan trainingPlan = stage.plan(groups, e);
                        optimizer.retainOnly(trainingPlan);
                        // every epoch draws from generators seeded by (seed, epoch): a resumed run replays it
                        long epochSeed = SeededSampling.epochSeed(seed, run.epochNumber + 1L);
                        synchronized (RNG_LOCK) {
                            Engine.getInstance().setRandomSeed((int) epochSeed);
                        }
                        String label = String.format(
                                "stage %d/%d '%s' epoch %d/%d", s + 1, stages.size(), stage.name(), e + 1, stage.epochs());
                        long start = System.nanoTime();
                        EpochTotals t = stageLoop.trainEpoch(stageTrain, trainingPlan, optimizer, stage.learningRate(),
                                stage.schedule(), stage.weightDecay(), stage.clipNorm(), clock, checkLabels, label,
                                epochSeed);
                        double trainSeconds = (System.nanoTime() - start) / 1e9;
                        EpochTotals v = stageLoop.evaluate(stageValidation, checkLabels, "validation after " + label);
                        checkLabels = false;
                        double seconds = (System.nanoTime() - start) / 1e9;
                        ConfusionMatrix cm = new ConfusionMatrix(v.confusion(), run.names);
                        int epochNumber = ++run.epochNumber;
                        EpochMetrics m = new EpochMetrics(epochNumber, s, stage.name(), e + 1, t.meanLoss(),
                                t.accuracy(), v.meanLoss(), cm.accuracy(), cm.macroF1(), seconds,
                                trainingPlan.trainableValues(), t.lastLearningRate(), t.samples(), trainSeconds, t.hostReads());
                        run.history.add(m);
                        LOG.info(
                                "epoch {} ({}): train loss {} acc {} | val loss {} acc {} macro-F1 {} | {} s,"
                                        + " {} trainable",
                                epochNumber, label, fmt(m.trainLoss()), fmt(m.trainAccuracy()),
                                fmt(m.validationLoss()), fmt(m.validationAccuracy()), fmt(m.validationMacroF1()),
                                fmt(seconds), m.trainableParameters());
                        double value = metric.of(m);
                        boolean improved = metric.isBetter(value, run.bestValue);
                        if (improved) {
                            run.bestValue = value;
                            run.bestIndex = run.history.size() - 1;
                            run.bestConfusion = cm;
                            run.best = Checkpoint.of(block, new Checkpoint.Metadata(run.names, epochNumber, s, e + 1,
                                    metric.name(), value, run.plan, seed, Checkpoint.shapesOf(block),
                                    Instant.now().toString(), null));
                        }
                        // the resume state first: a stop between the two writes then still finds the best weights
                        if (lastCheckpointPath != null) {
                            saveUninterrupted(resumeCheckpoint(run, optimizer, epochNumber, s, e + 1, value),
                                    lastCheckpointPath);
                        }
                        if (improved && checkpointPath != null) {
                            saveUninterrupted(run.best, checkpointPath);
                        }
                    }
                }
            }
        }
        run.epochInStage = 0;
    }

    private Checkpoint resumeCheckpoint(Run run, PlanOptimizer optimizer, int epochNumber, int stage, int epochInStage,
            double value) throws CheckpointException {
        PlanOptimizer.SavedState state = optimizer.export(block.getParameters());
        long[][] confusion = null;
        if (run.bestConfusion != null) {
            int k = run.bestConfusion.classCount();
            confusion = new long[k][k];
            for (int i = 0; i < k; i++) {
                for (int j = 0; j < k; j++) {
                    confusion[i][j] = run.bestConfusion.count(i, j);
                }
            }
        }
        Checkpoint.Resume resume = new Checkpoint.Resume(run.history, run.bestIndex, run.bestValue, confusion,
                state.names(), state.steps());
        return Checkpoint.of(block, new Checkpoint.Metadata(run.names, epochNumber, stage, epochInStage, metric.name(),
                value, run.plan, seed, Checkpoint.shapesOf(block), Instant.now().toString(), resume), state.arrays());
    }

    /**
     * Saves a checkpoint even when the thread is interrupted (file channels close on an interrupt):
     * the epoch is complete, and the interrupt stops the run at the next step.
     */
    private static void saveUninterrupted(Checkpoint checkpoint, Path file) throws CheckpointException {
        boolean interrupted = Thread.interrupted();
        try {
            checkpoint.save(file);
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /**
     * Measures the model once on a dataset, in inference mode: use it for the held-out test set
     * after {@link #fit}, and only once, so that the test set never steers a choice.
     *
     * @param data the dataset
     * @return loss, accuracy, macro-F1 and the confusion matrix
     */
    public Evaluation evaluate(Dataset data) {
        if (numClasses < 2) {
            throw new IllegalStateException("The class count is unknown: call replaceHead(n) or optNumClasses(n) first.");
        }
        prepare(data);
        requireNotEmpty(data, "evaluation");
        List<String> names = classNames != null ? classNames : defaultNames(numClasses);
        TrainingLoop loop = new TrainingLoop(block, manager, loss, numClasses, false, divergenceCheckInterval);
        EpochTotals t = loop.evaluate(data, true, "evaluation");
        return new Evaluation(t.meanLoss(), new ConfusionMatrix(t.confusion(), names));
    }

    /**
     * The index of the first child that any epoch of the stage trains, when the children before it
     * hold only parameters the stage keeps frozen and can run once on cached inputs; else -1.
     */
    private int cacheSplitChild(Stage stage, LayerGroups groups, int firstEpoch, Dataset train, Dataset validation) {
        if (!(block instanceof SequentialBlock) || stage.batchNormPolicy() != BatchNormPolicy.KEEP_STATISTICS
                || !(train instanceof RandomAccessDataset) || !(validation instanceof RandomAccessDataset)) {
            return -1;
        }
        java.util.Set<Parameter> trained = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
        for (int e = firstEpoch; e < stage.epochs(); e++) {
            double[] m = stage.strategy().multipliers(groups.size(), e);
            for (int g = 0; g < m.length; g++) {
                if (m[g] > 0) {
                    for (Pair<String, Parameter> p : groups.get(g).parameters()) {
                        trained.add(p.getValue());
                    }
                }
            }
        }
        var children = block.getChildren();
        for (int c = 0; c < children.size(); c++) {
            for (Pair<String, Parameter> p : children.get(c).getValue().getParameters()) {
                if (trained.contains(p.getValue())) {
                    return c > 0 && hasParameters(children, c) ? c : -1;
                }
            }
        }
        return -1;
    }

    /** Whether any child before {@code end} has parameters (else there is nothing worth caching). */
    private static boolean hasParameters(ai.djl.util.PairList<String, Block> children, int end) {
        for (int c = 0; c < end; c++) {
            if (!children.get(c).getValue().getParameters().isEmpty()) {
                return true;
            }
        }
        return false;
    }

    private void initialize(Shape inputShape) {
        boolean uninitialised = false;
        for (Pair<String, Parameter> p : block.getParameters()) {
            uninitialised |= !p.getValue().isInitialized();
        }
        if (uninitialised) {
            block.initialize(manager, DataType.FLOAT32, inputShape);
        }
        Shape out = block.getOutputShapes(new Shape[] {inputShape})[0];
        long outClasses = out.get(out.dimension() - 1);
        if (outClasses != numClasses) {
            throw new IllegalStateException(
                    "The model outputs " + outClasses + " classes but this fine-tune is for "
                            + numClasses + ". Loading a parameter file restores the head it was saved"
                            + " with: call replaceHead(" + numClasses + ") after loading the"
                            + " pretrained weights.");
        }
    }

    private void reinitializeTop(LayerGroups groups, int count) {
        for (int g = groups.size() - count; g < groups.size(); g++) {
            for (Pair<String, Parameter> p : groups.get(g).parameters()) {
                Reinitializer.reinitialize(p.getKey(), p.getValue(), manager);
            }
        }
    }

    private static void requireNotEmpty(Dataset data, String what) {
        if (data instanceof RandomAccessDataset && ((RandomAccessDataset) data).size() == 0) {
            throw new IllegalArgumentException(
                    "The " + what + " dataset is empty: give it at least one sample.");
        }
    }

    private static void prepare(Dataset data) {
        try {
            data.prepare();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (TranslateException e) {
            throw new IllegalStateException("Could not prepare the dataset: " + e.getMessage(), e);
        }
    }

    /** What the first batch of a dataset tells: input shape, batches per epoch, batch size. */
    private record FirstBatch(Shape shape, long batches, int size) {}

    private static FirstBatch peek(Dataset data, String what) {
        try (NDManager host = NDManager.newBaseManager(ai.djl.Device.cpu())) {
            Iterator<Batch> it = data.getData(host).iterator();
            if (!it.hasNext()) {
                throw new IllegalArgumentException("The " + what + " dataset produced no batches: give it at least one sample.");
            }
            try (Batch b = it.next()) {
                // DJL's progress total counts samples, not batches
                long samples = Math.max(1, b.getProgressTotal());
                long batches = (samples + b.getSize() - 1) / b.getSize();
                return new FirstBatch(b.getData().head().getShape(), batches, b.getSize());
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (TranslateException e) {
            throw new IllegalStateException("Could not read the " + what + " data: " + e.getMessage(), e);
        }
    }

    private static List<String> defaultNames(int n) {
        String[] names = new String[n];
        for (int i = 0; i < n; i++) {
            names[i] = String.valueOf(i);
        }
        return Arrays.asList(names);
    }

    private static String fmt(double v) {
        return String.format(java.util.Locale.ROOT, "%.4f", v);
    }
}
