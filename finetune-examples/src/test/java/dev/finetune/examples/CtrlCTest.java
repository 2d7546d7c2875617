package dev.finetune.examples;

import dev.finetune.core.checkpoint.Checkpoint;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** SIGINT to a running FolderFineTune in a child JVM: it stops at a step, says where, keeps its checkpoint. */
class CtrlCTest {

    @Test
    void sigintStopsTheFineTuneAtAStepAndKeepsALoadableCheckpoint(@TempDir Path tmp) throws Exception {
        Path folder = tmp.resolve("images");
        FolderFineTune.writeFashionFolder(folder, 100);
        Path export = tmp.resolve("export");
        Path checkpoint = tmp.resolve("export-best.ckpt");
        Path java = Paths.get(System.getProperty("java.home"), "bin", "java");
        ProcessBuilder pb = new ProcessBuilder(List.of(java.toString(), "-Xmx2g", "-Dai.djl.offline=true",
                "-Dai.djl.pytorch.num_threads=1", "-Dai.djl.pytorch.num_interop_threads=1",
                "-cp", System.getProperty("java.class.path"), FolderFineTune.class.getName(),
                FolderFineTune.sourceBackbone().toAbsolutePath().toString(), folder.toString(), export.toString()))
                .redirectErrorStream(true);
        pb.environment().put("DNNL_MAX_CPU_ISA", "AVX2"); // the oneDNN AVX-512 crash (README)
        Process child = pb.start();
        ByteArrayOutputStream output = new ByteArrayOutputStream();
        Thread pump = new Thread(() -> {
            try (InputStream in = child.getInputStream()) {
                byte[] buf = new byte[8192];
                for (int n; (n = in.read(buf)) > 0; ) {
                    synchronized (output) {
                        output.write(buf, 0, n);
                    }
                }
            } catch (java.io.IOException ignored) {
                // the child ended
            }
        });
        pump.start();
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(240);
            // started training and completed one epoch (the checkpoint is written at the end of an epoch)
            while (!(text(output).contains("Ctrl-C stops at the next step") && Files.exists(checkpoint))) {
                assertThat(child.isAlive()).as("child still running; output:%n%s", text(output)).isTrue();
                assertThat(System.nanoTime()).as("training started within 240 s; output:%n%s", text(output))
                        .isLessThan(deadline);
                Thread.sleep(100);
            }
            long sent = System.nanoTime();
            Process kill = new ProcessBuilder("kill", "-INT", Long.toString(child.pid())).inheritIO().start();
            assertThat(kill.waitFor()).isZero();
            boolean exited = child.waitFor(60, TimeUnit.SECONDS);
            double seconds = (System.nanoTime() - sent) / 1e9;
            pump.join(5_000);
            String out = text(output);
            assertThat(exited).as("exited within 60 s of SIGINT; output:%n%s", out).isTrue();
            System.out.printf("child exited %d, %.1f s after SIGINT%n%s%n", child.exitValue(), seconds, out);
            assertThat(child.exitValue()).as("the JVM's exit status for SIGINT").isEqualTo(130);
            assertThat(out).contains("Ctrl-C: stopping main at the next step boundary")
                    .containsPattern("Stopped: Training was interrupted; it stopped before stage \\d/2 '[^']+', epoch \\d/3,"
                            + " (training|validation) step \\d+")
                    .contains("Resume or use the best epoch from " + checkpoint.toAbsolutePath())
                    .doesNotContain("test accuracy"); // it did not go on to test and export
            Checkpoint.Metadata meta = Checkpoint.load(checkpoint).metadata();
            assertThat(meta.classNames()).containsExactly("Ankle_boot", "Coat", "Pullover", "Shirt", "Sneaker");
            assertThat(meta.epoch()).isBetween(1, 5);
            assertThat(tmp.toFile().list()).noneMatch(n -> n.endsWith(".tmp"));
        } finally {
            child.destroyForcibly();
        }
    }

    private static String text(ByteArrayOutputStream output) {
        synchronized (output) {
            return output.toString(StandardCharsets.UTF_8);
        }
    }
}
