package dev.finetune.core.testing;

import ai.djl.ndarray.NDManager;
import ai.djl.training.dataset.Batch;
import ai.djl.training.dataset.Dataset;
import ai.djl.translate.TranslateException;
import ai.djl.util.Progress;
import dev.finetune.core.compare.PeakMemory;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.function.ToLongFunction;

/**
 * A training dataset that samples the process's memory each time a pass over it begins (the first
 * sample is the fine-tuner's look at the first batch, then one per epoch): resident memory, the Java
 * heap after a GC, the native arrays alive in DJL's managers and, where {@link NativeHeap} can read
 * it, the C heap outside the JVM and the freed bytes the allocator keeps. For soak tests and benchmarks:
 * compiled into finetune-testkit (never deployed), not part of the library.
 */
public final class MemoryProbe implements Dataset {

    /**
     * One sample.
     *
     * @param resident resident memory in bytes (-1 when unknown)
     * @param heap Java heap in use after a GC, in bytes
     * @param nativeArrays arrays held by every open DJL manager
     * @param nativeOutsideJvm C heap bytes in use outside the JVM's own allocations (libtorch, DJL's JNI,
     *     JDK libraries), -1 when unknown ({@link NativeHeap#read()} with native memory tracking on)
     * @param allocatorFree freed bytes the C allocator keeps in its arenas, -1 when unknown
     */
    public record Sample(long resident, long heap, long nativeArrays, long nativeOutsideJvm, long allocatorFree) {

        private static final String PREFIX = "MEMORY_SAMPLE ";

        /** @return resident memory less the freed memory the C allocator keeps, -1 when unknown */
        public long held() {
            return resident < 0 || allocatorFree < 0 ? -1 : resident - allocatorFree;
        }

        /** @return this sample as one line, for a child process to hand it to its parent */
        public String toLine() {
            return PREFIX + resident + " " + heap + " " + nativeArrays + " " + nativeOutsideJvm + " " + allocatorFree;
        }

        /**
         * Reads a child process's output to its end.
         *
         * @param output the child's standard output
         * @param otherLines receives every line that is not a sample (for error messages)
         * @return the samples written with {@link #toLine()}, in order
         * @throws IOException when the stream fails
         */
        public static List<Sample> readAll(InputStream output, StringBuilder otherLines) throws IOException {
            List<Sample> out = new ArrayList<>();
            try (BufferedReader r = new BufferedReader(new InputStreamReader(output, StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) {
                    if (line.startsWith(PREFIX)) {
                        long[] v = Arrays.stream(line.substring(PREFIX.length()).trim().split(" "))
                                .mapToLong(Long::parseLong).toArray();
                        out.add(new Sample(v[0], v[1], v[2], v[3], v[4]));
                    } else {
                        otherLines.append(line).append('\n');
                    }
                }
            }
            return out;
        }
    }

    private final Dataset data;
    private final List<Sample> samples = Collections.synchronizedList(new ArrayList<>());

    /**
     * @param data the dataset to read through
     */
    public MemoryProbe(Dataset data) {
        this.data = data;
    }

    /** @return the samples so far, in order */
    public List<Sample> samples() {
        synchronized (samples) {
            return List.copyOf(samples);
        }
    }

    /**
     * The lowest value of one measure over a window of samples: transient allocations and the
     * allocator's momentary level shifts leave it alone, a leak raises it.
     *
     * @param window the samples
     * @param measure what to read from each, e.g. {@code Sample::nativeOutsideJvm}
     * @return the floor
     */
    public static long floor(List<Sample> window, ToLongFunction<Sample> measure) {
        return window.stream().mapToLong(measure).min()
                .orElseThrow(() -> new IllegalArgumentException("an empty window"));
    }

    /** @return the number of arrays held by every open DJL manager (children of the system manager) */
    public static long nativeArrays() {
        try (NDManager probe = NDManager.newBaseManager()) {
            return probe.getParentManager().getManagedArrays().size();
        }
    }

    /**
     * Samples the process now, after a GC.
     *
     * @return the sample
     */
    public static Sample sampleNow() {
        System.gc();
        Runtime rt = Runtime.getRuntime();
        long heap = rt.totalMemory() - rt.freeMemory();
        NativeHeap.Reading c = NativeHeap.available() ? NativeHeap.read() : new NativeHeap.Reading(-1, -1, -1);
        return new Sample(PeakMemory.resident(), heap, nativeArrays(), c.outsideJvm(), c.free());
    }

    @Override
    public Iterable<Batch> getData(NDManager manager) throws IOException, TranslateException {
        samples.add(sampleNow());
        return data.getData(manager);
    }

    @Override
    public void prepare(Progress progress) throws IOException, TranslateException {
        data.prepare(progress);
    }
}
