package com.example.host;

import ai.djl.Model;
import ai.djl.ndarray.NDManager;
import dev.finetune.core.FineTuner;
import dev.finetune.core.checkpoint.Checkpoint;
import dev.finetune.core.fixtures.FashionMnist;
import dev.finetune.core.fixtures.SourceModel;
import dev.finetune.core.result.EpochMetrics;
import dev.finetune.core.result.FineTuneResult;
import dev.finetune.core.stage.Stage;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Issue 14, point 3: a second {@code fit} of the same fine-tuner reran the whole earlier plan (with
 * any new stages appended) and its first epoch overwrote the better checkpoint. Now a later fit runs
 * only the stages added since, and the earlier best stays the best until an epoch beats it.
 */
class SecondFitTest {

    @TempDir
    Path dir;

    @Test
    void aLaterFitRunsOnlyTheNewStagesAndKeepsTheBetterCheckpoint() throws Exception {
        Path best = dir.resolve("best.ckpt");
        try (Model model = SourceModel.pretrained(); NDManager data = NDManager.newBaseManager()) {
            var sets = FashionMnist.trainVal(data, SourceModel.TARGET, 20, 20, 20, 41);
            FineTuner tuner = FineTuner.from(model).replaceHead(SourceModel.TARGET.length).optProgress(false)
                    .optSeed(1).optCheckpoint(best).stage(Stage.headOnly().withEpochs(3).withLearningRate(0.1));
            FineTuneResult first = tuner.fit(sets.train(), sets.validation());
            byte[] kept = Files.readAllBytes(best);

            // nothing new to run: refused, the checkpoint untouched
            assertThatThrownBy(() -> tuner.fit(sets.train(), sets.validation()))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("already run its plan of 1 stage(s)")
                    .hasMessageContaining("add a stage");
            assertThat(Files.readAllBytes(best)).isEqualTo(kept);

            // a destructive new stage (validation accuracy falls to chance): only it runs
            FineTuneResult second = tuner.stage(Stage.full().withEpochs(2).withLearningRate(0.1))
                    .fit(sets.train(), sets.validation());
            assertThat(second.epochs()).extracting(EpochMetrics::epoch).containsExactly(1, 2, 3, 4, 5);
            assertThat(second.epochs().subList(0, 3)).isEqualTo(first.epochs());
            assertThat(second.epochs().subList(3, 5)).extracting(EpochMetrics::stage).containsOnly(1);
            assertThat(second.epochs().get(4).validationAccuracy())
                    .as("precondition: the new stage is worse").isLessThan(first.bestEpoch().validationAccuracy());
            assertThat(second.bestEpoch()).isEqualTo(first.bestEpoch());
            assertThat(second.bestConfusionMatrix().accuracy()).isEqualTo(first.bestEpoch().validationAccuracy());
            assertThat(Files.readAllBytes(best)).as("the better checkpoint is not overwritten").isEqualTo(kept);
            assertThat(Checkpoint.load(best).metadata().epoch()).isEqualTo(first.bestEpoch().epoch());
            // and the model ends with the best epoch's weights: it measures as that epoch did
            assertThat(tuner.evaluate(sets.validation()).accuracy())
                    .isEqualTo(first.bestEpoch().validationAccuracy());
        }
    }
}
