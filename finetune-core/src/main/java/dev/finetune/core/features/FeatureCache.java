package dev.finetune.core.features;

import dev.finetune.core.TrainingInterruptedException;
import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.training.ParameterStore;
import ai.djl.training.dataset.ArrayDataset;
import ai.djl.training.dataset.RandomAccessDataset;
import ai.djl.training.dataset.Record;
import ai.djl.util.Progress;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

/**
 * The outputs of a frozen part of a network (the backbone, or the groups before a split point),
 * computed once per sample in inference mode and in dataset order, so that stages training only
 * what follows never run that part again. The features live on the model's device while they fit
 * under a memory limit, and otherwise in a memory-mapped file that is read back per batch. Valid
 * while the frozen part's weights and statistics stay fixed and the dataset gives the same input for
 * a sample every time (no augmentation). Features may be stored as bfloat16 (half the bytes, read
 * back as float32; a bfloat16 fit stores them so). Owns native memory and possibly a file: close it.
 */
public final class FeatureCache implements AutoCloseable {

    /** Images per forward pass on a CPU. */
    static final int CPU_FORWARD_BATCH = 4;

    private final NDManager manager;
    private final long size;
    private final Shape sampleShape;
    // in memory
    private final NDArray features;
    private final NDArray labels;
    // on disk
    private final Path file;
    // on the host (a file, or bfloat16 values in the Java heap)
    private final List<ByteBuffer> segments;
    private final long samplesPerSegment;
    private final float[] hostLabels;
    /** Whether host records hold bfloat16 values (2 bytes each) rather than float32. */
    private final boolean bfloat16;

    private FeatureCache(NDManager manager, long size, Shape sampleShape, NDArray features, NDArray labels, Path file,
            List<ByteBuffer> segments, long samplesPerSegment, float[] hostLabels, boolean bfloat16) {
        this.bfloat16 = bfloat16;
        this.manager = manager;
        this.size = size;
        this.sampleShape = sampleShape;
        this.features = features;
        this.labels = labels;
        this.file = file;
        this.segments = segments;
        this.samplesPerSegment = samplesPerSegment;
        this.hostLabels = hostLabels;
    }

    /**
     * Runs the frozen part over every sample of a dataset and keeps the outputs in memory.
     *
     * @param frozen the frozen part of the model (its outputs are the trained part's inputs)
     * @param parameterManager the manager of the model's parameters (its device is used)
     * @param data the dataset, read by index
     * @param chunk samples per forward pass on a GPU (a CPU runs {@value #CPU_FORWARD_BATCH} at a time)
     * @return the cache
     */
    public static FeatureCache compute(Block frozen, NDManager parameterManager, RandomAccessDataset data, int chunk) {
        return compute(frozen, parameterManager, data, chunk, Long.MAX_VALUE, null);
    }

    /**
     * Runs the frozen part over every sample of a dataset, keeping the outputs in memory when they
     * take at most {@code memoryLimit} bytes and in a memory-mapped file in {@code directory}
     * otherwise (deleted on close).
     *
     * @param frozen the frozen part of the model
     * @param parameterManager the manager of the model's parameters (its device is used)
     * @param data the dataset, read by index
     * @param chunk samples per forward pass on a GPU (a CPU runs {@value #CPU_FORWARD_BATCH} at a time)
     * @param memoryLimit the most bytes kept in memory
     * @param directory where a file-backed cache goes (null: the system's temporary folder)
     * @return the cache
     */
    public static FeatureCache compute(Block frozen, NDManager parameterManager, RandomAccessDataset data, int chunk,
            long memoryLimit, Path directory) {
        return compute(frozen, parameterManager, data, chunk, memoryLimit, directory, false);
    }

    /**
     * As {@link #compute(Block, NDManager, RandomAccessDataset, int, long, Path)}, optionally storing
     * the features as bfloat16 (rounded to nearest even): half the memory or disk, read back as
     * float32 per batch. Bfloat16 features live on the host (the Java heap under the memory limit, a
     * memory-mapped file over it), whatever the device.
     *
     * @param frozen the frozen part of the model
     * @param parameterManager the manager of the model's parameters (its device is used)
     * @param data the dataset, read by index
     * @param chunk samples per forward pass on a GPU (a CPU runs {@value #CPU_FORWARD_BATCH} at a time)
     * @param memoryLimit the most bytes kept in memory
     * @param directory where a file-backed cache goes (null: the system's temporary folder)
     * @param bfloat16 whether to store bfloat16 values
     * @return the cache
     */
    public static FeatureCache compute(Block frozen, NDManager parameterManager, RandomAccessDataset data, int chunk,
            long memoryLimit, Path directory, boolean bfloat16) {
        int valueBytes = bfloat16 ? 2 : Float.BYTES;
        ByteBuffer heap = null;
        NDManager manager = parameterManager.newSubManager();
        ParameterStore store = new ParameterStore(parameterManager, false);
        long n = data.size();
        if (n == 0) {
            throw new IllegalArgumentException("The dataset is empty: there is nothing to cache.");
        }
        NDList featureParts = new NDList();
        NDList labelParts = new NDList();
        FileChannel channel = null;
        Path file = null;
        float[] hostLabels = null;
        Shape sampleShape = null;
        // on a CPU, decode only as many images as one forward takes, rather than stacking a whole
        // chunk of decoded images (150 MB for 256 at 224 px) and slicing it
        int stride = parameterManager.getDevice().isGpu() ? chunk : Math.min(chunk, CPU_FORWARD_BATCH);
        try (NDManager host = NDManager.newBaseManager(Device.cpu())) {
            for (long start = 0; start < n; start += stride) {
                if (Thread.currentThread().isInterrupted()) {
                    throw interrupted(start, n, stride, null);
                }
                try (NDManager step = manager.newSubManager()) {
                    NDList inputs = new NDList();
                    NDList targets = new NDList();
                    for (long i = start; i < Math.min(n, start + stride); i++) {
                        Record r = data.get(host, i);
                        inputs.add(r.getData().head());
                        targets.add(r.getLabels().head());
                    }
                    NDArray x = NDArrays.stack(inputs).toDevice(parameterManager.getDevice(), false);
                    x.attach(step);
                    NDArray out = forward(frozen, store, x, parameterManager.getDevice());
                    NDArray y = NDArrays.stack(targets);
                    if (sampleShape == null) {
                        sampleShape = out.getShape().slice(1);
                        long bytes = n * sampleShape.size() * valueBytes;
                        if (bytes > memoryLimit) {
                            Path dir = directory != null ? directory : Path.of(System.getProperty("java.io.tmpdir"));
                            Files.createDirectories(dir);
                            file = Files.createTempFile(dir, "finetune-features-", bfloat16 ? ".bf16" : ".f32");
                            channel = FileChannel.open(file, StandardOpenOption.WRITE, StandardOpenOption.READ);
                            hostLabels = new float[Math.toIntExact(n)];
                        } else if (bfloat16) {
                            heap = ByteBuffer.allocate(Math.toIntExact(bytes)).order(ByteOrder.nativeOrder());
                            hostLabels = new float[Math.toIntExact(n)];
                        }
                    }
                    if (channel != null || heap != null) {
                        float[] values = out.toType(DataType.FLOAT32, false).toFloatArray();
                        ByteBuffer buf = ByteBuffer.allocate(values.length * valueBytes).order(ByteOrder.nativeOrder());
                        if (bfloat16) {
                            for (float v : values) {
                                buf.putShort(dev.finetune.core.internal.TorchScriptCast.bfloat16(v));
                            }
                            buf.flip();
                        } else {
                            buf.asFloatBuffer().put(values);
                        }
                        if (heap != null) {
                            heap.put(buf);
                        }
                        while (channel != null && buf.hasRemaining()) {
                            channel.write(buf);
                        }
                        float[] ys = y.toType(DataType.FLOAT32, false).toFloatArray();
                        System.arraycopy(ys, 0, hostLabels, (int) start, ys.length);
                    } else {
                        NDArray keptFeatures = out.duplicate();
                        keptFeatures.attach(manager);
                        NDArray keptLabels = y.duplicate();
                        keptLabels.attach(manager);
                        featureParts.add(keptFeatures);
                        labelParts.add(keptLabels);
                    }
                    inputs.close();
                    targets.close();
                    y.close();
                }
            }
            if (heap != null) {
                heap.flip();
                return new FeatureCache(manager, n, sampleShape, null, null, null, List.of(heap), n, hostLabels, true);
            }
            if (channel != null) {
                long recordBytes = sampleShape.size() * valueBytes;
                long perSegment = Math.max(1, (1L << 30) / recordBytes);
                List<ByteBuffer> segments = new ArrayList<>();
                for (long first = 0; first < n; first += perSegment) {
                    long count = Math.min(perSegment, n - first);
                    MappedByteBuffer m = channel.map(FileChannel.MapMode.READ_ONLY, first * recordBytes, count * recordBytes);
                    m.order(ByteOrder.nativeOrder());
                    segments.add(m);
                }
                channel.close();
                return new FeatureCache(manager, n, sampleShape, null, null, file, segments, perSegment, hostLabels,
                        bfloat16);
            }
        } catch (java.nio.channels.ClosedByInterruptException e) {
            manager.close();
            closeQuietly(channel, file);
            throw interrupted(0, n, stride, e);
        } catch (IOException e) {
            manager.close();
            closeQuietly(channel, file);
            throw new UncheckedIOException("Could not write the feature cache" + (file == null ? "" : " " + file), e);
        } catch (RuntimeException e) {
            manager.close();
            closeQuietly(channel, file);
            throw e;
        }
        NDArray features = NDArrays.concat(featureParts);
        NDArray labels = NDArrays.concat(labelParts);
        features.attach(manager);
        labels.attach(manager);
        featureParts.close();
        labelParts.close();
        return new FeatureCache(manager, n, sampleShape, features, labels, null, null, 0, null, false);
    }

    private static TrainingInterruptedException interrupted(long done, long n, int chunk, Throwable cause) {
        return new TrainingInterruptedException("Interrupted while caching features"
                + (cause == null ? ", after " + done + " of " + n + " samples." : "."), 0, null, 0, "feature cache",
                done / chunk, null, cause);
    }

    private static void closeQuietly(FileChannel channel, Path file) {
        try {
            if (channel != null) {
                channel.close();
            }
            if (file != null) {
                Files.deleteIfExists(file);
            }
        } catch (IOException ignored) {
            // the original failure is reported
        }
    }

    /**
     * Runs the frozen part in slices: on a CPU a forward pass over a few images at a time is several
     * times faster per image than over hundreds (measured 5x on MobileNetV2 at 224 px); a GPU takes
     * the whole chunk at once.
     */
    private static NDArray forward(Block frozen, ParameterStore store, NDArray x, Device device) {
        long n = x.getShape().get(0);
        int slice = device.isGpu() ? Integer.MAX_VALUE : CPU_FORWARD_BATCH;
        if (n <= slice) {
            return frozen.forward(store, new NDList(x), false).head();
        }
        NDList parts = new NDList();
        for (long from = 0; from < n; from += slice) {
            parts.add(frozen.forward(store, new NDList(x.get(from + ":" + Math.min(n, from + slice))), false).head());
        }
        return NDArrays.concat(parts);
    }

    /** @return whether the features live in a memory-mapped file rather than on the device */
    public boolean onDisk() {
        return file != null;
    }

    /** @return the backing file of a disk cache, or null */
    public Path file() {
        return file;
    }

    /**
     * The cached features as a dataset of (feature, label) records.
     *
     * @param batchSize batch size
     * @param shuffle whether batches are shuffled every epoch
     * @return the dataset (valid while this cache is open)
     */
    public RandomAccessDataset dataset(int batchSize, boolean shuffle) {
        if (segments == null) {
            return new ArrayDataset.Builder().setData(features).optLabels(labels).setSampling(batchSize, shuffle).build();
        }
        return new MappedDataset(new MappedDataset.Builder().setSampling(batchSize, shuffle), this);
    }

    private FloatBuffer record(long index) {
        ByteBuffer segment = segments.get((int) (index / samplesPerSegment));
        int floats = (int) sampleShape.size();
        int offset = (int) (index % samplesPerSegment) * floats;
        if (bfloat16) {
            java.nio.ShortBuffer all = segment.duplicate().order(ByteOrder.nativeOrder()).asShortBuffer();
            float[] widened = new float[floats];
            for (int i = 0; i < floats; i++) {
                widened[i] = Float.intBitsToFloat((all.get(offset + i) & 0xFFFF) << 16);
            }
            return FloatBuffer.wrap(widened);
        }
        FloatBuffer all = segment.duplicate().order(ByteOrder.nativeOrder()).asFloatBuffer();
        all.position(offset);
        FloatBuffer one = all.slice();
        one.limit(floats);
        return one;
    }

    /** Reads records of a file-backed cache. */
    private static final class MappedDataset extends RandomAccessDataset {
        private final FeatureCache cache;

        MappedDataset(Builder builder, FeatureCache cache) {
            super(builder);
            this.cache = cache;
        }

        @Override
        public Record get(NDManager m, long index) {
            NDArray x = m.create(cache.record(index), cache.sampleShape);
            return new Record(new NDList(x), new NDList(m.create(cache.hostLabels[(int) index])));
        }

        @Override
        protected long availableSize() {
            return cache.size;
        }

        @Override
        public void prepare(Progress progress) {
            // mapped already
        }

        static final class Builder extends BaseBuilder<Builder> {
            @Override
            protected Builder self() {
                return this;
            }
        }
    }

    /**
     * Copies the features to the host, one row per sample (flattened), for classifiers that run on
     * the host such as the bottleneck linear models.
     *
     * @return the rows
     */
    public float[][] rows() {
        int d = (int) sampleShape.size();
        float[][] out = new float[(int) size][d];
        if (segments != null) {
            for (int i = 0; i < size; i++) {
                record(i).get(out[i]);
            }
            return out;
        }
        float[] flat = features.toType(DataType.FLOAT32, false).toFloatArray();
        for (int i = 0; i < size; i++) {
            System.arraycopy(flat, i * d, out[i], 0, d);
        }
        return out;
    }

    /** @return the labels as class indices, on the host */
    public int[] labels() {
        float[] flat = hostLabels != null ? hostLabels : labels.toType(DataType.FLOAT32, false).toFloatArray();
        int[] out = new int[flat.length];
        for (int i = 0; i < flat.length; i++) {
            out[i] = Math.round(flat[i]);
        }
        return out;
    }

    /** @return the number of cached samples */
    public long size() {
        return size;
    }

    /** @return the shape of one sample's features */
    public Shape sampleShape() {
        return sampleShape;
    }

    /** @return the size in bytes of the cached features */
    public long bytes() {
        return size * sampleShape.size() * (bfloat16 ? 2 : segments != null ? Float.BYTES
                : features.getDataType().getNumOfBytes());
    }

    @Override
    public void close() {
        manager.close();
        if (file != null) {
            try {
                Files.deleteIfExists(file);
            } catch (IOException e) {
                throw new UncheckedIOException("Could not delete the feature cache file " + file, e);
            }
        }
    }
}
