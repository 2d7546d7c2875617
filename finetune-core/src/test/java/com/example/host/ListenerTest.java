package com.example.host;

import ai.djl.Model;
import ai.djl.ndarray.NDManager;
import dev.finetune.core.FineTuneListener;
import dev.finetune.core.FineTuner;
import dev.finetune.core.FitControl;
import dev.finetune.core.TrainingInterruptedException;
import dev.finetune.core.fixtures.FashionMnist;
import dev.finetune.core.fixtures.InterruptingDataset;
import dev.finetune.core.fixtures.SourceModel;
import dev.finetune.core.fixtures.Weights;
import dev.finetune.core.result.EpochMetrics;
import dev.finetune.core.result.FineTuneResult;
import dev.finetune.core.stage.Stage;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

/** A host application's listener, outside the library's packages: what it is told, in which order, across a resume. */
class ListenerTest {

    @TempDir
    Path dir;

    @AfterEach
    void clearInterrupt() {
        Thread.interrupted();
    }

    /** Records every event as a line, and the epochs' metrics; keeps the epochs as its state. */
    static final class Recorder implements FineTuneListener {
        final List<String> events = new ArrayList<>();
        final List<EpochMetrics> epochs = new ArrayList<>();
        List<String> restoredEpochs = List.of();
        long steps;

        @Override
        public void onFitStart(FitStart start) {
            events.add("fit start, " + start.history().size() + " epochs done");
        }

        @Override
        public void onStageStart(StageStart stage) {
            events.add("stage " + (stage.stage() + 1) + "/" + stage.stages() + " start at epoch " + (stage.firstEpoch() + 1));
        }

        @Override
        public void onEpochStart(EpochStart epoch) {
            events.add("epoch " + epoch.epoch() + " start");
        }

        @Override
        public void onStep(Step step) {
            steps++;
        }

        @Override
        public void onEpochEnd(EpochEnd end) {
            events.add("epoch " + end.metrics().epoch() + " end");
            epochs.add(end.metrics());
        }

        @Override
        public void onStageEnd(StageEnd end) {
            events.add("stage " + (end.stage() + 1) + " end after " + end.epochsRun());
        }

        @Override
        public void onFitEnd(FineTuneResult result) {
            events.add("fit end");
        }

        @Override
        public void onFitFailure(Throwable failure) {
            events.add("fit failed: " + failure.getClass().getSimpleName());
        }

        @Override
        public String saveState() {
            return epochs.stream().map(m -> m.epoch() + "=" + m.validationAccuracy()).collect(Collectors.joining(","));
        }

        @Override
        public void restoreState(String state) {
            restoredEpochs = List.of(state.split(","));
        }

        List<String> epochLines() {
            List<String> all = new ArrayList<>(restoredEpochs);
            epochs.forEach(m -> all.add(m.epoch() + "=" + m.validationAccuracy()));
            return all;
        }
    }

    private FineTuner plan(Model model, String name) {
        return FineTuner.from(model).replaceHead(SourceModel.TARGET.length).optProgress(false).optSeed(7)
                .optClassNames(FashionMnist.names(SourceModel.TARGET))
                .optCheckpoint(dir.resolve(name + "-best.ckpt"))
                .optLastCheckpoint(dir.resolve(name + "-last.ckpt"))
                .stage(Stage.headOnly().withEpochs(2).withLearningRate(1e-2))
                .stage(Stage.partial(1).withEpochs(2));
    }

    @Test
    void aHostListenerReceivesEveryEventInOrderAndEveryEpochAcrossAResume() throws Exception {
        Recorder whole = new Recorder();
        FineTuneResult reference;
        try (Model model = SourceModel.pretrained(); NDManager data = NDManager.newBaseManager()) {
            var sets = FashionMnist.trainVal(data, SourceModel.TARGET, 20, 20, 20, 41);
            reference = plan(model, "whole").addListener(whole).fit(sets.train(), sets.validation());
        }
        assertThat(whole.events).containsExactly(
                "fit start, 0 epochs done",
                "stage 1/2 start at epoch 1", "epoch 1 start", "epoch 1 end", "epoch 2 start", "epoch 2 end",
                "stage 1 end after 2",
                "stage 2/2 start at epoch 1", "epoch 3 start", "epoch 3 end", "epoch 4 start", "epoch 4 end",
                "stage 2 end after 2",
                "fit end");
        assertThat(whole.epochs).containsExactlyElementsOf(reference.epochs());
        assertThat(whole.steps).as("100 samples in batches of 20, 4 epochs").isEqualTo(20);

        // the same plan interrupted in stage 2, then resumed by a new fine-tuner with a new listener
        Recorder first = new Recorder();
        try (Model model = SourceModel.pretrained(); NDManager data = NDManager.newBaseManager()) {
            var sets = FashionMnist.trainVal(data, SourceModel.TARGET, 20, 20, 20, 41);
            var train = new InterruptingDataset(sets.train(), 20, Thread.currentThread(), 250);
            TrainingInterruptedException stopped = catchThrowableOfType(
                    () -> plan(model, "cut").addListener(first).fit(train, sets.validation()),
                    TrainingInterruptedException.class);
            assertThat(stopped).isNotNull();
            // issue 14, point 1: with a last checkpoint, the message advises the exact resume, not best.ckpt
            assertThat(stopped.getMessage()).contains("optResumeFrom(cut-last.ckpt)")
                    .doesNotContain("optResumeFrom(cut-best.ckpt)");
        }
        assertThat(Thread.interrupted()).isTrue();
        assertThat(first.events).endsWith("epoch 3 start", "fit failed: TrainingInterruptedException");
        Recorder resumed = new Recorder();
        FineTuneResult result;
        try (Model model = SourceModel.pretrained(); NDManager data = NDManager.newBaseManager()) {
            var sets = FashionMnist.trainVal(data, SourceModel.TARGET, 20, 20, 20, 41);
            result = plan(model, "cut").optResumeFrom(dir.resolve("cut-last.ckpt")).addListener(resumed)
                    .fit(sets.train(), sets.validation());
        }
        assertThat(resumed.events).startsWith("fit start, 2 epochs done", "stage 2/2 start at epoch 1", "epoch 3 start");
        assertThat(resumed.restoredEpochs).as("its state, saved with the last checkpoint").hasSize(2);
        assertThat(resumed.epochLines()).as("every epoch, in order, with the uninterrupted run's values")
                .containsExactlyElementsOf(whole.epochLines());
        assertThat(result.epochs()).extracting(EpochMetrics::validationAccuracy)
                .containsExactlyElementsOf(reference.epochs().stream().map(EpochMetrics::validationAccuracy).toList());
    }

    @Test
    void aListenerStopsAStageAndPutsBackASnapshot() throws Exception {
        List<String> reasons = new ArrayList<>();
        Map<String, float[]>[] atStageTwo = new Map[1];
        Map<String, float[]>[] afterRestore = new Map[1];
        FineTuneListener listener = new FineTuneListener() {
            FitControl.Snapshot snapshot;

            @Override
            public void onStageStart(StageStart stage) {
                if (stage.stage() == 1) {
                    atStageTwo[0] = Weights.snapshot(stage.control().block());
                    snapshot = stage.control().snapshot();
                }
            }

            @Override
            public void onEpochEnd(EpochEnd end) {
                if (end.metrics().epoch() == 1) {
                    end.control().stopStage("one epoch is enough");
                }
                if (end.metrics().stage() == 1 && snapshot != null) {
                    snapshot.restore();
                    afterRestore[0] = Weights.snapshot(end.control().block());
                    snapshot.close();
                    snapshot = null;
                }
            }

            @Override
            public void onStageEnd(StageEnd end) {
                reasons.add(end.stoppedEarly());
            }
        };
        try (Model model = SourceModel.pretrained(); NDManager data = NDManager.newBaseManager()) {
            var sets = FashionMnist.trainVal(data, SourceModel.TARGET, 20, 20, 20, 41);
            FineTuneResult result = plan(model, "stop").optRestoreBest(false).addListener(listener)
                    .fit(sets.train(), sets.validation());
            assertThat(result.epochs()).extracting(EpochMetrics::stage).containsExactly(0, 1, 1);
        }
        assertThat(reasons).containsExactly("one epoch is enough", null);
        assertThat(afterRestore[0]).isNotNull();
        for (String name : atStageTwo[0].keySet()) {
            assertThat(afterRestore[0].get(name)).as(name).containsExactly(atStageTwo[0].get(name));
        }
    }

    @Test
    void trialStepsAreRepeatableAndLeaveTheFitAsIfTheyNeverRan() throws Exception {
        FineTuneResult plain;
        try (Model model = SourceModel.pretrained(); NDManager data = NDManager.newBaseManager()) {
            var sets = FashionMnist.trainVal(data, SourceModel.TARGET, 20, 20, 20, 41);
            plain = plan(model, "plain").fit(sets.train(), sets.validation());
        }
        List<double[]> trials = new ArrayList<>();
        List<Map<String, float[]>> weights = new ArrayList<>();
        FineTuneListener finder = new FineTuneListener() {
            @Override
            public void onStageStart(StageStart stage) {
                weights.add(Weights.snapshot(stage.control().block()));
                // rates from 1e-4 up to 1e6: the last steps diverge
                trials.add(stage.control().trialSteps(12, step -> 1e-4 * Math.pow(10, step * 10.0 / 11)));
                trials.add(stage.control().trialSteps(12, step -> 1e-4 * Math.pow(10, step * 10.0 / 11)));
                weights.add(Weights.snapshot(stage.control().block()));
            }
        };
        FineTuneResult tried;
        try (Model model = SourceModel.pretrained(); NDManager data = NDManager.newBaseManager()) {
            var sets = FashionMnist.trainVal(data, SourceModel.TARGET, 20, 20, 20, 41);
            tried = plan(model, "tried").addListener(finder).fit(sets.train(), sets.validation());
        }
        assertThat(trials).hasSize(4);
        assertThat(trials.get(1)).as("the same trial twice").containsExactly(trials.get(0));
        assertThat(trials.get(0)[0]).isFinite();
        assertThat(trials.get(0)[11]).as("a rate of 1e6 diverges").satisfiesAnyOf(
                v -> assertThat(v).isNaN(), v -> assertThat(v).isInfinite(), v -> assertThat(v).isGreaterThan(100));
        for (int stage = 0; stage < 2; stage++) {
            Map<String, float[]> before = weights.get(2 * stage);
            Map<String, float[]> after = weights.get(2 * stage + 1);
            for (String name : before.keySet()) {
                assertThat(after.get(name)).as("stage %d %s", stage + 1, name).containsExactly(before.get(name));
            }
        }
        assertThat(tried.epochs()).extracting(EpochMetrics::trainLoss)
                .as("optimizer state and weights put back: the fit trains as if no trial ran")
                .containsExactlyElementsOf(plain.epochs().stream().map(EpochMetrics::trainLoss).toList());
    }
}
