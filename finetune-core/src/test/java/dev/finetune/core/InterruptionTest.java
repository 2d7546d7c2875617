package dev.finetune.core;

import ai.djl.Model;
import ai.djl.ndarray.NDManager;
import dev.finetune.core.checkpoint.Checkpoint;
import dev.finetune.core.fixtures.FashionMnist;
import dev.finetune.core.fixtures.InterruptingDataset;
import dev.finetune.core.fixtures.SourceModel;
import dev.finetune.core.fixtures.Weights;
import dev.finetune.core.result.CheckpointMetric;
import dev.finetune.core.result.FineTuneResult;
import dev.finetune.core.stage.Stage;
import dev.finetune.core.internal.DataLoaderPool;
import dev.finetune.core.TrainingInterruptedException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

/** Thread.interrupt() on a fitting thread: where it stops, what it keeps, what it releases. */
class InterruptionTest {

    @TempDir
    Path dir;

    @AfterEach
    void clearInterrupt() {
        Thread.interrupted(); // never leak the flag into other tests on this thread
    }

    private static FineTuner plan(Model model, Path checkpoint) {
        return FineTuner.from(model).replaceHead(SourceModel.TARGET.length).optProgress(false)
                .optClassNames(FashionMnist.names(SourceModel.TARGET))
                .optCheckpoint(checkpoint)
                .optCheckpointMetric(CheckpointMetric.ACCURACY)
                .stage(Stage.headOnly().withEpochs(2).withLearningRate(1e-2))
                .stage(Stage.partial(1).withEpochs(2));
    }

    @Test
    void interruptStopsAtAStepBoundaryKeepingTheBestCheckpoint() throws Exception {
        Path file = dir.resolve("best.ckpt");
        TrainingInterruptedException stopped;
        Map<String, float[]> weightsAfter;
        try (Model model = SourceModel.pretrained(); NDManager data = NDManager.newBaseManager()) {
            var sets = FashionMnist.trainVal(data, SourceModel.TARGET, 20, 20, 20, 41);
            // 100 training samples in 5 steps of 20. Reads: the first-batch peek (20), two epochs of
            // stage 1 (200), then read 250 falls in step 2 of stage 2's first epoch (reads 241-260)
            var train = new InterruptingDataset(sets.train(), 20, Thread.currentThread(), 250);
            stopped = catchThrowableOfType(() -> plan(model, file).fit(train, sets.validation()),
                    TrainingInterruptedException.class);
            assertThat(Thread.currentThread().isInterrupted()).as("interrupt flag restored").isTrue();
            weightsAfter = Weights.snapshot(model.getBlock());
        }
        assertThat(stopped).as("fit threw TrainingInterruptedException").isNotNull();
        // the step that was running finished; it stopped before the next one
        assertThat(stopped.stage()).isEqualTo(2);
        assertThat(stopped.epoch()).isEqualTo(1);
        assertThat(stopped.phase()).isEqualTo("training");
        assertThat(stopped.step()).isEqualTo(2);
        assertThat(stopped.getMessage()).contains("stage 2/2", "epoch 1/2", "training step 3", "optResumeFrom");

        FineTuneResult partial = stopped.partialResult();
        assertThat(partial).isNotNull();
        assertThat(partial.epochs()).hasSize(2);
        assertThat(partial.epochs()).allMatch(m -> m.stage() == 0);
        assertThat(partial.checkpoint()).contains(file);

        Checkpoint.Metadata meta = Checkpoint.load(file).metadata();
        assertThat(meta.epoch()).isEqualTo(partial.bestEpoch().epoch());
        assertThat(meta.metricValue()).isEqualTo(partial.bestEpoch().validationAccuracy());

        // optRestoreBest (default): the model holds the checkpoint's weights, not the half-trained ones
        assertThat(Thread.interrupted()).isTrue(); // clear before training again on this thread
        try (Model fresh = SourceModel.pretrained(); NDManager data = NDManager.newBaseManager()) {
            var sets = FashionMnist.trainVal(data, SourceModel.TARGET, 20, 20, 20, 41);
            FineTuner tuner = plan(fresh, dir.resolve("second.ckpt"));
            ai.djl.nn.Block block = tuner.block();
            try (NDManager m = NDManager.newBaseManager()) {
                var batch = sets.train().getData(m).iterator().next();
                block.initialize(fresh.getNDManager(), ai.djl.ndarray.types.DataType.FLOAT32,
                        batch.getData().head().getShape());
                batch.close();
            }
            Checkpoint.load(file).restoreInto(block, fresh.getNDManager());
            Map<String, float[]> restored = Weights.snapshot(fresh.getBlock());
            for (String name : restored.keySet()) {
                assertThat(weightsAfter.get(name)).as(name).containsExactly(restored.get(name));
            }

            // a second fit on a new model in the same thread trains normally
            FineTuneResult again = tuner.fit(sets.train(), sets.validation());
            assertThat(again.epochs()).hasSize(4);
        }
    }

    @Test
    void interruptBeforeTheFirstEpochEndsGivesNoPartialResultAndStopsTheLoaderThreads() throws Exception {
        try (Model model = SourceModel.pretrained(); NDManager data = NDManager.newBaseManager()) {
            var sets = FashionMnist.trainVal(data, SourceModel.TARGET, 20, 20, 20, 41);
            // read 30 is in the first epoch's first step (the peek reads 20)
            var train = new InterruptingDataset(sets.train(), 20, Thread.currentThread(), 30);
            TrainingInterruptedException stopped = catchThrowableOfType(
                    () -> plan(model, dir.resolve("none.ckpt")).optDataLoaderThreads(2)
                            .fit(train, sets.validation()),
                    TrainingInterruptedException.class);
            assertThat(Thread.interrupted()).as("interrupt flag restored").isTrue();
            assertThat(stopped).isNotNull();
            assertThat(stopped.stage()).isEqualTo(1);
            assertThat(stopped.epoch()).isEqualTo(1);
            assertThat(stopped.partialResult()).isNull();
            assertThat(stopped.getMessage()).contains("No epoch completed");
            assertThat(dir.resolve("none.ckpt")).doesNotExist();
        }
        assertThat(loaderThreads()).as("data loader threads after an interrupted fit").isZero();
    }

    static long loaderThreads() {
        return Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.getName().startsWith(DataLoaderPool.THREAD_NAME_PREFIX) && t.isAlive())
                .count();
    }
}
