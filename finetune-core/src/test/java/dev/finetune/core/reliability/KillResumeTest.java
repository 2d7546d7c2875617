package dev.finetune.core.reliability;

import dev.finetune.core.checkpoint.Checkpoint;
import dev.finetune.core.checkpoint.CheckpointFaults;
import dev.finetune.core.fixtures.ResumableFit;
import dev.finetune.core.fixtures.SourceModel;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A fine-tune in a child JVM is killed (SIGKILL) up to 8 times and resumed from what is on disk each
 * time; it must end with the same weights and metrics, bit for bit, as a run that was never stopped.
 * The first 4 kills land inside a write of {@code last.ckpt} by construction: the child holds its
 * first or (alternately) second write of that file after the bytes reach the temporary file, says so
 * ({@code CheckpointFaults.holdWriteOf}), and is killed there; after each, the half-written temporary
 * file is on disk and {@code last.ckpt} is byte-identical to what it was before the kill, and the
 * runs held at their second write leave 2 epochs done. The next kills come at random times, during
 * steps or checkpoint writes (writes slowed down by the fault-injection delay,
 * {@code CheckpointFaults.delayWrites} in the child), until the run completes or 8 kills are done.
 */
class KillResumeTest {

    private static Process start(Path work, Path log, long writeDelayMillis, int holdLast) throws Exception {
        String java = ProcessHandle.current().info().command().orElse("java");
        return new ProcessBuilder(List.of(java, "-Xmx1g", "-Dai.djl.offline=true", "-Dai.djl.pytorch.num_threads=1",
                "-cp", System.getProperty("java.class.path"), ResumableFit.class.getName(), work.toString(),
                Long.toString(writeDelayMillis), holdLast > 0 ? "hold-last-" + holdLast : "no-hold"))
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
    }

    /** Waits until the child's log contains {@code text}; false after {@code millis} or once the child has ended without it. */
    private static boolean waitFor(Process child, Path log, String text, long millis) throws Exception {
        long end = System.currentTimeMillis() + millis;
        while (System.currentTimeMillis() < end) {
            boolean alive = child.isAlive();
            if (Files.exists(log) && Files.readString(log, StandardCharsets.UTF_8).contains(text)) {
                return true;
            }
            if (!alive) {
                return false;
            }
            Thread.sleep(20);
        }
        return false;
    }

    /** @return the SHA-256 of a file's bytes, or "absent" */
    private static String digest(Path file) throws Exception {
        return Files.exists(file)
                ? HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file)))
                : "absent";
    }

    /** @return the epoch (counted over all stages) that {@code file} was written after; 0 when absent */
    private static int epochOf(Path file) throws Exception {
        return Files.exists(file) ? Checkpoint.load(file).metadata().epoch() : 0;
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
        SourceModel.pretrained().close(); // the committed source model loads (the children read it too)

        Path reference = tmp.resolve("reference");
        Process p = start(reference, tmp.resolve("reference.log"), 0, 0);
        assertThat(p.waitFor(300, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as(Files.readString(tmp.resolve("reference.log"))).isZero();
        String expected = Files.readString(reference.resolve("final.txt"));

        Path work = tmp.resolve("killed");
        Path last = work.resolve("last.ckpt");
        Random random = new Random(2026);
        int kills = 0;
        int heldInWrite = 0; // killed while the child held a write of last.ckpt
        int randomInWrite = 0; // random kills that happened to land inside a write
        int checkpointsLoaded = 0;
        List<String> logs = new ArrayList<>();
        boolean finalRunResumed = false;
        for (int attempt = 0; attempt < 40 && !Files.exists(work.resolve("final.txt")); attempt++) {
            Path log = tmp.resolve("run-" + attempt + ".log");
            // kills 1-4 inside the child's 1st, 2nd, 1st, 2nd write of last.ckpt; then at random times
            int hold = kills < 4 ? 1 + kills % 2 : 0;
            String lastBefore = digest(last);
            int epochBefore = epochOf(last);
            Process child = start(work, log, 150, hold);
            if (kills < 8) {
                assertThat(waitFor(child, log, "STARTED", 120_000)).as("child started").isTrue();
                if (hold > 0) {
                    assertThat(waitFor(child, log, CheckpointFaults.HELD, 300_000))
                            .as("the child holds a write of last.ckpt:%n%s", Files.readString(log)).isTrue();
                } else {
                    Thread.sleep(100 + random.nextInt(700));
                }
                if (child.isAlive()) {
                    child.destroyForcibly(); // SIGKILL
                    assertThat(child.waitFor(60, TimeUnit.SECONDS)).isTrue();
                    kills++;
                    List<Path> left = temporaryFiles(work);
                    // killed inside a write: a half-written temporary file, never the checkpoint
                    assertThat(left).allSatisfy(t -> assertThat(t.getFileName().toString()).contains(".ckpt."));
                    if (hold > 0) {
                        heldInWrite++;
                        assertThat(CheckpointFaults.temporaries(work, "last.ckpt"))
                                .as("the held write's temporary file").isNotEmpty();
                        if (hold == 1) {
                            assertThat(digest(last)).as("last.ckpt untouched by the killed write").isEqualTo(lastBefore);
                        } else {
                            assertThat(epochOf(last)).as("last.ckpt holds the run's first write, not the killed one")
                                    .isEqualTo(epochBefore + 1);
                        }
                    } else if (!left.isEmpty()) {
                        randomInWrite++;
                    }
                    for (String name : new String[] {"best.ckpt", "last.ckpt"}) {
                        if (Files.exists(work.resolve(name))) {
                            Checkpoint.load(work.resolve(name)); // every checkpoint left on disk loads
                            checkpointsLoaded++;
                        }
                    }
                    continue;
                }
                assertThat(hold).as("a child holding a write cannot end by itself").isZero();
            }
            finalRunResumed = Files.exists(last);
            assertThat(child.waitFor(300, TimeUnit.SECONDS)).isTrue();
            logs.add(Files.readString(log));
            assertThat(child.exitValue()).as(Files.readString(log)).isZero();
        }
        assertThat(work.resolve("final.txt")).as(String.join("\n", logs)).exists();
        assertThat(temporaryFiles(work)).as("stale temporary files are removed by the next write").isEmpty();
        assertThat(Files.readString(work.resolve("final.txt"))).isEqualTo(expected);
        assertThat(heldInWrite).as("kills inside a checkpoint write").isEqualTo(4);
        assertThat(kills).isGreaterThanOrEqualTo(6);
        assertThat(finalRunResumed).as("the uninterrupted last run resumed from last.ckpt").isTrue();
        System.out.printf("RELIABILITY kill-resume: %d kills survived (%d inside a write of last.ckpt by construction,"
                + " %d of the %d at random times also inside a write), %d checkpoints on disk loaded after kills,"
                + " results lost 0 (final weights and all 9 epochs' metrics bit-identical)%n",
                kills, heldInWrite, randomInWrite, kills - heldInWrite, checkpointsLoaded);
    }
}
