package dev.finetune.vision.data;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import ai.djl.training.dataset.Batch;
import ai.djl.training.dataset.RandomAccessDataset;
import ai.djl.translate.TranslateException;
import dev.finetune.core.internal.DataLoaderPool;

import java.io.IOException;
import java.util.Iterator;

/**
 * Measures how fast a dataset's batches are read and transformed (decode, augmentation, batching)
 * without any model, with the same reading machinery as {@code FineTuner.optDataLoaderThreads}: if
 * the pipeline alone is slower than a training step, more loader threads (or a cheaper pipeline)
 * will speed training up.
 */
public final class PipelineThroughput {

    private PipelineThroughput() {}

    /**
     * Reads {@code batches} batches (starting new passes over the data when one ends) and closes
     * each, timing the whole run.
     *
     * @param data the dataset, e.g. an {@link ImageDataset} with its training pipeline
     * @param threads loader threads; 0 reads in the calling thread
     * @param batches the number of batches to read, at least 1
     * @return images (samples) per second
     * @throws IOException if the data cannot be read; an unreadable image's message names its path
     */
    public static double measure(RandomAccessDataset data, int threads, int batches) throws IOException {
        if (threads < 0) {
            throw new IllegalArgumentException("threads must be 0 (the calling thread) or more, got " + threads + ".");
        }
        if (batches < 1) {
            throw new IllegalArgumentException("Read at least 1 batch, got " + batches + ".");
        }
        if (data.size() == 0) {
            throw new IllegalArgumentException("The dataset is empty: there is nothing to read.");
        }
        try {
            data.prepare();
        } catch (TranslateException e) {
            throw new IllegalStateException("Could not prepare the dataset: " + e.getMessage(), e);
        }
        long samples = 0;
        int read = 0;
        long start = System.nanoTime();
        try (DataLoaderPool pool = threads > 0 ? new DataLoaderPool(threads) : null) {
            while (read < batches) {
                int before = read;
                try (NDManager host = NDManager.newBaseManager(Device.cpu());
                        DataLoaderPool.Epoch pass = pool != null ? pool.epoch() : null) {
                    Iterator<Batch> it = (pass != null ? data.getData(host, pass) : data.getData(host)).iterator();
                    while (read < batches && it.hasNext()) {
                        try (Batch b = it.next()) {
                            samples += b.getSize();
                            read++;
                        }
                    }
                } catch (TranslateException e) {
                    throw new IllegalStateException("Could not read the dataset: " + e.getMessage(), e);
                } catch (IllegalStateException e) {
                    throw readFailure(e);
                }
                if (read == before) {
                    throw new IllegalArgumentException("The dataset produced no batches: check its sampling.");
                }
            }
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        return samples / seconds;
    }

    /** DJL reports a failed read as "Data loading failed"; give the cause (which names the file). */
    private static IOException readFailure(IllegalStateException e) {
        Throwable c = e;
        while (c.getCause() != null && (c instanceof java.util.concurrent.ExecutionException
                || c.getClass() == IllegalStateException.class && "Data loading failed".equals(c.getMessage()))) {
            c = c.getCause();
        }
        if (c == e) {
            throw e;
        }
        if (c instanceof RuntimeException) {
            throw (RuntimeException) c;
        }
        if (c instanceof Error) {
            throw (Error) c;
        }
        return c instanceof IOException ? new IOException(c.getMessage(), c) : new IOException(c);
    }
}
