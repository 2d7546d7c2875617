package com.example.host;

import ai.djl.Model;
import ai.djl.ndarray.NDManager;
import ai.djl.training.dataset.ArrayDataset;
import dev.finetune.core.FineTuneListener;
import dev.finetune.core.FineTuner;
import dev.finetune.core.checkpoint.CheckpointException;
import dev.finetune.core.fixtures.FashionMnist;
import dev.finetune.core.fixtures.SourceModel;
import dev.finetune.core.stage.Stage;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Issue 14, points 10 and 11: what can be checked before the first step is checked there. A
 * checkpoint path that cannot be written failed only after an epoch had trained; evaluate before
 * fit surfaced a raw DJL error; a drop-last batch larger than the data said "give it at least one
 * sample".
 */
class EarlyChecksTest {

    @TempDir
    Path dir;

    /** Counts trained epochs. */
    private static final class EpochCounter implements FineTuneListener {
        final AtomicInteger epochs = new AtomicInteger();

        @Override
        public void onEpochEnd(EpochEnd event) {
            epochs.incrementAndGet();
        }
    }

    @Test
    void anUnwritableCheckpointIsRefusedBeforeAnyEpochTrains() throws Exception {
        Path notAFolder = Files.writeString(dir.resolve("plain-file"), "x");
        Path folder = Files.createDirectory(dir.resolve("a-folder"));
        for (Path bad : new Path[] {notAFolder.resolve("best.ckpt"), folder}) {
            for (boolean last : new boolean[] {false, true}) {
                try (Model model = SourceModel.pretrained(); NDManager data = NDManager.newBaseManager()) {
                    var sets = FashionMnist.trainVal(data, SourceModel.TARGET, 10, 10, 10, 3);
                    EpochCounter counter = new EpochCounter();
                    FineTuner tuner = FineTuner.from(model).replaceHead(SourceModel.TARGET.length).optProgress(false)
                            .addListener(counter).stage(Stage.headOnly().withEpochs(2));
                    if (last) {
                        tuner.optCheckpoint(dir.resolve("best.ckpt")).optLastCheckpoint(bad);
                    } else {
                        tuner.optCheckpoint(bad);
                    }
                    assertThatThrownBy(() -> tuner.fit(sets.train(), sets.validation()))
                            .isInstanceOf(CheckpointException.class)
                            .hasMessageContaining(last ? "optLastCheckpoint" : "optCheckpoint")
                            .hasMessageContaining(bad.toString());
                    assertThat(counter.epochs).as("nothing trained").hasValue(0);
                }
            }
        }
    }

    @Test
    void theSameFileForBestAndLastIsRefused() throws Exception {
        try (Model model = SourceModel.pretrained(); NDManager data = NDManager.newBaseManager()) {
            var sets = FashionMnist.trainVal(data, SourceModel.TARGET, 10, 10, 10, 3);
            Path same = dir.resolve("run.ckpt");
            FineTuner tuner = FineTuner.from(model).replaceHead(SourceModel.TARGET.length).optProgress(false)
                    .optCheckpoint(same).optLastCheckpoint(dir.resolve(".").resolve("run.ckpt"))
                    .stage(Stage.headOnly().withEpochs(1));
            assertThatThrownBy(() -> tuner.fit(sets.train(), sets.validation()))
                    .isInstanceOf(IllegalStateException.class).hasMessageContaining("the same file");
            assertThat(same).doesNotExist();
        }
    }

    @Test
    void evaluateBeforeFitSaysToFitFirst() throws Exception {
        try (Model model = SourceModel.pretrained(); NDManager data = NDManager.newBaseManager()) {
            var sets = FashionMnist.trainVal(data, SourceModel.TARGET, 10, 10, 10, 3);
            FineTuner tuner = FineTuner.from(model).replaceHead(SourceModel.TARGET.length).optProgress(false);
            assertThatThrownBy(() -> tuner.evaluate(sets.validation()))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("has no value yet")
                    .hasMessageContaining("call fit before evaluate");
        }
    }

    @Test
    void aDropLastBatchLargerThanTheDataNamesTheBatchSize() throws Exception {
        try (Model model = SourceModel.pretrained(); NDManager data = NDManager.newBaseManager()) {
            var split = FashionMnist.train();
            var picked = FashionMnist.pick(split, SourceModel.TARGET, 2, 0, 3);
            ArrayDataset full = FashionMnist.dataset(data, split, picked, SourceModel.TARGET, 10, true);
            ArrayDataset dropLast = new ArrayDataset.Builder()
                    .setData(data.zeros(new ai.djl.ndarray.types.Shape(picked.size(), 1, 28, 28)))
                    .optLabels(data.zeros(new ai.djl.ndarray.types.Shape(picked.size())))
                    .setSampling(32, true, true).build();
            FineTuner tuner = FineTuner.from(model).replaceHead(SourceModel.TARGET.length).optProgress(false)
                    .stage(Stage.headOnly().withEpochs(1));
            assertThatThrownBy(() -> tuner.fit(dropLast, full))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("has " + picked.size() + " samples but produced no batch")
                    .hasMessageContaining("batch size of at most " + picked.size());
        }
    }
}
