package dev.finetune.vision.export;

import ai.djl.Device;
import ai.djl.modality.cv.Image;
import ai.djl.modality.cv.util.NDImageUtils;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import ai.djl.training.dataset.Batch;
import ai.djl.training.dataset.Dataset;
import ai.djl.translate.TranslateException;
import ai.djl.util.Pair;
import dev.finetune.core.internal.ParameterValues;
import dev.finetune.core.result.ConfusionMatrix;
import dev.finetune.core.result.Evaluation;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;

/**
 * Test-time augmentation: a classifier's softmax probabilities averaged over views of each image,
 * its original and, as chosen, its mirror image (left to right) and five crops (the centre and the
 * four corners, each {@code scale} of the height and width, resized back to the input size by
 * bilinear interpolation, as torchvision's {@code FiveCrop}), with the crops mirrored too when both
 * are chosen: 1, 2, 6 or 12 views. The views are made from the network input (the N x C x H x W
 * batch after the evaluation preprocessing), so they cost forward passes, not decoding.
 *
 * <p>{@link #evaluate} measures a classifier with it as {@code FineTuner.evaluate} measures it
 * without: the loss is the mean of {@code -log} of the averaged probability of the true class (a
 * plain negative log-likelihood: class weights are not applied), the confusion matrix counts the
 * class of the highest averaged probability; with only the original view it gives
 * {@code FineTuner.evaluate}'s numbers. {@link ClassifierExport#save(ai.djl.Model, java.nio.file.Path,
 * String, List, ClassifierExport.Preprocessing, TestTimeAugmentation)} carries it into the exported
 * model, whose served probabilities are then these averages.
 *
 * <pre>{@code
 * TestTimeAugmentation tta = TestTimeAugmentation.mirrorAndCrops(0.875);   // 12 views
 * TtaEvaluation test = tta.evaluate(tuner.block(), testData, catalog.classNames());
 * System.out.println(test);            // loss, accuracy, macro-F1 ... with the 12 views named
 * ClassifierExport.save(model, Path.of("export"), "classifier", catalog.classNames(),
 *         pipeline.toPreprocessing(), tta);                                  // served averaged too
 * }</pre>
 *
 * <p>Use the mirror only for classes that a left-right flip does not change (not text, not left
 * versus right), and crops only where the object fills the image well beyond the crop. Immutable.
 */
public final class TestTimeAugmentation {

    /** The part of the image a view shows. */
    public enum Crop {
        /** The whole image. */
        FULL("whole"),
        /** The centre crop. */
        CENTRE("centre crop"),
        /** The top-left corner crop. */
        TOP_LEFT("top-left crop"),
        /** The top-right corner crop. */
        TOP_RIGHT("top-right crop"),
        /** The bottom-left corner crop. */
        BOTTOM_LEFT("bottom-left crop"),
        /** The bottom-right corner crop. */
        BOTTOM_RIGHT("bottom-right crop");

        private final String label;

        Crop(String label) {
            this.label = label;
        }
    }

    /**
     * One view of an image: a crop of it (or all of it), mirrored or not. The crop is taken from
     * the image as it is, then mirrored.
     *
     * @param mirrored whether the view is mirrored left to right
     * @param crop which part of the image
     */
    public record View(boolean mirrored, Crop crop) {
        /**
         * Checks the crop.
         *
         * @param mirrored whether the view is mirrored left to right
         * @param crop which part of the image
         */
        public View {
            Objects.requireNonNull(crop, "crop");
        }

        @Override
        public String toString() {
            if (crop == Crop.FULL) {
                return mirrored ? "mirror" : "original";
            }
            return mirrored ? "mirrored " + crop.label : crop.label;
        }
    }

    /** Name of the averaging block in an export's layout: {@code tta[views](inner)}. */
    static final String LAYOUT = "tta";

    private final boolean mirror;
    private final double cropScale;
    private final List<View> views;

    private TestTimeAugmentation(boolean mirror, double cropScale) {
        if (cropScale != 0 && !(cropScale > 0 && cropScale < 1)) {
            throw new IllegalArgumentException(
                    "The crop scale must be in (0, 1) (e.g. 0.875), or 0 for no crops; got " + cropScale);
        }
        this.mirror = mirror;
        this.cropScale = cropScale;
        List<View> v = new ArrayList<>();
        List<Crop> crops = new ArrayList<>(List.of(Crop.FULL));
        if (cropScale > 0) {
            crops.addAll(List.of(Crop.CENTRE, Crop.TOP_LEFT, Crop.TOP_RIGHT, Crop.BOTTOM_LEFT, Crop.BOTTOM_RIGHT));
        }
        for (Crop c : crops) {
            v.add(new View(false, c));
            if (mirror) {
                v.add(new View(true, c));
            }
        }
        views = List.copyOf(v);
    }

    /**
     * Views chosen one by one.
     *
     * @param mirror whether to add the mirror image of every view
     * @param cropScale the side of the five crops as a fraction of the input's, in (0, 1), or 0 for no crops
     * @return the augmentation
     */
    public static TestTimeAugmentation of(boolean mirror, double cropScale) {
        return new TestTimeAugmentation(mirror, cropScale);
    }

    /** @return the original view alone: plain evaluation, in this class's terms */
    public static TestTimeAugmentation identity() {
        return new TestTimeAugmentation(false, 0);
    }

    /** @return the original and its mirror image (2 views) */
    public static TestTimeAugmentation mirror() {
        return new TestTimeAugmentation(true, 0);
    }

    /**
     * @param scale the crops' side as a fraction of the input's, in (0, 1); 0.875 is common
     * @return the original and five crops (6 views)
     */
    public static TestTimeAugmentation crops(double scale) {
        return new TestTimeAugmentation(false, requireScale(scale));
    }

    /**
     * @param scale the crops' side as a fraction of the input's, in (0, 1); 0.875 is common
     * @return the original, five crops, and the mirror images of all six (12 views)
     */
    public static TestTimeAugmentation mirrorAndCrops(double scale) {
        return new TestTimeAugmentation(true, requireScale(scale));
    }

    private static double requireScale(double scale) {
        if (!(scale > 0 && scale < 1)) {
            throw new IllegalArgumentException("The crop scale must be in (0, 1) (e.g. 0.875), got " + scale);
        }
        return scale;
    }

    /** @return whether every view is also taken mirrored */
    public boolean mirrors() {
        return mirror;
    }

    /** @return the crops' side as a fraction of the input's, or 0 for no crops */
    public double cropScale() {
        return cropScale;
    }

    /** @return the views, in the order they are computed */
    public List<View> views() {
        return views;
    }

    /**
     * @return what is averaged, e.g. {@code "softmax probabilities averaged over 2 views: original,
     *     mirror"}
     */
    public String describe() {
        StringBuilder s = new StringBuilder();
        s.append("softmax probabilities averaged over ").append(views.size()).append(views.size() == 1 ? " view: " : " views: ");
        for (int i = 0; i < views.size(); i++) {
            s.append(i == 0 ? "" : ", ").append(views.get(i));
        }
        if (cropScale > 0) {
            s.append(" (crops ").append(cropScale).append(" of each side, resized back to the input size)");
        }
        return s.toString();
    }

    @Override
    public String toString() {
        return "TestTimeAugmentation(" + describe() + ")";
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TestTimeAugmentation t && t.mirror == mirror && t.cropScale == cropScale;
    }

    @Override
    public int hashCode() {
        return Objects.hash(mirror, cropScale);
    }

    /** The views' part of an export layout: {@code identity}, {@code mirror}, {@code crops=0.875} or {@code mirror,crops=0.875}. */
    String layoutSpec() {
        if (!mirror && cropScale == 0) {
            return "identity";
        }
        return (mirror ? "mirror" : "") + (mirror && cropScale > 0 ? "," : "")
                + (cropScale > 0 ? "crops=" + cropScale : "");
    }

    /** Reads {@link #layoutSpec()}; null if it is not one. */
    static TestTimeAugmentation fromLayoutSpec(String spec) {
        if (spec.equals("identity")) {
            return identity();
        }
        boolean m = false;
        double scale = 0;
        for (String part : spec.split(",", -1)) {
            if (part.equals("mirror") && !m && scale == 0) {
                m = true;
            } else if (part.startsWith("crops=") && scale == 0) {
                try {
                    scale = Double.parseDouble(part.substring("crops=".length()));
                } catch (NumberFormatException e) {
                    return null;
                }
                if (!(scale > 0 && scale < 1)) {
                    return null;
                }
            } else {
                return null;
            }
        }
        return new TestTimeAugmentation(m, scale);
    }

    /**
     * A view of a batch of network inputs.
     *
     * @param view the view
     * @param batch N x C x H x W
     * @return the view, N x C x H x W (a new array)
     */
    public NDArray view(View view, NDArray batch) {
        NDArray x = viewOrSame(view, batch);
        return x == batch ? batch.duplicate() : x;
    }

    /** The view, or the batch itself for the original view. */
    NDArray viewOrSame(View view, NDArray batch) {
        Shape s = batch.getShape();
        if (s.dimension() != 4) {
            throw new IllegalArgumentException("Test-time augmentation takes an N x C x H x W batch, got shape " + s);
        }
        int h = (int) s.get(2);
        int w = (int) s.get(3);
        NDArray x = batch;
        if (view.crop() != Crop.FULL) {
            int[] box = box(view.crop(), h, w);
            NDArray crop = batch.get(new NDIndex(":, :, {}:{}, {}:{}", box[0], box[0] + box[2], box[1], box[1] + box[3]));
            // DJL resizes N x H x W x C images: bilinear, corners not aligned (PyTorch's interpolate)
            NDArray nhwc = crop.transpose(0, 2, 3, 1);
            x = NDImageUtils.resize(nhwc, w, h, Image.Interpolation.BILINEAR).transpose(0, 3, 1, 2);
        }
        return view.mirrored() ? x.flip(3) : x;
    }

    /**
     * Where a crop lies in an h x w input, as torchvision's {@code FiveCrop}: the corners flush
     * with the edges, the centre at {@code round((h - ch) / 2)}, {@code round((w - cw) / 2)}.
     *
     * @param crop which crop
     * @param h input height
     * @param w input width
     * @return top, left, height, width
     */
    int[] box(Crop crop, int h, int w) {
        int ch = Math.max(1, (int) Math.round(h * cropScale));
        int cw = Math.max(1, (int) Math.round(w * cropScale));
        switch (crop) {
            case CENTRE:
                return new int[] {(int) Math.rint((h - ch) / 2.0), (int) Math.rint((w - cw) / 2.0), ch, cw};
            case TOP_LEFT:
                return new int[] {0, 0, ch, cw};
            case TOP_RIGHT:
                return new int[] {0, w - cw, ch, cw};
            case BOTTOM_LEFT:
                return new int[] {h - ch, 0, ch, cw};
            case BOTTOM_RIGHT:
                return new int[] {h - ch, w - cw, ch, cw};
            default:
                return new int[] {0, 0, h, w};
        }
    }

    /**
     * The classifier wrapped so that its output is the log of the averaged probabilities: softmax
     * of it (what a served model applies) gives the averaged probabilities. The classifier's
     * parameters are shared, not copied. For a DJL-built block exported with this augmentation,
     * load it with {@code ClassifierExport.criteria(dir).optBlock(tta.wrap(architecture))}.
     *
     * @param classifier a block whose output is N x classes logits
     * @return the averaging block
     */
    public Block wrap(Block classifier) {
        return new AverageOfViewsBlock(this, Objects.requireNonNull(classifier, "classifier"));
    }

    /**
     * The averaged probabilities of a batch, in inference mode.
     *
     * @param classifier a block whose output is N x classes logits
     * @param batch N x C x H x W network inputs, on the classifier's device
     * @return N x classes averaged probabilities, on the batch's manager
     */
    public NDArray probabilities(Block classifier, NDArray batch) {
        ParameterStore store = new ParameterStore(batch.getManager(), false);
        return wrap(classifier).forward(store, new NDList(batch), false).singletonOrThrow().exp();
    }

    /**
     * Measures a classifier once on a dataset with these views, in inference mode (no gradients,
     * BatchNorm statistics as they are).
     *
     * @param classifier the classifier, e.g. {@code tuner.block()} after a fit; its output is N x
     *     classes logits
     * @param data the dataset, its inputs preprocessed for evaluation (e.g. {@code ImagePipeline.evaluation()})
     * @param classNames the class names in label order (as many as the classifier's outputs)
     * @return the evaluation and the views it averaged
     * @throws IllegalArgumentException for a label outside the classes, an output of another
     *     width than the class names, or a dataset without batches
     */
    public TtaEvaluation evaluate(Block classifier, Dataset data, List<String> classNames) {
        int k = classNames.size();
        if (k < 2) {
            throw new IllegalArgumentException("Give the class names, at least 2, in label order; got " + classNames);
        }
        try {
            data.prepare();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (TranslateException e) {
            throw new IllegalStateException("Could not prepare the dataset: " + e.getMessage(), e);
        }
        ParameterValues.require(classifier, "fit the model, or restore a checkpoint into it, first.");
        Device device = deviceOf(classifier);
        Block averaged = wrap(classifier);
        long samples = 0;
        float[] cells;
        double lossSum;
        try (NDManager manager = NDManager.newBaseManager(device);
                NDManager host = NDManager.newBaseManager(Device.cpu())) {
            ParameterStore store = new ParameterStore(manager, false);
            NDArray loss = manager.zeros(new Shape(), DataType.FLOAT32);
            NDArray confusion = manager.zeros(new Shape((long) k * k), DataType.FLOAT32);
            Iterable<Batch> batches;
            try {
                batches = data.getData(host);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            } catch (TranslateException e) {
                throw new IllegalStateException("Could not read the dataset: " + e.getMessage(), e);
            }
            for (Batch batch : batches) {
                try (Batch b = batch; NDManager step = manager.newSubManager()) {
                    NDList x = b.getData().toDevice(device, false);
                    NDList y = b.getLabels().toDevice(device, false);
                    x.attach(step);
                    y.attach(step);
                    NDArray logp = averaged.forward(store, x, false).singletonOrThrow();
                    if (logp.getShape().dimension() != 2 || logp.getShape().get(1) != k) {
                        throw new IllegalArgumentException("The classifier outputs shape " + logp.getShape() + " but "
                                + k + " class names were given: give one name per output, in label order.");
                    }
                    checkLabels(b.getLabels().head(), k);
                    NDArray truth = y.head().toType(DataType.INT64, false).reshape(-1);
                    NDArray nll = logp.mul(truth.oneHot(k)).sum(new int[] {1}).neg();
                    // as the fit's evaluation: each batch's mean times its size
                    loss.addi(nll.mean().mul(b.getSize()));
                    NDArray cell = truth.mul(k).add(logp.argMax(1));
                    confusion.addi(cell.oneHot(k * k).sum(new int[] {0}));
                    samples += b.getSize();
                }
            }
            if (samples == 0) {
                throw new IllegalArgumentException(
                        "The dataset for evaluation produced no batches. Give it at least one sample.");
            }
            cells = confusion.toFloatArray();
            lossSum = loss.getFloat();
        }
        long[][] counts = new long[k][k];
        for (int t = 0; t < k; t++) {
            for (int p = 0; p < k; p++) {
                counts[t][p] = Math.round(cells[t * k + p]);
            }
        }
        return new TtaEvaluation(new Evaluation(lossSum / samples, new ConfusionMatrix(counts, classNames)), this);
    }

    private static void checkLabels(NDArray labels, int k) {
        for (float v : labels.toType(DataType.FLOAT32, false).toFloatArray()) {
            if (!(v >= 0 && v < k) || v != Math.rint(v)) {
                throw new IllegalArgumentException(String.format(Locale.ROOT,
                        "Label %s is outside the classes 0..%d: labels must be class indices, one class name each.",
                        v == Math.rint(v) ? String.valueOf((long) v) : String.valueOf(v), k - 1));
            }
        }
    }

    /** The device of the classifier's parameters (the CPU for a block without any). */
    private static Device deviceOf(Block classifier) {
        for (Pair<String, Parameter> p : classifier.getParameters()) {
            if (p.getValue().isInitialized()) {
                return p.getValue().getArray().getDevice();
            }
        }
        return Device.cpu();
    }
}
