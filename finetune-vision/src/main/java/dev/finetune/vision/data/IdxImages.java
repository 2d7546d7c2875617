package dev.finetune.vision.data;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.dataset.ArrayDataset;

import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.zip.GZIPInputStream;

/**
 * Grey images and labels in the IDX format of MNIST and Fashion-MNIST ({@code .gz} or raw), held
 * in memory as bytes, with stratified class subsets turned into DJL datasets.
 */
public final class IdxImages {

    private static final int IMAGES_MAGIC = 2051;
    private static final int LABELS_MAGIC = 2049;

    private final byte[][] images;
    private final int[] labels;
    private final int rows;
    private final int cols;

    private IdxImages(byte[][] images, int[] labels, int rows, int cols) {
        this.images = images;
        this.labels = labels;
        this.rows = rows;
        this.cols = cols;
    }

    /**
     * Reads an images file and its labels file.
     *
     * @param imagesFile e.g. {@code train-images-idx3-ubyte.gz}
     * @param labelsFile e.g. {@code train-labels-idx1-ubyte.gz}
     * @return the images
     * @throws IOException if a file is missing, truncated or not IDX; the message names the file
     */
    public static IdxImages read(Path imagesFile, Path labelsFile) throws IOException {
        for (Path p : new Path[] {imagesFile, labelsFile}) {
            if (!Files.isRegularFile(p)) {
                throw new IOException("IDX file not found: " + p.toAbsolutePath()
                        + " (Fashion-MNIST: apt-get install dataset-fashion-mnist)");
            }
        }
        try (DataInputStream in = open(imagesFile); DataInputStream lin = open(labelsFile)) {
            int magic = in.readInt();
            if (magic != IMAGES_MAGIC) {
                throw new IOException(imagesFile + " is not an IDX image file (magic " + magic + ", expected 2051)");
            }
            int labelMagic = lin.readInt();
            if (labelMagic != LABELS_MAGIC) {
                throw new IOException(labelsFile + " is not an IDX label file (magic " + labelMagic + ", expected 2049)");
            }
            int n = in.readInt();
            int rows = in.readInt();
            int cols = in.readInt();
            int m = lin.readInt();
            if (n != m || n < 0 || rows <= 0 || cols <= 0) {
                throw new IOException("IDX files disagree or are malformed: " + n + " images of "
                        + rows + "x" + cols + " in " + imagesFile + ", " + m + " labels in " + labelsFile);
            }
            byte[][] pixels = new byte[n][rows * cols];
            int[] y = new int[n];
            for (int i = 0; i < n; i++) {
                in.readFully(pixels[i]);
                y[i] = lin.readUnsignedByte();
            }
            return new IdxImages(pixels, y, rows, cols);
        } catch (EOFException e) {
            throw new IOException("IDX file is truncated: " + imagesFile + " / " + labelsFile, e);
        }
    }

    /**
     * Reads the training or test split from a directory holding the standard file names.
     *
     * @param dir e.g. {@code /usr/share/datasets/fashion-mnist}
     * @param train true for {@code train-*}, false for {@code t10k-*}
     * @return the images
     * @throws IOException if the files are missing or malformed
     */
    public static IdxImages readSplit(Path dir, boolean train) throws IOException {
        String prefix = train ? "train" : "t10k";
        return read(find(dir, prefix + "-images-idx3-ubyte"), find(dir, prefix + "-labels-idx1-ubyte"));
    }

    private static Path find(Path dir, String base) {
        Path gz = dir.resolve(base + ".gz");
        return Files.exists(gz) ? gz : dir.resolve(base);
    }

    private static DataInputStream open(Path p) throws IOException {
        InputStream raw = new BufferedInputStream(Files.newInputStream(p), 1 << 16);
        raw.mark(2);
        int b1 = raw.read();
        int b2 = raw.read();
        raw.reset();
        InputStream in = (b1 == 0x1f && b2 == 0x8b) ? new GZIPInputStream(raw, 1 << 16) : raw;
        return new DataInputStream(new BufferedInputStream(in, 1 << 16));
    }

    /** @return the number of images */
    public int size() {
        return labels.length;
    }

    /**
     * @param index image index
     * @return its label
     */
    public int label(int index) {
        return labels[index];
    }

    /**
     * @param index image index
     * @return a copy of its pixels, row-major, one unsigned byte each
     */
    public byte[] image(int index) {
        return images[index].clone();
    }

    /** @return image height */
    public int rows() {
        return rows;
    }

    /** @return image width */
    public int cols() {
        return cols;
    }

    /**
     * Up to {@code perClass} image indices of each class in {@code classes}, in a seeded random
     * order, skipping the first {@code skipPerClass} of each class so that subsets can be disjoint.
     *
     * @param classes original labels to keep
     * @param perClass images per class
     * @param skipPerClass images per class to skip first
     * @param seed the shuffle seed
     * @return indices, stratified by class
     */
    public List<Integer> sample(int[] classes, int perClass, int skipPerClass, long seed) {
        List<Integer> order = new ArrayList<>(labels.length);
        for (int i = 0; i < labels.length; i++) {
            order.add(i);
        }
        Collections.shuffle(order, new Random(seed));
        int[] seen = new int[256];
        boolean[] keep = new boolean[256];
        for (int c : classes) {
            keep[c] = true;
        }
        List<Integer> out = new ArrayList<>();
        for (int i : order) {
            int label = labels[i];
            if (keep[label]) {
                seen[label]++;
                if (seen[label] > skipPerClass && seen[label] <= skipPerClass + perClass) {
                    out.add(i);
                }
            }
        }
        return out;
    }

    /**
     * A DJL dataset of the given images as (N, 1, rows, cols) floats in [0, 1], labels remapped to
     * the position of their class in {@code classes}.
     *
     * @param manager owns the arrays (close it when done with the dataset)
     * @param indices images to include
     * @param classes original classes; their order defines the new labels
     * @param batchSize batch size
     * @param shuffle whether to shuffle every epoch
     * @return the dataset
     */
    public ArrayDataset toDataset(NDManager manager, List<Integer> indices, int[] classes, int batchSize, boolean shuffle) {
        int[] remap = new int[256];
        java.util.Arrays.fill(remap, -1);
        for (int c = 0; c < classes.length; c++) {
            remap[classes[c]] = c;
        }
        int pixels = rows * cols;
        float[] x = new float[indices.size() * pixels];
        float[] y = new float[indices.size()];
        for (int k = 0; k < indices.size(); k++) {
            int i = indices.get(k);
            if (remap[labels[i]] < 0) {
                throw new IllegalArgumentException("Image " + i + " has label " + labels[i]
                        + ", which is not among the chosen classes " + java.util.Arrays.toString(classes));
            }
            byte[] px = images[i];
            for (int j = 0; j < pixels; j++) {
                x[k * pixels + j] = (px[j] & 0xff) / 255f;
            }
            y[k] = remap[labels[i]];
        }
        NDArray data = manager.create(x, new Shape(indices.size(), 1, rows, cols));
        NDArray lab = manager.create(y, new Shape(indices.size()));
        return new ArrayDataset.Builder().setData(data).optLabels(lab).setSampling(batchSize, shuffle).build();
    }
}
