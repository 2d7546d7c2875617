package dev.finetune.core.compare;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Peak memory of a stretch of work: the process's peak resident set (Java heap, libtorch's native
 * allocations and all, from Linux's {@code VmHWM}, reset through {@code /proc/self/clear_refs}) and
 * the Java heap's peak. Where Linux's counters are missing, only the heap is measured.
 */
public final class PeakMemory {

    private static final Path STATUS = Path.of("/proc/self/status");
    private static final Path CLEAR_REFS = Path.of("/proc/self/clear_refs");

    private PeakMemory() {}

    /** Starts a measurement: resets both peaks. */
    public static void reset() {
        System.gc();
        for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
            if (pool.getType() == MemoryType.HEAP) {
                pool.resetPeakUsage();
            }
        }
        try {
            Files.writeString(CLEAR_REFS, "5");
        } catch (IOException | UnsupportedOperationException | SecurityException e) {
            // not Linux, or not allowed: the resident peak then covers the whole process life
        }
    }

    /** @return the peak resident set since {@link #reset()} in bytes, or -1 when unknown */
    public static long residentPeak() {
        return status("VmHWM:");
    }

    /** @return the process's resident set now in bytes, or -1 when unknown */
    public static long resident() {
        return status("VmRSS:");
    }

    private static long status(String key) {
        try {
            List<String> lines = Files.readAllLines(STATUS);
            for (String line : lines) {
                if (line.startsWith(key)) {
                    String[] parts = line.substring(key.length()).trim().split("\\s+");
                    return Long.parseLong(parts[0]) * 1024;
                }
            }
        } catch (IOException | RuntimeException e) {
            return -1;
        }
        return -1;
    }

    /** @return the Java heap's peak since {@link #reset()} in bytes (sum of the pools' peaks) */
    public static long heapPeak() {
        long sum = 0;
        for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
            if (pool.getType() == MemoryType.HEAP) {
                sum += pool.getPeakUsage().getUsed();
            }
        }
        return sum;
    }
}
