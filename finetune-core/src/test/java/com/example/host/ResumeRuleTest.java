package com.example.host;

import ai.djl.Model;
import ai.djl.ndarray.NDManager;
import dev.finetune.core.FineTuner;
import dev.finetune.core.checkpoint.Checkpoint;
import dev.finetune.core.checkpoint.CheckpointException;
import dev.finetune.core.fixtures.FashionMnist;
import dev.finetune.core.fixtures.SourceModel;
import dev.finetune.core.fixtures.Weights;
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

/**
 * Issue 14, points 1 and 6: what a resume may continue from. Resuming from the best checkpoint
 * kept the later, worse weights, reported a best epoch of the resumed part with an all-zero
 * confusion matrix and no checkpoint; a checkpoint of other classes resumed under the new labels.
 */
class ResumeRuleTest {

    @TempDir
    Path dir;

    private static FineTuner plan(Model model, List<String> names) {
        // validation accuracy here: 0.54 0.63 0.62 | 0.58 0.56 0.61: the best epoch is not the last
        return FineTuner.from(model).replaceHead(SourceModel.TARGET.length).optProgress(false).optSeed(1)
                .optClassNames(names).stage(Stage.headOnly().withEpochs(3).withLearningRate(0.1))
                .stage(Stage.full().withEpochs(3).withLearningRate(0.003));
    }

    @Test
    void resumingFromTheBestCheckpointKeepsItsEpochAsTheBestWithItsHistoryAndWeights() throws Exception {
        Path best = dir.resolve("best.ckpt");
        List<String> names = FashionMnist.names(SourceModel.TARGET);
        FineTuneResult first;
        try (Model model = SourceModel.pretrained(); NDManager data = NDManager.newBaseManager()) {
            var sets = FashionMnist.trainVal(data, SourceModel.TARGET, 20, 20, 20, 41);
            first = plan(model, names).optCheckpoint(best).fit(sets.train(), sets.validation());
        }
        int bestEpoch = Checkpoint.load(best).metadata().epoch();
        assertThat(bestEpoch).as("precondition: the best epoch is not the last").isLessThan(6);
        byte[] before = Files.readAllBytes(best);

        // as after an interruption in a later epoch: a new fine-tuner resumes from best.ckpt
        try (Model model = SourceModel.pretrained(); NDManager data = NDManager.newBaseManager()) {
            var sets = FashionMnist.trainVal(data, SourceModel.TARGET, 20, 20, 20, 41);
            FineTuner tuner = plan(model, names).optCheckpoint(best).optResumeFrom(best);
            FineTuneResult resumed = tuner.fit(sets.train(), sets.validation());

            // the history: the epochs up to the best one as they were, then the resumed ones
            assertThat(resumed.epochs()).extracting(EpochMetrics::epoch).containsExactly(1, 2, 3, 4, 5, 6);
            for (int i = 0; i < bestEpoch; i++) {
                assertThat(resumed.epochs().get(i)).isEqualTo(first.epochs().get(i));
            }
            // the best epoch is the best of all six, with its real confusion matrix and file
            double top = resumed.epochs().stream().mapToDouble(EpochMetrics::validationAccuracy).max().orElseThrow();
            assertThat(resumed.bestEpoch().validationAccuracy()).isEqualTo(top);
            assertThat(resumed.bestEpoch().validationAccuracy())
                    .isGreaterThanOrEqualTo(first.bestEpoch().validationAccuracy());
            assertThat(resumed.bestConfusionMatrix().total()).isEqualTo(20L * SourceModel.TARGET.length);
            assertThat(resumed.bestConfusionMatrix().accuracy()).isEqualTo(resumed.bestEpoch().validationAccuracy());
            assertThat(resumed.checkpoint()).contains(best);
            assertThat(resumed.warnings()).anySatisfy(w -> assertThat(w)
                    .contains("is a best-epoch checkpoint").contains("optLastCheckpoint"));
            // the model ends with the best epoch's weights, which are the file's
            Checkpoint file = Checkpoint.load(best);
            assertThat(file.metadata().epoch()).isEqualTo(resumed.bestEpoch().epoch());
            if (resumed.bestEpoch().epoch() == bestEpoch) {
                assertThat(Files.readAllBytes(best)).as("no better epoch: the file is untouched").isEqualTo(before);
            }
            Map<String, float[]> now = Weights.snapshot(tuner.block());
            try (Model fresh = SourceModel.pretrained()) {
                FineTuner other = plan(fresh, names);
                other.block().initialize(fresh.getNDManager(), ai.djl.ndarray.types.DataType.FLOAT32,
                        new ai.djl.ndarray.types.Shape(1, 1, 28, 28));
                file.restoreInto(other.block(), fresh.getNDManager());
                Map<String, float[]> saved = Weights.snapshot(other.block());
                for (String name : saved.keySet()) {
                    assertThat(now.get(name)).as(name).containsExactly(saved.get(name));
                }
            }
        }
    }

    @Test
    void aCheckpointOfOtherClassesIsRefusedBeforeAnyWeightChanges() throws Exception {
        Path best = dir.resolve("abc.ckpt");
        try (Model model = SourceModel.pretrained(); NDManager data = NDManager.newBaseManager()) {
            var sets = FashionMnist.trainVal(data, SourceModel.TARGET, 10, 10, 20, 41);
            FineTuner.from(model).replaceHead(SourceModel.TARGET.length).optProgress(false)
                    .optClassNames(List.of("a", "b", "c", "d", "e")).optCheckpoint(best)
                    .stage(Stage.headOnly().withEpochs(2)).fit(sets.train(), sets.validation());
        }
        try (Model model = SourceModel.pretrained(); NDManager data = NDManager.newBaseManager()) {
            var sets = FashionMnist.trainVal(data, SourceModel.TARGET, 10, 10, 20, 41);
            FineTuner tuner = FineTuner.from(model).replaceHead(SourceModel.TARGET.length).optProgress(false)
                    .optClassNames(FashionMnist.names(SourceModel.TARGET)).optResumeFrom(best)
                    .stage(Stage.headOnly().withEpochs(2));
            assertThatThrownBy(() -> tuner.fit(sets.train(), sets.validation()))
                    .isInstanceOf(CheckpointException.class)
                    .hasMessageContaining("written for the classes [a, b, c, d, e]")
                    .hasMessageContaining(FashionMnist.names(SourceModel.TARGET).toString())
                    .hasMessageContaining("optClassNames");
        }
    }

    @Test
    void weightsWithoutAHistoryAreRefusedWithTheWayToStartFromThem() throws Exception {
        Path weights = dir.resolve("weights.ckpt");
        List<String> names = FashionMnist.names(SourceModel.TARGET);
        try (Model model = SourceModel.pretrained()) {
            FineTuner tuner = plan(model, names);
            tuner.block().initialize(model.getNDManager(), ai.djl.ndarray.types.DataType.FLOAT32,
                    new ai.djl.ndarray.types.Shape(1, 1, 28, 28));
            Checkpoint.of(tuner.block(), new Checkpoint.Metadata(names, 3, 0, 3, "ACCURACY", 0.5,
                    List.of(Stage.headOnly().withEpochs(3).withLearningRate(0.1).describe(),
                            Stage.full().withEpochs(3).withLearningRate(0.003).describe()), 1,
                    Checkpoint.shapesOf(tuner.block()), "now", null)).save(weights);
        }
        try (Model model = SourceModel.pretrained(); NDManager data = NDManager.newBaseManager()) {
            var sets = FashionMnist.trainVal(data, SourceModel.TARGET, 10, 10, 20, 41);
            assertThatThrownBy(() -> plan(model, names).optResumeFrom(weights).fit(sets.train(), sets.validation()))
                    .isInstanceOf(CheckpointException.class)
                    .hasMessageContaining("no training history")
                    .hasMessageContaining("restoreInto");
        }
    }
}
