package dev.finetune.core.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Block;
import ai.djl.training.ParameterStore;
import ai.djl.training.dataset.ArrayDataset;
import ai.djl.training.dataset.RandomAccessDataset;
import ai.djl.training.dataset.Record;

import java.io.IOException;
import java.io.UncheckedIOException;

/**
 * The outputs of a frozen backbone, computed once per sample (in inference mode, in dataset order)
 * and kept in memory with their labels, so that stages training only the head never run the
 * backbone again. Valid while the backbone's weights and statistics stay fixed and the dataset
 * gives the same input for a sample every time (no augmentation). Owns native memory: close it.
 */
public final class FeatureCache implements AutoCloseable {

    private final NDManager manager;
    private final NDArray features;
    private final NDArray labels;

    private FeatureCache(NDManager manager, NDArray features, NDArray labels) {
        this.manager = manager;
        this.features = features;
        this.labels = labels;
    }

    /**
     * Runs the backbone over every sample of a dataset, {@code chunk} samples per forward pass.
     *
     * @param backbone the frozen part of the model (its outputs are the head's inputs)
     * @param parameterManager the manager of the model's parameters (its device is used)
     * @param data the dataset, read by index
     * @param chunk samples per forward pass
     * @return the cache
     */
    public static FeatureCache compute(Block backbone, NDManager parameterManager, RandomAccessDataset data, int chunk) {
        NDManager manager = parameterManager.newSubManager();
        ParameterStore store = new ParameterStore(parameterManager, false);
        long n = data.size();
        NDList featureParts = new NDList();
        NDList labelParts = new NDList();
        try (NDManager host = NDManager.newBaseManager(ai.djl.Device.cpu())) {
            for (long start = 0; start < n; start += chunk) {
                try (NDManager step = manager.newSubManager()) {
                    NDList inputs = new NDList();
                    NDList targets = new NDList();
                    for (long i = start; i < Math.min(n, start + chunk); i++) {
                        Record r = data.get(host, i);
                        inputs.add(r.getData().head());
                        targets.add(r.getLabels().head());
                    }
                    NDArray x = NDArrays.stack(inputs).toDevice(parameterManager.getDevice(), false);
                    x.attach(step);
                    NDArray out = backbone.forward(store, new NDList(x), false).head();
                    NDArray y = NDArrays.stack(targets);
                    NDArray keptFeatures = out.duplicate();
                    keptFeatures.attach(manager);
                    NDArray keptLabels = y.duplicate();
                    keptLabels.attach(manager);
                    featureParts.add(keptFeatures);
                    labelParts.add(keptLabels);
                    inputs.close();
                    targets.close();
                    y.close();
                }
            }
        } catch (IOException e) {
            manager.close();
            throw new UncheckedIOException(e);
        }
        NDArray features = NDArrays.concat(featureParts);
        NDArray labels = NDArrays.concat(labelParts);
        features.attach(manager);
        labels.attach(manager);
        featureParts.close();
        labelParts.close();
        return new FeatureCache(manager, features, labels);
    }

    /**
     * The cached features as a dataset of (feature, label) records.
     *
     * @param batchSize batch size
     * @param shuffle whether batches are shuffled every epoch
     * @return the dataset (valid while this cache is open)
     */
    public ArrayDataset dataset(int batchSize, boolean shuffle) {
        return new ArrayDataset.Builder().setData(features).optLabels(labels).setSampling(batchSize, shuffle).build();
    }

    /**
     * Copies the features to the host, one row per sample (flattened), for classifiers that run on
     * the host such as the bottleneck linear models.
     *
     * @return the rows
     */
    public float[][] rows() {
        long n = size();
        int d = (int) (features.getShape().size() / n);
        float[] flat = features.toType(ai.djl.ndarray.types.DataType.FLOAT32, false).toFloatArray();
        float[][] out = new float[(int) n][d];
        for (int i = 0; i < n; i++) {
            System.arraycopy(flat, i * d, out[i], 0, d);
        }
        return out;
    }

    /** @return the labels as class indices, on the host */
    public int[] labels() {
        float[] flat = labels.toType(ai.djl.ndarray.types.DataType.FLOAT32, false).toFloatArray();
        int[] out = new int[flat.length];
        for (int i = 0; i < flat.length; i++) {
            out[i] = Math.round(flat[i]);
        }
        return out;
    }

    /** @return the number of cached samples */
    public long size() {
        return features.getShape().get(0);
    }

    /** @return the size in bytes of the cached features */
    public long bytes() {
        return features.getShape().size() * features.getDataType().getNumOfBytes();
    }

    @Override
    public void close() {
        manager.close();
    }
}
