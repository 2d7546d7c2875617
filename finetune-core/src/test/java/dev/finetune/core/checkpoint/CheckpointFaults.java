package dev.finetune.core.checkpoint;

import java.io.IOException;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Fault injection for the reliability tests, through {@link Checkpoint}'s package-private write
 * seam: a pause between writing a checkpoint and moving it in place (so that a kill lands inside a
 * write), or writes that fail as on a full disk. One fault at a time, for the whole JVM; call
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
