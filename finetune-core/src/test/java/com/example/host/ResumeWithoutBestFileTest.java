package com.example.host;

import ai.djl.Model;
import ai.djl.ndarray.NDManager;
import dev.finetune.core.FineTuner;
import dev.finetune.core.TrainingInterruptedException;
import dev.finetune.core.checkpoint.Checkpoint;
import dev.finetune.core.checkpoint.CheckpointException;
import dev.finetune.core.fixtures.FashionMnist;
import dev.finetune.core.fixtures.InterruptingDataset;
import dev.finetune.core.fixtures.SourceModel;
import dev.finetune.core.result.FineTuneResult;
import dev.finetune.core.stage.Stage;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

/**
 * Issue 14, point 9: {@code optResumeFrom(last.ckpt)} without {@code optCheckpoint} threw
 * {@code NullPointerException: ... "path" is null}. Now the resume goes on when the last epoch was
 * the best (its weights are the ones restored), and otherwise says which file to set.
 */
class ResumeWithoutBestFileTest {

    @TempDir
    Path dir;

    private FineTuner plan(Model model) {
        return FineTuner.from(model).replaceHead(SourceModel.TARGET.length).optProgress(false).optSeed(7)
                .optClassNames(FashionMnist.names(SourceModel.TARGET))
                .stage(Stage.headOnly().withEpochs(2).withLearningRate(1e-2))
                .stage(Stage.partial(1).withEpochs(2));
    }

    @Test
    void resumingFromTheLastCheckpointWithoutTheBestFileContinuesOrSaysWhichFileToSet() throws Exception {
        Path best = dir.resolve("best.ckpt");
        Path last = dir.resolve("last.ckpt");
        try (Model model = SourceModel.pretrained(); NDManager data = NDManager.newBaseManager()) {
            var sets = FashionMnist.trainVal(data, SourceModel.TARGET, 20, 20, 20, 41);
            var train = new InterruptingDataset(sets.train(), 20, Thread.currentThread(), 250);
            TrainingInterruptedException stopped = catchThrowableOfType(
                    () -> plan(model).optCheckpoint(best).optLastCheckpoint(last).fit(train, sets.validation()),
                    TrainingInterruptedException.class);
            assertThat(stopped).isNotNull();
        }
        assertThat(Thread.interrupted()).isTrue();
        int lastEpoch = Checkpoint.load(last).metadata().epoch();
        int bestEpoch = Checkpoint.load(best).metadata().epoch();
        try (Model model = SourceModel.pretrained(); NDManager data = NDManager.newBaseManager()) {
            var sets = FashionMnist.trainVal(data, SourceModel.TARGET, 20, 20, 20, 41);
            Throwable thrown = catchThrowable(() -> {
                FineTuneResult r = plan(model).optResumeFrom(last).fit(sets.train(), sets.validation());
                assertThat(r.epochs()).hasSize(4);
            });
            if (bestEpoch == lastEpoch) {
                assertThat(thrown).as("the best weights are the restored ones").isNull();
            } else {
                assertThat(thrown).isInstanceOf(CheckpointException.class)
                        .hasMessageContaining("names epoch " + bestEpoch).hasMessageContaining("optCheckpoint");
            }
        }
    }
}
