package dev.finetune.core.checkpoint;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** A write that fails half-way never replaces the existing checkpoint. */
class AtomicWriteTest {

    @TempDir
    Path dir;

    @Test
    void failedWriteLeavesThePreviousFileIntactAndNoTemporaryBehind() throws Exception {
        Path file = dir.resolve("best.ckpt");
        Checkpoint.writeAtomically(file, out -> out.write(new byte[] {1, 2, 3, 4}));
        assertThat(Files.readAllBytes(file)).containsExactly(1, 2, 3, 4);

        assertThatThrownBy(() -> Checkpoint.writeAtomically(file, out -> {
            out.write(new byte[] {9, 9});
            throw new IOException("No space left on device");
        }))
                .isInstanceOf(CheckpointException.class)
                .hasMessageContaining("best.ckpt")
                .hasMessageContaining("No space left on device")
                .hasMessageContaining("previous checkpoint, if any, is unchanged");
        assertThat(Files.readAllBytes(file)).containsExactly(1, 2, 3, 4);
        try (var files = Files.list(dir)) {
            assertThat(files.map(p -> p.getFileName().toString())).containsExactly("best.ckpt");
        }
    }

    @Test
    void anInjectedFaultAfterTheBytesAreWrittenFailsFromTheGivenWriteOnAndResetRestoresWriting() throws Exception {
        Path file = dir.resolve("best.ckpt");
        CheckpointFaults.failFromWrite(2);
        try {
            Checkpoint.writeAtomically(file, out -> out.write(new byte[] {1, 2, 3, 4})); // write 1 goes through
            for (int write = 2; write <= 3; write++) {
                assertThatThrownBy(() -> Checkpoint.writeAtomically(file, out -> out.write(new byte[] {9, 9})))
                        .isInstanceOf(CheckpointException.class)
                        .hasMessageContaining("No space left on device (injected fault)")
                        .hasMessageContaining("previous checkpoint, if any, is unchanged");
                assertThat(Files.readAllBytes(file)).containsExactly(1, 2, 3, 4);
                try (var files = Files.list(dir)) {
                    assertThat(files.map(p -> p.getFileName().toString())).containsExactly("best.ckpt");
                }
            }
        } finally {
            CheckpointFaults.reset();
        }
        Checkpoint.writeAtomically(file, out -> out.write(new byte[] {5, 6}));
        assertThat(Files.readAllBytes(file)).containsExactly(5, 6);
    }
}
