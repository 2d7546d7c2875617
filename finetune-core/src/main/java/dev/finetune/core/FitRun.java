package dev.finetune.core;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.training.dataset.Dataset;
import ai.djl.training.loss.Loss;
import ai.djl.util.Pair;
import dev.finetune.core.checkpoint.Checkpoint;
import dev.finetune.core.checkpoint.CheckpointException;
import dev.finetune.core.groups.LayerGroups;
import dev.finetune.core.internal.BatchNormControl;
import dev.finetune.core.internal.CacheSplit;
import dev.finetune.core.internal.DataLoaderPool;
import dev.finetune.core.internal.EpochTotals;
import dev.finetune.core.internal.MixedPrecision;
import dev.finetune.core.internal.PlanOptimizer;
import dev.finetune.core.internal.Reinitializer;
import dev.finetune.core.internal.SeededSampling;
import dev.finetune.core.internal.TrainingLoop;
import dev.finetune.core.internal.WeightAverage;
import dev.finetune.core.plan.EpochPlan;
import dev.finetune.core.result.ConfusionMatrix;
import dev.finetune.core.result.EpochMetrics;
import dev.finetune.core.result.FineTuneResult;
import dev.finetune.core.stage.Stage;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * One fit of a {@link FineTuner}'s plan: owns the stage and epoch loop, the best epoch, resume and
 * the feature-cache split, and tells the listeners what happens. Made by {@code fit}, used once.
 */
final class FitRun implements FitControl {

    private static final Logger LOG = LoggerFactory.getLogger(FineTuner.class);
    /** Serialises seeding and drawing from libtorch's and DJL's process-wide generators. */
    static final Object RNG_LOCK = new Object();

    private final FineTuner tuner;
    private final Block block;
    private final NDManager manager;
    final List<Stage> stages;
    final FitState state;
    private final List<FineTuneListener> listeners = new ArrayList<>();
    private final BuiltInListeners.Divergence divergence;
    private final Loss trainingLoss;
    private final Loss evaluationLoss;
    /** The exponential moving average of the weights (optEma), or null. */
    private final WeightAverage average;
    private PlanOptimizer optimizer;
    private Trial trial;
    /** The running stage, its groups and the plans of its epochs still to run (from {@code planStart}). */
    private Stage running;
    private LayerGroups runningGroups;
    private List<EpochPlan> plans;
    private int planStart;
    private boolean epochTrained;
    private String stopStage;
    private String stopFit;
    private boolean checkLabels = true;
    /** The fit's bfloat16 islands while it trains ({@link FineTuner#optPrecision}); off otherwise. */
    private MixedPrecision precision = MixedPrecision.off();

    FitRun(FineTuner tuner, Block block, List<String> names, List<String> plan, List<Stage> stages) {
        this.tuner = tuner;
        this.block = block;
        this.manager = tuner.manager;
        this.stages = List.copyOf(stages);
        this.state = new FitState(tuner, block, names, plan);
        this.trainingLoss = tuner.trainingLoss();
        this.evaluationLoss = tuner.evaluationLoss();
        this.average = tuner.emaDecay > 0 ? new WeightAverage(tuner.emaDecay, tuner.manager) : null;
        state.average = average;
        divergence = new BuiltInListeners.Divergence(tuner.divergenceCheckInterval);
        if (tuner.progress) {
            listeners.add(new BuiltInListeners.Progress());
        }
        listeners.add(new BuiltInListeners.EpochLog());
        listeners.add(divergence);
        listeners.addAll(tuner.listeners);
        // the resume state first: a stop between the two writes then still finds the best weights
        if (tuner.lastCheckpointPath != null) {
            listeners.add(new BuiltInListeners.LastCheckpoint(this, tuner.lastCheckpointPath));
        }
        if (tuner.checkpointPath != null) {
            listeners.add(new BuiltInListeners.BestCheckpoint(this, tuner.checkpointPath));
        }
    }

    /** Checks the settings and data, initialises the model, resumes if asked, and runs the plan. */
    static FineTuneResult start(FineTuner tuner, Dataset train, Dataset validation) throws CheckpointException {
        FitInputs.checkSettings(tuner);
        FitInputs.checkCheckpointFiles(tuner);
        Objects.requireNonNull(train, "training dataset");
        Objects.requireNonNull(validation, "validation dataset");
        List<String> names = tuner.names();
        Data data = new Data(train, validation, FitInputs.inspect(train, "training"),
                FitInputs.inspect(validation, "validation"));
        FitInputs.checkMixing(tuner.stages, data.train().shape());
        Block block = tuner.block();
        synchronized (RNG_LOCK) { // new layers draw their initial values from the process-wide generator
            Engine.getInstance().setRandomSeed((int) tuner.seed);
            FitInputs.initialize(block, tuner.manager, data.train().shape(), tuner.numClasses);
        }
        List<String> plan = new ArrayList<>();
        for (Stage s : tuner.stages) {
            plan.add(s.describe());
        }
        // step budgets become whole epochs on this data
        long batches = data.train().batches();
        List<Stage> resolved = new ArrayList<>();
        for (Stage s : tuner.stages) {
            resolved.add(s.steps() > 0 ? s.withEpochs(s.epochsFor(s.stepsPerEpoch(batches))) : s);
        }
        FitState earlier = tuner.finished;
        if (earlier != null) {
            earlier.requireContinuable(names, plan, tuner.metric);
        }
        FitRun run = new FitRun(tuner, block, names, plan, resolved);
        try {
            FitState.Start start;
            if (earlier != null) {
                start = run.state.continueFrom(earlier);
            } else if (tuner.resumeFrom != null) {
                start = run.state.resume(tuner.resumeFrom, run.stages, tuner.manager);
            } else {
                start = new FitState.Start(0, 0, null);
            }
            // groups after any restore: an imported module gets new parameter objects when it loads
            LayerGroups groups = tuner.grouping.apply(block);
            for (Stage s : tuner.stages) {
                s.plan(groups, 0); // validates every stage before any training
            }
            return run.run(groups, data, start);
        } finally {
            if (run.average != null) {
                run.average.close();
            }
        }
    }

    /** Measures the model once on a dataset, in inference mode. */
    static dev.finetune.core.result.Evaluation evaluate(FineTuner tuner, Dataset data) {
        if (tuner.numClasses < 2) {
            throw new IllegalStateException("The class count is unknown: call replaceHead(n) or optNumClasses(n) first.");
        }
        FitInputs.requireInitialised(tuner.block(), "evaluate");
        FitInputs.prepare(data);
        FitInputs.requireNotEmpty(data, "evaluation");
        TrainingLoop loop = new TrainingLoop(tuner.block(), tuner.manager, tuner.trainingLoss(), tuner.evaluationLoss(),
                tuner.numClasses, null, null);
        EpochTotals t = loop.evaluate(data, true, "evaluation");
        return new dev.finetune.core.result.Evaluation(t.meanLoss(), new ConfusionMatrix(t.confusion(), tuner.names()));
    }

    /**
     * Trains the plan from the given position, tells the listeners, and ends with the best weights
     * (if asked).
     */
    FineTuneResult run(LayerGroups groups, Data data, FitState.Start start) throws CheckpointException {
        if (start.listenerStates() != null) {
            for (int i = 0; i < tuner.listeners.size(); i++) {
                String saved = start.listenerStates().get(listenerKey(i));
                if (saved != null) {
                    tuner.listeners.get(i).restoreState(saved);
                }
            }
        }
        try (DataLoaderPool loader = tuner.dataLoaderThreads > 0 ? new DataLoaderPool(tuner.dataLoaderThreads) : null) {
            fire(l -> l.onFitStart(new FineTuneListener.FitStart(state.plan, state.names, tuner.seed,
                    List.copyOf(state.history), this)));
            train(groups, data, loader, start.stage(), start.epochInStage());
        } catch (TrainingInterruptedException e) {
            throw failed(state.interrupted(e, stages));
        } catch (CheckpointFailure e) {
            throw failed(e.getCause());
        } catch (RuntimeException e) {
            throw failed(e);
        } catch (Error e) {
            throw failed(e);
        }
        if (state.history.isEmpty()) {
            throw new IllegalStateException(
                    "Nothing left to train: the checkpoint " + tuner.resumeFrom + " is at the end of the plan.");
        }
        if (state.bestIndex >= 0 && tuner.restoreBest && state.best != null
                && (average != null || state.bestIndex != state.history.size() - 1)) {
            state.best.restoreInto(block, manager); // with an average, the best epoch's average
        } else if (average != null) {
            average.copyInto(); // the model ends as it was last measured: the average
        }
        FineTuneResult result = state.result();
        tuner.finished = state;
        fire(l -> l.onFitEnd(result));
        return result;
    }

    private <T extends Throwable> T failed(T failure) {
        for (FineTuneListener l : listeners) {
            try {
                l.onFitFailure(failure);
            } catch (RuntimeException e) {
                failure.addSuppressed(e);
            }
        }
        return failure;
    }

    /** Says once why bfloat16 does not apply (the log and the result's warnings). */
    private void warnPrecision(String message) {
        LOG.warn(message);
        state.warnings.add(message);
    }

    private void train(LayerGroups groups, Data data, DataLoaderPool loader, int startStage, int startEpochInStage) {
        try (MixedPrecision bf16 = tuner.precision == Precision.BF16
                        ? MixedPrecision.install(block, manager, this::warnPrecision) : MixedPrecision.off();
                BatchNormControl batchNorm = BatchNormControl.install(block)) {
            precision = bf16;
            try {
                trainStages(groups, data, loader, startStage, startEpochInStage, batchNorm);
            } finally {
                state.warnings.addAll(batchNorm.warnings());
                precision = MixedPrecision.off();
            }
        }
        state.epochInStage = 0;
    }

    private void trainStages(LayerGroups groups, Data data, DataLoaderPool loader, int startStage,
            int startEpochInStage, BatchNormControl batchNorm) {
        for (int s = startStage; s < stages.size() && stopFit == null; s++) {
            Stage stage = stages.get(s);
            long stepsPerEpoch = stage.stepsPerEpoch(data.train().batches());
            int first = s == startStage ? startEpochInStage : 0;
            state.stage = s;
            state.epochInStage = first;
            if (first == 0) {
                synchronized (RNG_LOCK) {
                    Engine.getInstance().setRandomSeed((int) SeededSampling.epochSeed(tuner.seed, -(s + 1L)));
                    Reinitializer.reinitializeTop(groups, stage.strategy().reinitializedTopGroups(), manager);
                }
                if (average != null) { // re-initialised layers start a new average
                    List<Parameter> fresh = new ArrayList<>();
                    for (int g = groups.size() - stage.strategy().reinitializedTopGroups(); g < groups.size(); g++) {
                        for (Pair<String, Parameter> p : groups.get(g).parameters()) {
                            fresh.add(p.getValue());
                        }
                    }
                    average.restart(fresh);
                }
            }
            running = stage;
            runningGroups = groups;
            epochTrained = false;
            state.epochInStage = first;
            planStart = first;
            plans = new ArrayList<>();
            for (int e = first; e < stage.epochs(); e++) {
                plans.add(stage.plan(groups, e));
            }
            TrainingLoop.StageClock clock = new TrainingLoop.StageClock(
                    stage.epochs() * stepsPerEpoch, first * stepsPerEpoch);
            int stageIndex = s;
            stopStage = null;
            int ran = 0;
            boolean mixes = stage.mixUp().enabled();
            if (tuner.featureCache && mixes) {
                LOG.info("stage {} mixes its images ({}), so it runs without the feature cache", s + 1, stage.mixUp());
            }
            try (CacheSplit cache = tuner.featureCache && !mixes
                            ? CacheSplit.prepare(block, plans, data.trainSet(), data.validationSet(),
                                    new int[] {data.train().size(), data.validation().size()}, manager,
                                    tuner.featureCacheMemoryLimit, tuner.featureCacheDirectory,
                                    average != null ? average.tracked() : java.util.Set.of(), precision.active())
                            : null;
                    PlanOptimizer stageOptimizer = new PlanOptimizer(stage.optimizer(), manager)) {
                optimizer = stageOptimizer;
                if (state.pendingOptimizer != null) {
                    stageOptimizer.restore(state.pendingOptimizer, block.getParameters());
                    state.pendingOptimizer = null;
                }
                TrainingLoop loop = new TrainingLoop(cache != null ? cache.rest() : block, manager, trainingLoss,
                        evaluationLoss, tuner.numClasses, loader, average);
                loop.setPrecision(precision);
                Dataset train = cache != null ? cache.train() : data.trainSet();
                Dataset validation = cache != null ? cache.validation() : data.validationSet();
                trial = new Trial(loop, train);
                batchNorm.setKeepStatistics(plans.get(0).keepsBatchNormStatistics());
                fire(l -> l.onStageStart(new FineTuneListener.StageStart(stageIndex, stages.size(), stage.name(),
                        stage.epochs(), first, stepsPerEpoch, this)));
                for (int e = first; e < stage.epochs() && stopStage == null && stopFit == null; e++) {
                    epoch(s, e, batchNorm, loop, clock, train, validation, stepsPerEpoch);
                    ran++;
                }
            } finally {
                optimizer = null;
                trial = null;
                plans = null;
            }
            String stopped = stopStage != null ? stopStage : stopFit;
            int epochsRun = ran;
            fire(l -> l.onStageEnd(new FineTuneListener.StageEnd(stageIndex, stage.name(), epochsRun, stopped)));
        }
    }

    private void epoch(int s, int e, BatchNormControl batchNorm, TrainingLoop loop, TrainingLoop.StageClock clock,
            Dataset train, Dataset validation, long stepsPerEpoch) {
        Stage stage = running;
        state.epochInStage = e;
        epochTrained = false;
        // every epoch draws from generators seeded by (seed, epoch): a resumed run replays it
        long epochSeed = SeededSampling.epochSeed(tuner.seed, state.epochNumber + 1L);
        synchronized (RNG_LOCK) {
            Engine.getInstance().setRandomSeed((int) epochSeed);
        }
        try (NDManager epochManager = manager.newSubManager()) {
            FineTuneListener.EpochStart start = new FineTuneListener.EpochStart(state.epochNumber + 1, s, stages.size(),
                    stage.name(), e + 1, stage.epochs(), stepsPerEpoch, running.learningRate(), epochManager);
            fire(l -> l.onEpochStart(start));
            EpochPlan plan = plans.get(e - planStart); // after the listeners: one may have set the rate
            optimizer.retainOnly(plan);
            if (average != null) {
                average.track(plan, block.getParameters());
            }
            batchNorm.setKeepStatistics(plan.keepsBatchNormStatistics());
            long began = System.nanoTime();
            epochTrained = true;
            EpochTotals t = loop.trainEpoch(train, plan, optimizer, clock, checkLabels, start.label(), epochSeed,
                    (c, step, samples, rate, loss, stepManager) -> {
                        FineTuneListener.Step event = new FineTuneListener.Step(start, step, samples, c.step(), rate,
                                loss, stepManager);
                        fire(l -> l.onStep(event));
                    });
            divergence.endOfPass();
            double trainSeconds = (System.nanoTime() - began) / 1e9;
            EpochMetrics m;
            boolean improved;
            // with an average, validation measures it and the best checkpoint keeps it; the listeners
            // then see the training weights again
            try (WeightAverage.Swap swapped = average != null ? average.swapIn() : null) {
                EpochTotals v = loop.evaluate(validation, checkLabels, "validation after " + start.label());
                if (checkLabels) {
                    state.checkClassCoverage(t.labelCounts(), v.confusion());
                }
                checkLabels = false;
                double seconds = (System.nanoTime() - began) / 1e9;
                ConfusionMatrix cm = new ConfusionMatrix(v.confusion(), state.names);
                int epochNumber = ++state.epochNumber;
                m = new EpochMetrics(
                        new EpochMetrics.Position(epochNumber, s, stage.name(), e + 1),
                        new EpochMetrics.Training(t.meanLoss(), t.accuracy(), t.lastLearningRate(), t.samples(),
                                trainSeconds),
                        new EpochMetrics.Validation(v.meanLoss(), cm.accuracy(), cm.macroF1()),
                        new EpochMetrics.Cost(seconds, plan.trainableValues(), t.hostReads() + divergence.reads()));
                improved = state.record(m, cm);
            }
            EpochMetrics metrics = m;
            boolean better = improved;
            fire(l -> l.onEpochEnd(new FineTuneListener.EpochEnd(metrics, better, this)));
        }
    }

    /** The in-memory checkpoint of the best epoch so far, or null. */
    Checkpoint best() {
        return state.best;
    }

    /** The full state after an epoch (weights, optimizer, history, listeners' states), for an exact resume. */
    Checkpoint resumeCheckpoint(EpochMetrics last) {
        java.util.Map<String, String> states = new java.util.HashMap<>();
        for (int i = 0; i < tuner.listeners.size(); i++) {
            String saved = tuner.listeners.get(i).saveState();
            if (saved != null) {
                states.put(listenerKey(i), saved);
            }
        }
        String stopped = stopFit != null ? "fit" : stopStage != null ? "stage" : null;
        PlanOptimizer.SavedState saved = optimizer.export(block.getParameters());
        WeightAverage.SavedState averaged = average != null ? average.export(block.getParameters()) : null;
        try {
            return state.resumeCheckpoint(last, saved, averaged, states, stopped);
        } catch (CheckpointException e) {
            throw new CheckpointFailure(e);
        }
    }

    private String listenerKey(int index) {
        return index + ":" + tuner.listeners.get(index).getClass().getName();
    }

    @Override
    public void stopStage(String reason) {
        if (stopStage == null) {
            stopStage = reason;
            LOG.info("stage {} stopped after this epoch: {}", state.stage + 1, reason);
        }
    }

    @Override
    public void stopFit(String reason) {
        if (stopFit == null) {
            stopFit = reason;
            LOG.info("fit stopped after this epoch: {}", reason);
        }
    }

    @Override
    public Block block() {
        return block;
    }

    @Override
    public Snapshot snapshot() {
        return new TrainingSnapshot(block, manager, optimizer, () -> optimizer, average);
    }

    @Override
    public double[] trialSteps(int steps, java.util.function.LongToDoubleFunction rate) {
        if (trial == null || optimizer == null) {
            throw new IllegalStateException("trialSteps runs only while a stage runs: call it from onStageStart,"
                    + " onEpochStart or onEpochEnd.");
        }
        if (steps < 1) {
            throw new IllegalArgumentException("trialSteps needs at least 1 step, got " + steps + ".");
        }
        try (Snapshot saved = snapshot()) {
            try {
                return trial.loop().trialSteps(trial.train(), plans.get(Math.max(0, state.epochInStage - planStart)),
                        optimizer, steps, rate,
                        SeededSampling.epochSeed(tuner.seed, -1000L - state.stage));
            } finally {
                saved.restore();
            }
        }
    }

    /** What trial steps of the running stage train on. */
    private record Trial(TrainingLoop loop, Dataset train) {}

    @Override
    public void setLearningRate(double rate) {
        if (plans == null) {
            throw new IllegalStateException("setLearningRate changes the running stage: call it from onStageStart,"
                    + " onEpochStart or onEpochEnd.");
        }
        running = running.withLearningRate(rate);
        // from the epoch about to start, or the next one when this epoch has trained
        int from = Math.max(state.epochInStage, planStart) + (epochTrained ? 1 : 0);
        for (int e = from; e < running.epochs(); e++) {
            plans.set(e - planStart, running.plan(runningGroups, e));
        }
        LOG.info("stage {}: learning rate set to {} from epoch {}", state.stage + 1, rate, from + 1);
    }

    private void fire(java.util.function.Consumer<FineTuneListener> event) {
        for (FineTuneListener l : listeners) {
            event.accept(l);
        }
    }

    /** The training and validation data with what their first batches told. */
    record Data(Dataset trainSet, Dataset validationSet, FitState.FirstBatch train, FitState.FirstBatch validation) {}

    /** A checkpoint that could not be written inside a listener; unwrapped at the fit's boundary. */
    static final class CheckpointFailure extends RuntimeException {
        private static final long serialVersionUID = 1L;

        CheckpointFailure(CheckpointException cause) {
            super(cause);
        }

        @Override
        public synchronized CheckpointException getCause() {
            return (CheckpointException) super.getCause();
        }
    }
}
