package dev.finetune.core.compare;

import ai.djl.Model;
import ai.djl.training.dataset.Dataset;
import dev.finetune.core.FineTuner;
import dev.finetune.core.TrainingInterruptedException;
import dev.finetune.core.checkpoint.CheckpointException;
import dev.finetune.core.result.EpochMetrics;
import dev.finetune.core.result.Evaluation;
import dev.finetune.core.result.FineTuneResult;
import dev.finetune.core.stage.Stage;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.function.UnaryOperator;

/**
 * Runs several fine-tuning strategies on fresh copies of the same pretrained model, the same data
 * split and the same seeds, and reports for each its accuracy (best validation epoch; test set
 * measured once, at the end of each run) and its cost (wall time, time per epoch, trainable values,
 * peak memory, images per second). Runs one after another in the calling thread. A run that fails
 * (its loss diverged, say) is reported as failed with its reason and the others go on; see
 * {@link #run}.
 *
 * <pre>{@code
 * ComparisonReport report = Comparison.builder()
 *         .setModels(() -> loadPretrained())
 *         .optConfigure(t -> t.replaceHead(5).optClassNames(names))
 *         .addCandidate(Candidate.of("head-only", Stage.headOnly().withEpochs(4)))
 *         .addCandidate(Candidate.of("full", Stage.full().withEpochs(4)))
 *         .optSeeds(1, 2, 3)
 *         .build()
 *         .run(train, validation, test);
 * }</pre>
 */
public final class Comparison {

    private static final Logger LOG = LoggerFactory.getLogger(Comparison.class);

    /** Gives a fresh model holding the pretrained weights; the comparison closes it after its run. */
    @FunctionalInterface
    public interface ModelSource {
        /**
         * @return a new model
         * @throws Exception if it cannot be loaded
         */
        Model newModel() throws Exception;
    }

    private final ModelSource models;
    private final UnaryOperator<FineTuner> configure;
    private final List<Candidate> candidates;
    private final long[] seeds;

    private Comparison(Builder b) {
        models = b.models;
        configure = b.configure;
        candidates = List.copyOf(b.candidates);
        seeds = b.seeds.clone();
    }

    /** @return a builder */
    public static Builder builder() {
        return new Builder();
    }

    /** @return the candidates in order */
    public List<Candidate> candidates() {
        return candidates;
    }

    /**
     * Runs every candidate with every seed, seed by seed.
     *
     * <p>A run that fails is the candidate's failure, not the comparison's: when the fit or the test
     * evaluation of one candidate with one seed throws a {@link RuntimeException} (its loss diverged,
     * a {@link dev.finetune.core.TrainingDivergedException}; libtorch ran out of memory or refused an
     * operation, a DJL {@code EngineException}; its plan does not fit the model, an
     * {@code IllegalArgumentException}), the run is recorded as a {@link FailedRun} with its reason,
     * its model is closed, and the comparison goes on with the next run. The report lists it as
     * failed and leaves it out of the means, standard deviations and the choice of the best
     * candidate.
     *
     * <p>What is not one candidate's fault still stops the whole comparison: an interruption of the
     * calling thread ({@link TrainingInterruptedException}, or any exception thrown while the
     * thread's interrupt flag is set), a checkpoint that cannot be written, a model the source cannot
     * load, an exception from {@link Builder#optConfigure}'s function, and every {@link Error} (a Java
     * {@code OutOfMemoryError} leaves the JVM in doubt).
     *
     * @param train training data
     * @param validation validation data (picks each run's best epoch)
     * @param test held-out data, evaluated once per run after training
     * @return the report, with every finished and every failed run; when every run failed, its
     *     {@link ComparisonReport#bestByValidation()} throws and its tables say so
     * @throws TrainingInterruptedException if the thread was interrupted: the comparison stops
     * @throws Exception if a model cannot be loaded or a checkpoint cannot be written
     */
    public ComparisonReport run(Dataset train, Dataset validation, Dataset test) throws Exception {
        List<StrategyRun> runs = new ArrayList<>();
        List<FailedRun> failures = new ArrayList<>();
        for (long seed : seeds) {
            for (Candidate c : candidates) {
                runOne(c, seed, train, validation, test, runs, failures);
            }
        }
        if (!failures.isEmpty()) {
            LOG.warn("{} of {} runs failed; the report lists them and leaves them out of its figures",
                    failures.size(), failures.size() + runs.size());
        }
        return new ComparisonReport(candidates, runs, failures);
    }

    private void runOne(Candidate c, long seed, Dataset train, Dataset validation, Dataset test,
            List<StrategyRun> runs, List<FailedRun> failures) throws Exception {
        try (Model model = Objects.requireNonNull(models.newModel(), "the model source gave null")) {
            FineTuner tuner = configure.apply(FineTuner.from(model)).optSeed(seed).optProgress(false);
            for (Stage s : c.stages()) {
                tuner.stage(s);
            }
            PeakMemory.reset();
            long start = System.nanoTime();
            FineTuneResult result;
            double wall;
            long resident;
            long heap;
            Evaluation t;
            try {
                result = tuner.fit(train, validation);
                wall = (System.nanoTime() - start) / 1e9;
                resident = PeakMemory.residentPeak();
                heap = PeakMemory.heapPeak();
                t = tuner.evaluate(test);
            } catch (CheckpointException e) {
                throw new IllegalStateException("Candidate '" + c.name() + "' could not write its checkpoint", e);
            } catch (TrainingInterruptedException e) {
                throw e;
            } catch (RuntimeException e) {
                if (Thread.currentThread().isInterrupted()) {
                    throw e;
                }
                FailedRun failed = FailedRun.of(c.name(), seed, e, (System.nanoTime() - start) / 1e9);
                LOG.warn("{}", failed.reason());
                LOG.debug("{} (seed {}) failed", c.name(), seed, e);
                failures.add(failed);
                return;
            }
            long trainable = 0;
            long samples = 0;
            double trainSeconds = 0;
            for (EpochMetrics m : result.epochs()) {
                trainable = Math.max(trainable, m.trainableParameters());
                samples += m.trainSamples();
                trainSeconds += m.trainSeconds();
            }
            EpochMetrics best = result.bestEpoch();
            StrategyRun run = new StrategyRun(c.name(), seed,
                    new StrategyRun.Scores(best.validationAccuracy(), best.validationMacroF1(), t.accuracy(), t.macroF1()),
                    new StrategyRun.Cost(wall, wall / result.epochs().size(), trainable, resident, heap,
                            trainSeconds > 0 ? samples / trainSeconds : 0),
                    result);
            LOG.info("{} (seed {}): best val acc {} test acc {} in {} s, {} trainable", c.name(), seed,
                    String.format("%.4f", run.bestValidationAccuracy()), String.format("%.4f", run.testAccuracy()),
                    String.format("%.1f", wall), trainable);
            runs.add(run);
        }
    }

    /** Sets the model source (required), candidates (at least one) and seeds. */
    public static final class Builder {
        private ModelSource models;
        private UnaryOperator<FineTuner> configure = t -> t;
        private final List<Candidate> candidates = new ArrayList<>();
        private long[] seeds = {42};

        private Builder() {}

        /**
         * @param source gives a fresh pretrained model for each run
         * @return this
         */
        public Builder setModels(ModelSource source) {
            models = source;
            return this;
        }

        /**
         * @param configuration applied to every run's fine-tuner before its stages are added (head
         *     replacement, class names, groups, loss...); the comparison sets the seed and the stages
         * @return this
         */
        public Builder optConfigure(UnaryOperator<FineTuner> configuration) {
            configure = Objects.requireNonNull(configuration);
            return this;
        }

        /**
         * @param candidate a strategy to compare
         * @return this
         */
        public Builder addCandidate(Candidate candidate) {
            candidates.add(Objects.requireNonNull(candidate));
            return this;
        }

        /**
         * @param randomSeeds the seeds every candidate runs with (default 42); small data is noisy,
         *     so use several
         * @return this
         */
        public Builder optSeeds(long... randomSeeds) {
            if (randomSeeds.length == 0) {
                throw new IllegalArgumentException("optSeeds needs at least one seed.");
            }
            seeds = randomSeeds.clone();
            return this;
        }

        /** @return the comparison */
        public Comparison build() {
            Objects.requireNonNull(models, "setModels: a source of fresh pretrained models");
            if (candidates.isEmpty()) {
                throw new IllegalStateException("Add at least one candidate to compare.");
            }
            Set<String> names = new LinkedHashSet<>();
            for (Candidate c : candidates) {
                if (!names.add(c.name())) {
                    throw new IllegalArgumentException("Two candidates are named '" + c.name() + "'.");
                }
            }
            return new Comparison(this);
        }
    }
}
