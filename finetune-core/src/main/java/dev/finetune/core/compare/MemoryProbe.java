package dev.finetune.core.compare;

import ai.djl.ndarray.NDManager;
import ai.djl.training.dataset.Batch;
import ai.djl.training.dataset.Dataset;
import ai.djl.translate.TranslateException;
import ai.djl.util.Progress;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * A training dataset that samples the process's memory each time a pass over it begins (the first
 * sample is the fine-tuner's look at the first batch, then one per epoch): resident memory, the Java
 * heap after a GC, the native arrays alive in DJL's managers and, where {@link NativeHeap} can read
 * it, the C heap outside the JVM and the freed bytes the allocator keeps. For soak tests and benchmarks.
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
    public record Sample(long resident, long heap, long nativeArrays, long nativeOutsideJvm, long allocatorFree) {}

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

    /** @return the number of arrays held by every open DJL manager (children of the system manager) */
    public static long nativeArrays() {
        try (NDManager probe = NDManager.newBaseManager()) {
            return probe.getParentManager().getManagedArrays().size();
        }
    }

    @Override
    public Iterable<Batch> getData(NDManager manager) throws IOException, TranslateException {
        System.gc();
        Runtime rt = Runtime.getRuntime();
        long heap = rt.totalMemory() - rt.freeMemory();
        NativeHeap.Reading c = NativeHeap.available() ? NativeHeap.read() : new NativeHeap.Reading(-1, -1, -1);
        samples.add(new Sample(PeakMemory.resident(), heap, nativeArrays(), c.outsideJvm(), c.free()));
        return data.getData(manager);
    }

    @Override
    public void prepare(Progress progress) throws IOException, TranslateException {
        data.prepare(progress);
    }
}
