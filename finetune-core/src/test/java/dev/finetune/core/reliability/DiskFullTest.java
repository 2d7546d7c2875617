package dev.finetune.core.reliability;

import ai.djl.Model;
import ai.djl.ndarray.NDManager;
import dev.finetune.core.FineTuner;
import dev.finetune.core.checkpoint.Checkpoint;
import dev.finetune.core.checkpoint.CheckpointException;
import dev.finetune.core.checkpoint.CheckpointFaults;
import dev.finetune.core.fixtures.FashionMnist;
import dev.finetune.core.fixtures.SourceModel;
import dev.finetune.core.stage.Stage;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

/**
 * The disk fills up while a fine-tune writes its checkpoint: a real 400 KB tmpfs where mounting is
 * allowed (it holds one checkpoint but not a second beside it), else a write that fails as a full
 * disk does. The previous checkpoint stays intact and loadable, and the error says what happened.
 */
class DiskFullTest {

    private static boolean mount(Path dir, String size) {
        try {
            Process p = new ProcessBuilder("mount", "-t", "tmpfs", "-o", "size=" + size, "tmpfs", dir.toString())
                    .redirectErrorStream(true).start();
            return p.waitFor(20, TimeUnit.SECONDS) && p.exitValue() == 0;
        } catch (Exception e) {
            return false;
        }
    }

    private static void unmount(Path dir) throws Exception {
        new ProcessBuilder("umount", dir.toString()).redirectErrorStream(true).start().waitFor(20, TimeUnit.SECONDS);
    }

    @Test
    void aFullDiskStopsTheRunWithAClearErrorAndKeepsThePreviousCheckpoint(@TempDir Path tmp) throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("small"));
        boolean real = mount(dir, "400k");
        String previous = null;
        if (!real) {
            CheckpointFaults.failFromWrite(2);
        }
        try (Model model = SourceModel.pretrained(); NDManager data = NDManager.newBaseManager()) {
            var sets = FashionMnist.trainVal(data, SourceModel.TARGET, 20, 10, 20, 41);
            Path file = dir.resolve("best.ckpt");
            // validation loss improves every epoch here, so every epoch writes a checkpoint
            CheckpointException e = catchThrowableOfType(() -> FineTuner.from(model)
                    .replaceHead(SourceModel.TARGET.length).optProgress(false)
                    .optCheckpointMetric(dev.finetune.core.result.CheckpointMetric.LOSS).optCheckpoint(file)
                    .stage(Stage.headOnly().withEpochs(4).withLearningRate(1e-2))
                    .fit(sets.train(), sets.validation()), CheckpointException.class);
            assertThat(e).as("the second write does not fit").isNotNull();
            assertThat(e.getMessage()).contains("Could not write checkpoint").contains("best.ckpt")
                    .contains("No space left on device").contains("previous checkpoint, if any, is unchanged");
            Checkpoint kept = Checkpoint.load(file);
            assertThat(kept.metadata().epoch()).isEqualTo(1);
            try (Stream<Path> files = Files.list(dir)) {
                assertThat(files.map(p -> p.getFileName().toString())).containsExactly("best.ckpt");
            }
            previous = "epoch " + kept.metadata().epoch();
        } finally {
            if (real) {
                unmount(dir);
            } else {
                CheckpointFaults.reset();
            }
        }
        System.out.printf("RELIABILITY disk-full: %s, write 2 failed with ENOSPC, previous checkpoint (%s) intact,"
                + " no temporary file left%n", real ? "real 400 KB tmpfs" : "injected fault (mount not permitted)",
                previous);
    }
}
