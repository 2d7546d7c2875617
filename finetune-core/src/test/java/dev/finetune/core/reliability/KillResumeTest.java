package dev.finetune.core.reliability;

import dev.finetune.core.checkpoint.Checkpoint;
import dev.finetune.core.fixtures.ResumableFit;
import dev.finetune.core.fixtures.SourceModel;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A fine-tune in a child JVM is killed (SIGKILL) at random points, during steps and during
 * checkpoint writes (slowed down by the fault-injection delay,
 * {@code CheckpointFaults.delayWrites} in the child), and resumed from what is on disk each
 * time; it must end with the same weights and metrics, bit for bit, as a run that was never stopped.
 */
class KillResumeTest {

    private static Process start(Path work, Path log, long writeDelayMillis) throws Exception {
        String java = ProcessHandle.current().info().command().orElse("java");
        return new ProcessBuilder(List.of(java, "-Xmx1g", "-Dai.djl.offline=true", "-Dai.djl.pytorch.num_threads=1",
                "-cp", System.getProperty("java.class.path"), ResumableFit.class.getName(), work.toString(),
                Long.toString(writeDelayMillis)))
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
    }

    private static boolean waitFor(Path log, String text, long millis) throws Exception {
        long end = System.currentTimeMillis() + millis;
        while (System.currentTimeMillis() < end) {
            if (Files.exists(log) && Files.readString(log, StandardCharsets.UTF_8).contains(text)) {
                return true;
            }
            Thread.sleep(20);
        }
        return false;
    }

    private static List<Path> temporaryFiles(Path work) throws Exception {
        if (!Files.isDirectory(work)) {
            return List.of();
        }
        try (Stream<Path> s = Files.list(work)) {
            return s.filter(p -> p.getFileName().toString().endsWith(".tmp")).toList();
        }
    }

    @Test
    void killedRunsResumeToTheSameWeightsAndMetricsAsAnUninterruptedRun(@TempDir Path tmp) throws Exception {
        SourceModel.pretrained().close(); // the children read the cached source weights

        Path reference = tmp.resolve("reference");
        Process p = start(reference, tmp.resolve("reference.log"), 0);
        assertThat(p.waitFor(300, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as(Files.readString(tmp.resolve("reference.log"))).isZero();
        String expected = Files.readString(reference.resolve("final.txt"));

        Path work = tmp.resolve("killed");
        Random random = new Random(2026);
        int kills = 0;
        int duringWrite = 0;
        int checkpointsLoaded = 0;
        List<String> logs = new ArrayList<>();
        for (int attempt = 0; attempt < 40 && !Files.exists(work.resolve("final.txt")); attempt++) {
            Path log = tmp.resolve("run-" + attempt + ".log");
            Process child = start(work, log, 150);
            if (kills < 8) {
                assertThat(waitFor(log, "STARTED", 120_000)).as("child started").isTrue();
                Thread.sleep(100 + random.nextInt(700));
                if (child.isAlive()) {
                    child.destroyForcibly(); // SIGKILL
                    child.waitFor(60, TimeUnit.SECONDS);
                    kills++;
                    List<Path> left = temporaryFiles(work);
                    if (!left.isEmpty()) {
                        duringWrite++; // killed inside a write: a half-written temporary file, never the checkpoint
                        assertThat(left).allSatisfy(t -> assertThat(t.getFileName().toString()).contains(".ckpt."));
                    }
                    for (String name : new String[] {"best.ckpt", "last.ckpt"}) {
                        if (Files.exists(work.resolve(name))) {
                            Checkpoint.load(work.resolve(name)); // every checkpoint left on disk loads
                            checkpointsLoaded++;
                        }
                    }
                    continue;
                }
            }
            assertThat(child.waitFor(300, TimeUnit.SECONDS)).isTrue();
            logs.add(Files.readString(log));
            assertThat(child.exitValue()).as(Files.readString(log)).isZero();
        }
        assertThat(work.resolve("final.txt")).as(String.join("\n", logs)).exists();
        assertThat(temporaryFiles(work)).as("stale temporary files are removed by the next write").isEmpty();
        assertThat(Files.readString(work.resolve("final.txt"))).isEqualTo(expected);
        assertThat(kills).isGreaterThanOrEqualTo(6);
        System.out.printf("RELIABILITY kill-resume: %d kills survived (%d during a checkpoint write), %d checkpoints"
                + " on disk loaded after kills, results lost 0 (final weights and all 9 epochs' metrics bit-identical)%n",
                kills, duringWrite, checkpointsLoaded);
    }
}
