package dev.finetune.vision.interpret;

import ai.djl.Device;
import ai.djl.Model;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.training.ParameterStore;
import ai.djl.training.dataset.Record;
import dev.finetune.core.internal.Csv;
import dev.finetune.core.result.ConfusionMatrix;
import dev.finetune.vision.data.ImageDataset;
import dev.finetune.vision.data.ImageSample;

import java.awt.Color;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Objects;

/**
 * A model's predictions on every image of a dataset, kept with their files, to look at its
 * mistakes (as fastai's {@code ClassificationInterpretation}): the highest losses first
 * ({@link #topLosses}), the mistakes as CSV ({@link #writeCsv}) and as a PNG contact sheet with
 * true and predicted labels ({@link #writeContactSheet}), the pairs of classes most confused
 * ({@link #mostConfused}) and a per-class precision/recall table ({@link #report}). A mislabelled
 * image is typically near the top of the losses: the model is confident, and confidently not of
 * its label.
 *
 * <p>{@link #of} runs the model once over the dataset, by index and in order, in batches, in
 * inference mode (no gradients, BatchNorm statistics used, not updated), every array in a
 * sub-manager closed after each batch; the images go through the dataset's own decoding and
 * pipeline, so the model sees what it sees in {@code evaluate} (give the dataset an evaluation
 * pipeline: a training pipeline's random augmentation would be applied too). The block's outputs
 * are read as scores before the softmax (logits), as the library trains them: the loss of an image
 * is the cross-entropy {@code -ln p(true class)} with the softmax computed in double precision,
 * without class weights. Immutable once built.
 */
public final class Interpretation {

    /** Images per forward pass on a CPU (more only take memory; see FeatureCache). */
    static final int CPU_BATCH = 16;
    /** Images per forward pass on a GPU. */
    static final int GPU_BATCH = 64;

    /** Highest loss first (a NaN loss, a broken prediction, first of all), ties by path, then index. */
    static final Comparator<Prediction> BY_LOSS = Comparator
            .comparingDouble(Prediction::loss).reversed()
            .thenComparing(Prediction::path)
            .thenComparingInt(Prediction::index);

    private final List<String> classNames;
    private final List<Prediction> predictions;
    private final List<Prediction> byLoss;
    private final long maxPixels;
    private final Color background;

    Interpretation(List<String> classNames, List<Prediction> predictions, long maxPixels, Color background) {
        this.classNames = List.copyOf(classNames);
        this.predictions = List.copyOf(predictions);
        List<Prediction> sorted = new ArrayList<>(predictions);
        sorted.sort(BY_LOSS);
        this.byLoss = List.copyOf(sorted);
        this.maxPixels = maxPixels;
        this.background = Objects.requireNonNull(background);
    }

    /**
     * Runs a model over a dataset, with the class names of the dataset's catalog.
     *
     * @param model a DJL model whose block outputs one score per class (after a fit, the fine-tuned
     *     model: {@code FineTuner.from(model)} puts the new head into it)
     * @param data the images, with an evaluation pipeline
     * @return every image's prediction
     * @throws IllegalArgumentException if the dataset is empty, or the model's outputs are not
     *     (batch, one score per class)
     * @throws UncheckedIOException if an image cannot be read
     */
    public static Interpretation of(Model model, ImageDataset data) {
        return of(model, data, data.catalog().classNames());
    }

    /**
     * Runs a model over a dataset.
     *
     * @param model a DJL model whose block outputs one score per class
     * @param data the images, with an evaluation pipeline
     * @param classNames the class names, in label order
     * @return every image's prediction
     * @throws IllegalArgumentException if the dataset is empty, or the model's outputs are not
     *     (batch, one score per class)
     * @throws UncheckedIOException if an image cannot be read
     */
    public static Interpretation of(Model model, ImageDataset data, List<String> classNames) {
        return of(model.getBlock(), model.getNDManager(), data, classNames);
    }

    /**
     * Runs a block over a dataset: for a {@code FineTuner}, {@code of(tuner.block(), model.getNDManager(),
     * data, names)}.
     *
     * @param block an initialised block that outputs one score per class
     * @param parameterManager the manager of the block's parameters (its device is used; the
     *     arrays made here live in sub-managers of it, closed batch by batch)
     * @param data the images, with an evaluation pipeline
     * @param classNames the class names, in label order
     * @return every image's prediction
     * @throws IllegalArgumentException if the dataset is empty, the block is not initialised, or
     *     its outputs are not (batch, one score per class)
     * @throws UncheckedIOException if an image cannot be read
     */
    public static Interpretation of(Block block, NDManager parameterManager, ImageDataset data,
            List<String> classNames) {
        Objects.requireNonNull(block, "block");
        Objects.requireNonNull(parameterManager, "parameterManager");
        List<String> names = List.copyOf(classNames);
        if (names.size() < 2) {
            throw new IllegalArgumentException("Interpretation needs at least 2 class names, got " + names);
        }
        if (!block.isInitialized()) {
            throw new IllegalArgumentException("The block is not initialised: load or fit the model before"
                    + " interpreting its predictions.");
        }
        long n = data.size();
        if (n == 0) {
            throw new IllegalArgumentException("The dataset is empty: there is nothing to interpret.");
        }
        List<ImageSample> samples = data.catalog().samples();
        for (long i = 0; i < n; i++) {
            int label = samples.get((int) i).label();
            if (label < 0 || label >= names.size()) {
                throw new IllegalArgumentException(samples.get((int) i).path() + ": label " + label
                        + " is outside the " + names.size() + " class names " + names);
            }
        }
        int batch = parameterManager.getDevice().isGpu() ? GPU_BATCH : CPU_BATCH;
        ParameterStore store = new ParameterStore(parameterManager, false);
        List<Prediction> predictions = new ArrayList<>(Math.toIntExact(n));
        // images are decoded on the host, as FeatureCache does, and only the stacked batch moves
        try (NDManager work = parameterManager.newSubManager();
                NDManager host = NDManager.newBaseManager(Device.cpu())) {
            for (long start = 0; start < n; start += batch) {
                long end = Math.min(n, start + batch);
                try (NDManager step = work.newSubManager(); NDManager hostStep = host.newSubManager()) {
                    NDList inputs = new NDList();
                    for (long i = start; i < end; i++) {
                        Record r = data.get(hostStep, i);
                        inputs.add(r.getData().head());
                    }
                    NDArray x = NDArrays.stack(inputs).toDevice(parameterManager.getDevice(), false);
                    x.attach(step);
                    NDArray out = block.forward(store, new NDList(x), false).head();
                    Shape shape = out.getShape();
                    if (shape.dimension() != 2 || shape.get(0) != end - start || shape.get(1) != names.size()) {
                        throw new IllegalArgumentException("The model's output for a batch of " + (end - start)
                                + " images has shape " + shape + ", not (" + (end - start) + ", " + names.size()
                                + "): one score per class of " + names);
                    }
                    float[] scores = out.toType(DataType.FLOAT32, false).toFloatArray();
                    for (long i = start; i < end; i++) {
                        ImageSample s = samples.get((int) i);
                        predictions.add(predict((int) i, s, scores, (int) (i - start) * names.size(), names));
                    }
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return new Interpretation(names, predictions, data.maxPixels(), data.background());
    }

    /** One image's prediction from its row of scores: a softmax in double precision. */
    static Prediction predict(int index, ImageSample sample, float[] scores, int offset, List<String> names) {
        int classes = names.size();
        int best = 0;
        double max = Double.NEGATIVE_INFINITY;
        for (int c = 0; c < classes; c++) {
            double z = scores[offset + c];
            if (z > max) {
                max = z;
                best = c;
            }
        }
        double sum = 0;
        for (int c = 0; c < classes; c++) {
            sum += Math.exp(scores[offset + c] - max);
        }
        double logSumExp = max + Math.log(sum);
        int t = sample.label();
        double loss = logSumExp - scores[offset + t];
        double probability = Math.exp(scores[offset + best] - logSumExp);
        return new Prediction(index, sample.path(), t, names.get(t), best, names.get(best), probability,
                Math.exp(-loss), loss);
    }

    /** @return the class names, in label order */
    public List<String> classNames() {
        return classNames;
    }

    /** @return every image's prediction, in dataset order */
    public List<Prediction> predictions() {
        return predictions;
    }

    /**
     * The images with the highest loss, as fastai's {@code top_losses}: the most confident mistakes
     * first; when {@code n} exceeds the mistakes, the least confident right answers follow. The
     * order is by loss alone, so with three or more classes a right answer whose true class got a
     * low probability can rank above a mistake where it got a higher one. Ties are ordered by path.
     *
     * @param n how many ({@code Integer.MAX_VALUE} for all)
     * @return at most {@code n} predictions, highest loss first
     * @throws IllegalArgumentException if {@code n} is negative
     */
    public List<Prediction> topLosses(int n) {
        if (n < 0) {
            throw new IllegalArgumentException("topLosses(n): n must be 0 or more, got " + n);
        }
        return byLoss.subList(0, Math.min(n, byLoss.size()));
    }

    /** @return the predictions whose class differs from the label, highest loss first (ties by path) */
    public List<Prediction> mistakes() {
        return byLoss.stream().filter(Prediction::isMistake).toList();
    }

    /** @return the counts of (true, predicted) classes over the dataset */
    public ConfusionMatrix confusion() {
        long[][] counts = new long[classNames.size()][classNames.size()];
        for (Prediction p : predictions) {
            counts[p.trueClass()][p.predicted()]++;
        }
        return new ConfusionMatrix(counts, classNames);
    }

    /**
     * @param n the most pairs ({@code Integer.MAX_VALUE} for all)
     * @return the pairs of classes most often confused, largest count first (ties by name)
     * @see ConfusionMatrix#mostConfused(int)
     */
    public List<ConfusionMatrix.ConfusedPair> mostConfused(int n) {
        return confusion().mostConfused(n);
    }

    /**
     * @return per-class precision, recall, F1 and support, the accuracy and the macro and weighted
     *     averages, as scikit-learn's {@code classification_report}
     * @see ConfusionMatrix#report()
     */
    public String report() {
        return confusion().report();
    }

    /** The CSV header of {@link #mistakesCsv()}. */
    static final List<String> CSV_HEADER = List.of("rank", "path", "true_class", "predicted_class", "probability",
            "true_probability", "loss", "index");

    /**
     * Every mistake as CSV (RFC 4180 quoting, "\n" line ends), highest loss first: rank, path (as the
     * catalog holds it), true and predicted class names, the probability of the prediction and of the
     * true class, the loss, and the image's index in the dataset.
     *
     * @return the CSV text, one line per mistake after the header
     */
    public String mistakesCsv() {
        List<List<?>> rows = new ArrayList<>();
        int rank = 0;
        for (Prediction p : mistakes()) {
            rows.add(List.of(++rank, p.path(), p.trueName(), p.predictedName(), p.probability(), p.trueProbability(),
                    p.loss(), p.index()));
        }
        return Csv.write(CSV_HEADER, rows);
    }

    /**
     * Writes {@link #mistakesCsv()} to a file, creating its folder.
     *
     * @param file the CSV file
     * @return the file
     * @throws IOException if it cannot be written
     */
    public Path writeCsv(Path file) throws IOException {
        createParent(file);
        return Files.writeString(file, mistakesCsv(), StandardCharsets.UTF_8);
    }

    /**
     * Draws the {@code n} highest losses ({@link #topLosses}) as a PNG grid of thumbnails, each
     * captioned with "true / predicted", the probability of the prediction and the loss, and the
     * file name, with {@link ContactSheet#DEFAULT_THUMBNAIL} pixel thumbnails in
     * {@code ceil(sqrt(n))} columns.
     *
     * @param png the file to write, its folder created
     * @param n how many images (at most the dataset's)
     * @return the file
     * @throws IOException if an image cannot be read again or the file cannot be written
     * @throws IllegalArgumentException if {@code n} is not positive
     */
    public Path writeContactSheet(Path png, int n) throws IOException {
        int shown = Math.min(requirePositive(n, "n"), predictions.size());
        return writeContactSheet(png, n, (int) Math.ceil(Math.sqrt(shown)), ContactSheet.DEFAULT_THUMBNAIL);
    }

    /**
     * Draws the {@code n} highest losses as a PNG grid: see {@link ContactSheet} for the layout.
     * Each image is decoded from its file as the dataset decodes it (the library's decoder,
     * transparency over the dataset's background), shown whole and scaled to fit its square.
     *
     * @param png the file to write, its folder created
     * @param n how many images (at most the dataset's)
     * @param columns thumbnails per row
     * @param thumbnail the side of each thumbnail's square, in pixels
     * @return the file
     * @throws IOException if an image cannot be read again or the file cannot be written
     * @throws IllegalArgumentException if a number is not positive
     */
    public Path writeContactSheet(Path png, int n, int columns, int thumbnail) throws IOException {
        requirePositive(n, "n");
        List<Prediction> shown = topLosses(n);
        createParent(png);
        ContactSheet.write(png, shown, columns, thumbnail, maxPixels, background);
        return png;
    }

    private static int requirePositive(int value, String name) {
        if (value < 1) {
            throw new IllegalArgumentException(name + " must be 1 or more, got " + value);
        }
        return value;
    }

    private static void createParent(Path file) throws IOException {
        Path dir = file.toAbsolutePath().getParent();
        if (dir != null) {
            Files.createDirectories(dir);
        }
    }

    /** @return the counts, the most confused pairs and the per-class table */
    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder();
        long mistakes = predictions.stream().filter(Prediction::isMistake).count();
        sb.append(String.format(Locale.ROOT, "%d images: %d right, %d mistakes (accuracy %.4f)%n", predictions.size(),
                predictions.size() - mistakes, mistakes, confusion().accuracy()));
        List<ConfusionMatrix.ConfusedPair> pairs = mostConfused(5);
        if (!pairs.isEmpty()) {
            sb.append("most confused (true -> predicted: count): ");
            for (int i = 0; i < pairs.size(); i++) {
                sb.append(i == 0 ? "" : ", ").append(pairs.get(i));
            }
            sb.append(System.lineSeparator());
        }
        sb.append(report());
        return sb.toString();
    }
}
