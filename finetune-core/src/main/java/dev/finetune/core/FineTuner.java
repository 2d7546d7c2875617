package dev.finetune.core;

import ai.djl.Model;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.training.dataset.Dataset;
import ai.djl.training.dataset.RandomAccessDataset;
import ai.djl.training.loss.Loss;
import ai.djl.util.Pair;
import dev.finetune.core.checkpoint.CheckpointException;
import dev.finetune.core.groups.LayerGroups;
import dev.finetune.core.head.HeadReplacer;
import dev.finetune.core.internal.WeightAverage;
import dev.finetune.core.loss.CrossEntropy;
import dev.finetune.core.result.CheckpointMetric;
import dev.finetune.core.result.Evaluation;
import dev.finetune.core.result.FineTuneResult;
import dev.finetune.core.stage.Stage;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.function.Function;

/**
 * Fine-tunes a pretrained classifier through a plan of stages:
 *
 * <pre>{@code
 * FineTuner tuner = FineTuner.from(model)                 // a loaded ai.djl.Model with pretrained weights
 *         .replaceHead(12)                                // a new classifier for 12 classes
 *         .stage(Stage.headOnly().withEpochs(2))          // feature extraction, lr 1e-3
 *         .stage(Stage.discriminative(2.6).withEpochs(3)) // all groups, lr / 2.6 per group below the head
 *         .optCheckpoint(Path.of("best.ckpt"));           // the best validation epoch, written atomically
 * FineTuneResult result = tuner.fit(trainData, validationData); // DJL Datasets, labels = class indices
 * System.out.println(result);                             // per-epoch table, best epoch, confusion matrix
 * Evaluation test = tuner.evaluate(testData);             // the held-out test set, once
 * }</pre>
 *
 * <p>{@link #addListener} follows a fit ({@link FineTuneListener}). A {@code FineTuner} is the
 * configuration of fine-tunes of one model and is not thread-safe; fits of different models may run
 * in different threads and give what they give one after the other (their forward and backward
 * passes take turns: DJL allows one gradient collector per process; models with dropout repeat
 * exactly only when fits run one at a time). Stages are immutable and may be shared. The model's
 * parameters change in place and end as the best epoch's (see {@link #optRestoreBest}).
 *
 * <p>Interrupting the thread that runs {@link #fit} stops it at the next step boundary with a
 * {@link TrainingInterruptedException}: the best checkpoint already written stays, native memory
 * and data loader threads are released, and the interrupt flag is set again.
 */
public final class FineTuner {

    private final Model model;
    private Block original;
    final NDManager manager;
    int numClasses;
    private int replacementClasses;
    private Block replaced;
    private List<String> classNames;
    private HeadReplacer headReplacer = HeadReplacer.sequential();
    Function<Block, LayerGroups> grouping = LayerGroups::of;
    final List<Stage> stages = new ArrayList<>();
    final List<FineTuneListener> listeners = new ArrayList<>();
    /** The loss set by {@link #optLoss}, or null for the library's cross-entropy, and its validation form. */
    Loss customLoss;
    private Loss customEvaluationLoss;
    float[] classWeights;
    double labelSmoothing;
    /**
     * The cross-entropy built from the weights and smoothing, and its validation form, made once (each
     * keeps its class weights on the model's device): rebuilt when either setting changes.
     */
    private CrossEntropy builtLoss;
    private CrossEntropy builtEvaluationLoss;
    /** The weight average's decay, 0 for none. */
    double emaDecay;
    Precision precision = Precision.FP32;
    Path checkpointPath;
    CheckpointMetric metric = CheckpointMetric.ACCURACY;
    long seed = 42;
    boolean progress = true;
    boolean restoreBest = true;
    Path resumeFrom;
    Path lastCheckpointPath;
    int divergenceCheckInterval = 100;
    boolean featureCache;
    long featureCacheMemoryLimit = 1L << 30;
    Path featureCacheDirectory;
    int dataLoaderThreads;
    /** The state of the last fit that finished, which a later fit continues. */
    FitState finished;

    private FineTuner(Model model, Block block, NDManager manager) {
        this.model = model;
        this.original = Objects.requireNonNull(block, "the model has no block");
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
     * Replaces the classifier with a new randomly initialised one for {@code classes} classes, with
     * the replacer set by {@link #optHeadReplacer} (in any order: the head is replaced when the
     * model is first used, by {@link #fit}, {@link #block()} or {@link #describeGroups}). The
     * pretrained weights must be loaded before that.
     *
     * @param classes the number of target classes, at least 2
     * @return this
     */
    public FineTuner replaceHead(int classes) {
        FitInputs.requireClassCount(classes);
        requireHeadNotReplaced("replaceHead");
        replacementClasses = classes;
        numClasses = classes;
        return this;
    }

    /**
     * Replaces the classifier with the given replacer; the same as
     * {@code optHeadReplacer(replacer).replaceHead(classes)}.
     *
     * @param classes the number of target classes, at least 2
     * @param replacer how to find and replace the head
     * @return this
     */
    public FineTuner replaceHead(int classes, HeadReplacer replacer) {
        return optHeadReplacer(replacer).replaceHead(classes);
    }

    private void requireHeadNotReplaced(String call) {
        if (replaced != null) {
            throw new IllegalStateException(call + " after the head was already replaced (by fit, block() or"
                    + " describeGroups): configure the head before using the model.");
        }
    }

    /**
     * Declares the class count without replacing the head (the model's head already has it).
     *
     * @param classes the number of classes
     * @return this
     */
    public FineTuner optNumClasses(int classes) {
        FitInputs.requireClassCount(classes);
        numClasses = classes;
        return this;
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
     * @param replacer how to find and replace the head (default {@link HeadReplacer#sequential()});
     *     before or after {@link #replaceHead}, as long as the model has not been used
     * @return this
     */
    public FineTuner optHeadReplacer(HeadReplacer replacer) {
        requireHeadNotReplaced("optHeadReplacer");
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
     * Adds a listener that follows every fit of this fine-tuner (stages, epochs, steps, the end or
     * a failure); listeners are called in the order added.
     *
     * @param listener the listener
     * @return this
     */
    public FineTuner addListener(FineTuneListener listener) {
        listeners.add(Objects.requireNonNull(listener, "listener"));
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
     * Replaces the library's cross-entropy ({@link CrossEntropy}, built from {@link #optClassWeights}
     * and {@link #optLabelSmoothing}) with another loss, used for training and validation alike. It
     * cannot be combined with those two (give them to {@link CrossEntropy#builder()} instead), and
     * stages with MixUp or CutMix need a {@link CrossEntropy}, which takes their soft targets; both
     * are refused when {@link #fit} starts.
     *
     * @param lossFunction the loss on (labels, logits)
     * @return this
     */
    public FineTuner optLoss(Loss lossFunction) {
        customLoss = Objects.requireNonNull(lossFunction);
        customEvaluationLoss = customLoss instanceof CrossEntropy ? ((CrossEntropy) customLoss).withoutSmoothing()
                : customLoss;
        return this;
    }

    /**
     * Weighs each class's samples in the training and validation loss, e.g. with
     * {@link dev.finetune.core.loss.ClassCounts#balancedWeights()} for imbalanced data: the loss is
     * {@link CrossEntropy} with these weights (PyTorch's {@code CrossEntropyLoss(weight)}), with the
     * smoothing of {@link #optLabelSmoothing} if set (in either order). Pair it with
     * {@code optCheckpointMetric(CheckpointMetric.MACRO_F1)}, which rare classes move as much as common ones.
     *
     * @param weights one positive weight per class, in label order
     * @return this
     */
    public FineTuner optClassWeights(float[] weights) {
        // the builder checks them (at least 2, each positive and finite) and keeps a copy
        classWeights = CrossEntropy.builder().optClassWeights(Objects.requireNonNull(weights, "weights")).build()
                .classWeights();
        builtLoss = null;
        return this;
    }

    /**
     * Smooths the training targets: each one-hot (or MixUp-mixed) target keeps {@code 1 - eps} of its
     * mass and spreads {@code eps} evenly over the classes (PyTorch's {@code CrossEntropyLoss(
     * label_smoothing=eps)}; with {@link #optClassWeights}, in either order, the two compose). The
     * validation loss is reported without smoothing (class weights kept), as timm evaluates, so it
     * stays comparable between runs with and without smoothing; the training loss is the smoothed
     * loss the optimizer minimises.
     *
     * @param eps the smoothing in [0, 1) (0.1 is usual; 0, the default, turns it off)
     * @return this
     */
    public FineTuner optLabelSmoothing(double eps) {
        labelSmoothing = CrossEntropy.builder().optLabelSmoothing(eps).build().labelSmoothing(); // checks it
        builtLoss = null;
        return this;
    }

    /**
     * Trains in mixed precision ({@link Precision#BF16}): the forward and backward passes in
     * bfloat16, the master weights, the optimizer's state, the loss and the metrics in float32. On
     * hardware without bfloat16 arithmetic the fit trains in float32 and says so in {@code
     * result.warnings()}; so does a model whose bfloat16 forward fails (the first batch is tried).
     *
     * @param precision the precision ({@link Precision#FP32}, the default, or {@link Precision#BF16})
     * @return this
     */
    public FineTuner optPrecision(Precision precision) {
        this.precision = java.util.Objects.requireNonNull(precision, "precision");
        return this;
    }

    /**
     * Keeps an exponential moving average (EMA) of the weights, updated after every optimizer step
     * with {@code d_t = min(decay, (1 + t) / (10 + t))} ({@code t} the updates so far, a warm-up: the
     * average follows the weights closely at first). The average is what each epoch's validation
     * measures, what the best checkpoint holds and what the model ends with (the best epoch's
     * average; the last epoch's with {@code optRestoreBest(false)}); training goes on from the
     * weights themselves, which listeners see in {@code control().block()} during the fit. It spans
     * the whole plan, covering the parameters trained so far and the BatchNorm statistics while a
     * stage updates them. The last checkpoint ({@link #optLastCheckpoint}) holds both, so a resumed
     * run continues exactly; a later {@link #fit} starts a new average from the weights the model
     * holds.
     *
     * @param decay the decay per step, in (0, 1): 0.999 remembers about the last 1000 steps, 0.9999
     *     about 10000 (choose it for the steps the fit runs)
     * @return this
     */
    public FineTuner optEma(double decay) {
        emaDecay = WeightAverage.checkDecay(decay);
        return this;
    }

    /** @return the training loss: {@link #optLoss}'s, or the cross-entropy with the weights and smoothing set */
    Loss trainingLoss() {
        if (customLoss != null) {
            return customLoss;
        }
        if (builtLoss == null) {
            builtLoss = CrossEntropy.builder().optClassWeights(classWeights).optLabelSmoothing(labelSmoothing).build();
            builtEvaluationLoss = builtLoss.withoutSmoothing();
        }
        return builtLoss;
    }

    /** @return the validation loss: the training loss without label smoothing */
    Loss evaluationLoss() {
        if (customLoss != null) {
            return customEvaluationLoss;
        }
        trainingLoss(); // builds both
        return builtEvaluationLoss;
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
     * Sets the validation metric that picks the best epoch; ties are broken by validation loss
     * (for {@link CheckpointMetric#LOSS}, by accuracy), then by the earlier epoch.
     *
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
     * Reads training and validation batches on {@code threads} daemon threads
     * ({@code finetune-data-loader-*}, alive only during {@link #fit}) while this thread computes, so
     * decoding and augmentation overlap the forward and backward passes. Only
     * {@link RandomAccessDataset}s are read ahead. The shuffle is drawn in the calling thread, so
     * without random augmentation training is the same as with 0 threads; with a seeded augmenting
     * pipeline the workers take its draws in the order they reach them, so use 0 threads where runs
     * must repeat exactly.
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

    /**
     * The block being fine-tuned, with its new head: the head is replaced here if {@link #replaceHead}
     * asked for it and it has not been replaced yet.
     *
     * @return the block
     */
    public Block block() {
        if (replacementClasses > 0 && replaced == null) {
            replaced = headReplacer.replace(original, replacementClasses);
            if (replaced != original && model != null) {
                model.setBlock(replaced);
            }
        }
        return replaced != null ? replaced : original;
    }

    /**
     * The model's layer groups with the trainable state a stage gives them in its first epoch.
     *
     * @param stage a stage, or null for counts only
     * @return a printable table
     */
    public String describeGroups(Stage stage) {
        LayerGroups groups = grouping.apply(block());
        return groups.describe(stage == null ? null : stage.strategy().multipliers(groups.size(), 0));
    }

    /**
     * Runs the plan, telling the listeners what happens.
     *
     * <p>A later {@code fit} of the same fine-tuner continues: it runs only the stages added since
     * (with {@link #stage}), from the weights the model holds (the best epoch's, by default), and
     * keeps the earlier epochs and best epoch, so the best checkpoint is replaced only by a better
     * epoch. Without a new stage it is refused; {@link #optResumeFrom} applies to the first fit only.
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
        return FitRun.start(this, train, validation);
    }

    /**
     * Measures the model once on a dataset, in inference mode: use it for the held-out test set
     * after {@link #fit}, and only once, so that the test set never steers a choice.
     *
     * @param data the dataset
     * @return loss, accuracy, macro-F1 and the confusion matrix
     */
    public Evaluation evaluate(Dataset data) {
        return FitRun.evaluate(this, data);
    }

    /** @return the class names, checked against the class count */
    List<String> names() {
        return FitInputs.names(classNames, numClasses);
    }
}
