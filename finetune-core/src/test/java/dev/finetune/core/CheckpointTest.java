package dev.finetune.core;

import ai.djl.Model;
import ai.djl.ndarray.NDManager;
import dev.finetune.core.checkpoint.Checkpoint;
import dev.finetune.core.checkpoint.CheckpointException;
import dev.finetune.core.fixtures.FashionMnist;
import dev.finetune.core.fixtures.SourceModel;
import dev.finetune.core.fixtures.Weights;
import dev.finetune.core.result.CheckpointMetric;
import dev.finetune.core.result.EpochMetrics;
import dev.finetune.core.result.FineTuneResult;
import dev.finetune.core.stage.Stage;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Best-validation checkpoints: contents, round trip, resume, and bad checkpoints. */
class CheckpointTest {

    @TempDir
    Path dir;

    private static FineTuner plan(Model model, Path checkpoint) {
        return FineTuner.from(model).replaceHead(SourceModel.TARGET.length).optProgress(false)
                .optClassNames(FashionMnist.names(SourceModel.TARGET))
                .optCheckpoint(checkpoint)
                .optCheckpointMetric(CheckpointMetric.MACRO_F1)
                .stage(Stage.headOnly().withEpochs(2).withLearningRate(1e-2))
                .stage(Stage.partial(1).withEpochs(2));
    }

    /** A dataset whose n-th read fails, as when a run is interrupted mid-plan. */
    private static final class Interrupting implements ai.djl.training.dataset.Dataset {
        private final ai.djl.training.dataset.Dataset inner;
        private final int failAt;
        private int reads;

        Interrupting(ai.djl.training.dataset.Dataset inner, int failAt) {
            this.inner = inner;
            this.failAt = failAt;
        }

        @Override
        public Iterable<ai.djl.training.dataset.Batch> getData(NDManager manager)
                throws java.io.IOException, ai.djl.translate.TranslateException {
            if (++reads == failAt) {
                throw new java.io.IOException("disk unplugged");
            }
            return inner.getData(manager);
        }

        @Override
        public void prepare(ai.djl.util.Progress progress) throws java.io.IOException, ai.djl.translate.TranslateException {
            inner.prepare(progress);
        }
    }

    @Test
    void bestCheckpointRoundTripsAndResumeContinuesFromIt() throws Exception {
        Path file = dir.resolve("best.ckpt");
        Map<String, float[]> best;
        FineTuneResult first;
        try (Model model = SourceModel.pretrained(); NDManager data = NDManager.newBaseManager()) {
            var sets = FashionMnist.trainVal(data, SourceModel.TARGET, 20, 20, 20, 41);
            first = plan(model, file).fit(sets.train(), sets.validation());
            best = Weights.snapshot(model.getBlock()); // the model ends with the best epoch's weights
        }
        assertThat(first.checkpoint()).contains(file);
        Checkpoint.Metadata meta = Checkpoint.load(file).metadata();
        assertThat(meta.classNames()).isEqualTo(FashionMnist.names(SourceModel.TARGET));
        assertThat(meta.epoch()).isEqualTo(first.bestEpoch().epoch());
        assertThat(meta.metric()).isEqualTo("MACRO_F1");
        assertThat(meta.metricValue()).isEqualTo(first.bestEpoch().validationMacroF1());
        assertThat(meta.stagePlan()).isEqualTo(first.stageDescriptions()).hasSize(2);
        assertThat(meta.seed()).isEqualTo(42);

        // round trip: a fresh model of the same architecture gets exactly the best weights
        try (Model fresh = SourceModel.pretrained(); NDManager data = NDManager.newBaseManager()) {
            FineTuner tuner = plan(fresh, dir.resolve("resumed.ckpt"));
            var sets = FashionMnist.trainVal(data, SourceModel.TARGET, 20, 20, 20, 41);
            Checkpoint.load(file).restoreInto(initialised(tuner, fresh, sets.train()), fresh.getNDManager());
            Map<String, float[]> restored = Weights.snapshot(fresh.getBlock());
            assertThat(restored.keySet()).isEqualTo(best.keySet());
            for (String name : best.keySet()) {
                assertThat(restored.get(name)).as(name).containsExactly(best.get(name));
            }
        }

        // resume: a run interrupted in its third epoch continues after its best checkpoint
        Path interrupted = dir.resolve("interrupted.ckpt");
        try (Model model = SourceModel.pretrained(); NDManager data = NDManager.newBaseManager()) {
            var sets = FashionMnist.trainVal(data, SourceModel.TARGET, 20, 20, 20, 41);
            // reads: the first-batch peek, then one per training epoch: the 4th is epoch 3
            assertThatThrownBy(() -> plan(model, interrupted).fit(new Interrupting(sets.train(), 4), sets.validation()))
                    .hasRootCauseMessage("disk unplugged");
        }
        Checkpoint.Metadata saved = Checkpoint.load(interrupted).metadata();
        assertThat(saved.epoch()).isBetween(1, 2);
        try (Model fresh = SourceModel.pretrained(); NDManager data = NDManager.newBaseManager()) {
            var sets = FashionMnist.trainVal(data, SourceModel.TARGET, 20, 20, 20, 41);
            FineTuneResult resumed = plan(fresh, interrupted).optResumeFrom(interrupted)
                    .fit(sets.train(), sets.validation());
            // the best checkpoint carries the history up to its epoch; the run goes on after it
            assertThat(resumed.epochs()).extracting(EpochMetrics::epoch).containsExactly(1, 2, 3, 4);
            assertThat(resumed.epochs().subList(0, saved.epoch())).isEqualTo(saved.resume().history());
            assertThat(saved.resume().partial()).isTrue();
            assertThat(resumed.epochs().get(resumed.epochs().size() - 1).stage()).isEqualTo(1);
        }
    }

    /** Initialises the replaced head (it needs the input shape) so the saved weights can load. */
    private static ai.djl.nn.Block initialised(FineTuner tuner, Model model, ai.djl.training.dataset.Dataset train)
            throws Exception {
        try (NDManager m = NDManager.newBaseManager()) {
            var batch = train.getData(m).iterator().next();
            tuner.block().initialize(model.getNDManager(), ai.djl.ndarray.types.DataType.FLOAT32,
                    batch.getData().head().getShape());
            batch.close();
        }
        return tuner.block();
    }

    @Test
    void missingCorruptAndForeignCheckpointsGiveClearErrors() throws Exception {
        assertThatThrownBy(() -> Checkpoint.load(dir.resolve("nope.ckpt")))
                .isInstanceOf(CheckpointException.class)
                .hasMessageContaining("No checkpoint at")
                .hasMessageContaining("nope.ckpt");

        Path notOne = dir.resolve("text.ckpt");
        Files.writeString(notOne, "hello, I am not a checkpoint");
        assertThatThrownBy(() -> Checkpoint.load(notOne))
                .isInstanceOf(CheckpointException.class)
                .hasMessageContaining("corrupt or not a finetune checkpoint");

        Path good = dir.resolve("good.ckpt");
        try (Model model = SourceModel.pretrained(); NDManager data = NDManager.newBaseManager()) {
            var sets = FashionMnist.trainVal(data, SourceModel.TARGET, 5, 5, 25, 42);
            FineTuner.from(model).replaceHead(SourceModel.TARGET.length).optProgress(false).optCheckpoint(good)
                    .stage(Stage.headOnly()).fit(sets.train(), sets.validation());
        }
        byte[] bytes = Files.readAllBytes(good);
        Path truncated = dir.resolve("truncated.ckpt");
        Files.write(truncated, java.util.Arrays.copyOf(bytes, bytes.length / 2));
        assertThatThrownBy(() -> Checkpoint.load(truncated))
                .isInstanceOf(CheckpointException.class)
                .hasMessageContaining("checksum mismatch");
        Path flipped = dir.resolve("flipped.ckpt");
        bytes[bytes.length / 2] ^= 0x10;
        Files.write(flipped, bytes);
        assertThatThrownBy(() -> Checkpoint.load(flipped))
                .isInstanceOf(CheckpointException.class)
                .hasMessageContaining("checksum mismatch");

        // a checkpoint of another class count is refused before any weight changes
        try (Model model = Model.newInstance("ten-classes")) {
            model.setBlock(SourceModel.architecture(10));
            model.getBlock().initialize(model.getNDManager(), ai.djl.ndarray.types.DataType.FLOAT32,
                    new ai.djl.ndarray.types.Shape(1, 1, 28, 28));
            Map<String, float[]> before = Weights.snapshot(model.getBlock());
            assertThatThrownBy(() -> Checkpoint.load(good).restoreInto(model.getBlock(), model.getNDManager()))
                    .isInstanceOf(CheckpointException.class)
                    .hasMessageContaining("another architecture or class count")
                    .hasMessageContaining("replaceHead(" + SourceModel.TARGET.length + ")");
            Map<String, float[]> after = Weights.snapshot(model.getBlock());
            for (String name : before.keySet()) {
                assertThat(after.get(name)).containsExactly(before.get(name));
            }
        }

        // resuming with another plan is refused
        try (Model model = SourceModel.pretrained(); NDManager data = NDManager.newBaseManager()) {
            var sets = FashionMnist.trainVal(data, SourceModel.TARGET, 5, 5, 25, 42);
            FineTuner other = FineTuner.from(model).replaceHead(SourceModel.TARGET.length).optProgress(false)
                    .optResumeFrom(good).stage(Stage.full().withEpochs(3));
            assertThatThrownBy(() -> other.fit(sets.train(), sets.validation()))
                    .isInstanceOf(CheckpointException.class)
                    .hasMessageContaining("another stage plan");
        }
        assertThat(List.of(dir.toFile().list())).noneMatch(n -> n.endsWith(".tmp"));
    }
}
