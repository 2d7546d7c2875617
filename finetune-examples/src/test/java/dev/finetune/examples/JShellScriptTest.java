package dev.finetune.examples;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** The JShell script runs as shipped, on the project's class path, and ends with a test accuracy. */
class JShellScriptTest {

    @Test
    void theScriptRunsStepByStepToATestAccuracy() throws Exception {
        Path jshell = Paths.get(System.getProperty("java.home"), "bin", "jshell");
        assertThat(jshell).as("JShell ships with the JDK").exists();
        Path script = Paths.get("jshell", "fine-tune.jsh").toAbsolutePath();
        Path log = Files.createTempFile("jshell", ".log");
        Process p = new ProcessBuilder(List.of(jshell.toString(), "-R-Dai.djl.offline=true",
                "-R-Dai.djl.pytorch.num_threads=1", "--class-path", System.getProperty("java.class.path"),
                script.toString()))
                .directory(Paths.get("").toAbsolutePath().toFile())
                .redirectErrorStream(true)
                .redirectOutput(log.toFile())
                .start();
        boolean done = p.waitFor(300, TimeUnit.SECONDS);
        String out = Files.readString(log, StandardCharsets.UTF_8);
        if (!done) {
            p.destroyForcibly();
        }
        assertThat(done).as("finished within 300 s:\n" + out).isTrue();
        assertThat(p.exitValue()).as(out).isZero();
        assertThat(out).doesNotContain("Error:").doesNotContain("Exception");
        assertThat(out).contains("imbalance (largest/smallest): 1.0").contains("best: epoch")
                .containsPattern("test accuracy 0\\.\\d{3}, macro-F1");
    }
}
