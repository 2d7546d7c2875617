package dev.finetune.core.checkpoint;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * Fault injection for the reliability tests, through {@link Checkpoint}'s package-private write
 * seam: a pause between writing a checkpoint and moving it in place (so that a kill lands inside a
 * write), a write held there until the process is killed, or writes that fail as on a full disk. One fault at a time, for the whole JVM; call
 * {@link #reset()} when done.
 */
public final class CheckpointFaults {

    private CheckpointFaults() {}

    /**
     * Pauses every write between writing the temporary file and forcing and moving it in place.
     *
     * @param millis the pause
     */
    public static void delayWrites(long millis) {
        if (millis < 0) {
            throw new IllegalArgumentException("a negative delay: " + millis);
        }
        Checkpoint.writeHook = () -> {
            try {
                Thread.sleep(millis);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        };
    }

    /** What {@link #holdWriteOf} prints on standard output when it holds a write. */
    public static final String HELD = "HELD INSIDE A CHECKPOINT WRITE";

    /**
     * Holds the {@code nth} write of checkpoint {@code name} in {@code dir} after this call: once its
     * bytes are in the temporary file, before they are forced and moved in place, prints {@link #HELD}
     * and sleeps (up to 10 minutes), so that a parent process that reads the output can kill this one
     * inside that write. The earlier writes, and those of other checkpoints, pause {@code millis}. A
     * write of {@code name} is recognised by a temporary file of that name not seen before (a killed
     * run's stale ones are there from the start).
     *
     * @param dir the checkpoint's directory
     * @param name the checkpoint's file name, e.g. {@code last.ckpt}
     * @param nth which of its writes to hold, from 1
     * @param millis the pause of the other writes
     */
    public static void holdWriteOf(Path dir, String name, int nth, long millis) {
        if (nth < 1) {
            throw new IllegalArgumentException("writes are counted from 1: " + nth);
        }
        Set<Path> seen = new HashSet<>(temporaries(dir, name));
        AtomicInteger writes = new AtomicInteger();
        Checkpoint.writeHook = () -> {
            boolean hold = false;
            for (Path t : temporaries(dir, name)) {
                if (seen.add(t)) {
                    hold = writes.incrementAndGet() == nth;
                }
            }
            if (hold) {
                System.out.println(HELD);
                System.out.flush();
            }
            try {
                Thread.sleep(hold ? 600_000 : millis);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        };
    }

    /**
     * @param dir a directory
     * @param name a checkpoint's file name
     * @return the temporary files of writes of that checkpoint in {@code dir}
     */
    public static Set<Path> temporaries(Path dir, String name) {
        if (!Files.isDirectory(dir)) {
            return Set.of();
        }
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> p.getFileName().toString().startsWith(name + ".")
                    && p.getFileName().toString().endsWith(".tmp")).collect(Collectors.toSet());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Makes writes fail as a full disk would, from the {@code first}-th write after this call on
     * (1-based); the earlier ones succeed.
     *
     * @param first the first write that fails
     */
    public static void failFromWrite(int first) {
        if (first < 1) {
            throw new IllegalArgumentException("writes are counted from 1: " + first);
        }
        AtomicInteger writes = new AtomicInteger();
        Checkpoint.writeHook = () -> {
            if (writes.incrementAndGet() >= first) {
                throw new IOException("No space left on device (injected fault)");
            }
        };
    }

    /** Writes go through untouched again. */
    public static void reset() {
        Checkpoint.writeHook = WriteHook.NONE;
    }
}
