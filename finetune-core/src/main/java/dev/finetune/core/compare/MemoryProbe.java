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
 * heap after a GC, and the native arrays alive in DJL's managers. For soak tests and benchmarks.
 */
public final class MemoryProbe implements Dataset {

    /**
     * One sample.
     *
     * @param resident resident memory in bytes (-1 when unknown)
     * @param heap Java heap in use after a GC, in bytes
     * @param nativeArrays arrays held by every open DJL manager
     */
    public record Sample(long resident, long heap, long nativeArrays) {}

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
        samples.add(new Sample(PeakMemory.resident(), rt.totalMemory() - rt.freeMemory(), nativeArrays()));
        return data.getData(manager);
    }

    @Override
    public void prepare(Progress progress) throws IOException, TranslateException {
        data.prepare(progress);
    }
}
