package dev.finetune.examples.quality;

import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.modality.cv.ImageFactory;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.nn.core.Linear;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import ai.djl.training.initializer.XavierInitializer;
import ai.djl.training.loss.Loss;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.training.tracker.Tracker;
import ai.djl.util.Pair;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import javax.imageio.ImageIO;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * The plain-DJL baseline of the quality benchmark (issue 12, point 6): what a DJL user writes without this
 * library. Uses DJL and the JDK only, no finetune class (and picocli for its command line).
 *
 * <ol>
 *   <li>a frozen TorchScript embedding (e.g. {@code models/mobilenetv2-nsfwjs-embedding.pt}: RGB in [0, 1],
 *       NCHW, 224x224, no mean/std; output (N, features)), loaded with {@code Model.load} and run in
 *       inference mode;</li>
 *   <li>each image decoded with {@code ImageIO}, the whole image resized to 224x224 (bilinear, aspect ratio
 *       not kept) and drawn over a white background (alpha composited onto white: DJL's own image decoder
 *       drops alpha and keeps whatever RGB lies under transparent pixels);</li>
 *   <li>one {@link Linear} layer (Xavier initialisation, as DJL's {@code DefaultTrainingConfig}) trained on
 *       the features with AdamW, lr 1e-3 fixed, DJL's default weight decay, {@value #STEPS} full-batch steps, softmax cross-entropy;</li>
 *   <li>accuracy on the test images.</li>
 * </ol>
 *
 * <p>Run: {@code mvn -q -pl finetune-examples exec:exec -Dmain.class=dev.finetune.examples.quality.PlainDjlBaseline
 * -Dapp.args="MODEL.pt TRAIN_DIR [TEST_DIR] [--per-class N]"} (class folders; with one folder, a seeded 70/30
 * split per class; {@code --per-class} caps each class of each side, seeded); {@code --help}.
 */
@Command(name = "PlainDjlBaseline", mixinStandardHelpOptions = true,
        description = "The plain-DJL baseline: a frozen TorchScript embedding, one linear layer trained with AdamW"
                + " on its features, accuracy on the test images.")
public final class PlainDjlBaseline implements Callable<Integer> {

    /** Full-batch AdamW steps. */
    public static final int STEPS = 300;
    /** Learning rate of the linear layer. */
    public static final float LEARNING_RATE = 1e-3f;
    /** Input side of the embedding. */
    public static final int SIZE = 224;
    /** Images per embedding forward: on a busy 2-core CPU, 1-4 ran 2-3x faster per image than 16-32. */
    private static final int BATCH = 4;

    @Parameters(index = "0", paramLabel = "MODEL.pt",
            description = "the TorchScript embedding (RGB in [0, 1], NCHW, 224x224; output (N, features))")
    private Path model;

    @Parameters(index = "1", paramLabel = "TRAIN_DIR", description = "the training images, one folder per class")
    private Path trainDir;

    @Parameters(index = "2", arity = "0..1", paramLabel = "TEST_DIR",
            description = "the test images, the same class folders (default: a seeded 70/30 split of TRAIN_DIR)")
    private Path testDir;

    @Option(names = "--per-class", paramLabel = "N", description = "at most N images of each class on each side, seeded"
            + " (default: all)")
    private Integer perClass;

    private PlainDjlBaseline() {}

    /**
     * An image file and its class index.
     *
     * @param file the image (PNG, JPEG, anything {@code ImageIO} reads)
     * @param label the class index, 0-based
     */
    public record LabeledImage(Path file, int label) {}

    /**
     * What one run measured.
     *
     * @param testAccuracy fraction of test images classified correctly
     * @param wallSeconds the whole run: loading the model, decoding, features, training, testing
     * @param featureSeconds decoding and embedding all images
     * @param trainSeconds the {@value #STEPS} training steps
     * @param trainImages training images
     * @param testImages test images
     * @param classes number of classes
     * @param finalTrainLoss training loss at the last step
     */
    public record Result(double testAccuracy, double wallSeconds, double featureSeconds, double trainSeconds,
            int trainImages, int testImages, int classes, double finalTrainLoss) {
        @Override
        public String toString() {
            return String.format(Locale.ROOT,
                    "plain DJL baseline: test accuracy %.4f (%d classes, %d train / %d test images), %.1f s wall"
                            + " (features %.1f s, %d steps %.1f s), final train loss %.4f",
                    testAccuracy, classes, trainImages, testImages, wallSeconds, featureSeconds, STEPS,
                    trainSeconds, finalTrainLoss);
        }
    }

    /**
     * Runs the baseline.
     *
     * @param modelPath the TorchScript embedding
     * @param train training images with labels
     * @param test test images with labels
     * @param seed DJL's random seed (initialisation of the linear layer)
     * @return test accuracy and timings
     * @throws Exception if the model or an image cannot be read
     */
    public static Result run(Path modelPath, List<LabeledImage> train, List<LabeledImage> test, long seed)
            throws Exception {
        if (train.isEmpty() || test.isEmpty()) {
            throw new IllegalArgumentException("need training and test images, got " + train.size() + " and "
                    + test.size());
        }
        long t0 = System.nanoTime();
        int classes = 1 + Stream.concat(train.stream(), test.stream()).mapToInt(LabeledImage::label).max()
                .orElseThrow();
        Engine.getInstance().setRandomSeed((int) seed);
        try (NDManager manager = NDManager.newBaseManager();
                Model backbone = Model.newInstance("embedding", "PyTorch")) {
            backbone.load(modelPath);
            long f0 = System.nanoTime();
            NDArray trainX = features(backbone.getBlock(), manager, train);
            NDArray testX = features(backbone.getBlock(), manager, test);
            double featureSeconds = (System.nanoTime() - f0) / 1e9;
            NDArray trainY = labels(manager, train);
            int[] testY = test.stream().mapToInt(LabeledImage::label).toArray();

            long s0 = System.nanoTime();
            // The loop drives the optimizer itself instead of DJL's Trainer: Trainer.step() refuses the first
            // step when the SIGNED sum of all gradients is exactly 0, and for one Linear layer under softmax
            // cross-entropy that sum is 0 in exact arithmetic (each sample's logit gradients sum to 0), so
            // whether DJL 0.35.1 throws "Gradient values are all zeros" depends on float rounding (it did on
            // the openclipart set).
            Linear linear = Linear.builder().setUnits(classes).build();
            linear.setInitializer(new XavierInitializer(), Parameter.Type.WEIGHT); // DefaultTrainingConfig's
            linear.initialize(manager, DataType.FLOAT32, new Shape(1, trainX.getShape().get(1)));
            Optimizer adamW = Optimizer.adamW().optLearningRateTracker(Tracker.fixed(LEARNING_RATE)).build();
            Loss lossFunction = Loss.softmaxCrossEntropyLoss();
            double lastLoss = Double.NaN;
            for (int step = 0; step < STEPS; step++) {
                try (NDManager stepManager = manager.newSubManager()) {
                    trainX.tempAttach(stepManager);
                    trainY.tempAttach(stepManager);
                    try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                        NDList out = linear.forward(new ParameterStore(stepManager, false), new NDList(trainX), true);
                        NDArray loss = lossFunction.evaluate(new NDList(trainY), out);
                        gc.backward(loss);
                        if (step == STEPS - 1) {
                            lastLoss = loss.getFloat();
                        }
                    }
                    for (Pair<String, Parameter> p : linear.getParameters()) {
                        NDArray weight = p.getValue().getArray();
                        NDArray grad = weight.getGradient();
                        adamW.update(p.getValue().getId(), weight, grad);
                        grad.subi(grad); // libtorch accumulates gradients: zero them for the next step
                    }
                }
            }
            double trainSeconds = (System.nanoTime() - s0) / 1e9;
            int correct = 0;
            try (NDManager evalManager = manager.newSubManager()) {
                testX.tempAttach(evalManager);
                NDArray logits = linear.forward(new ParameterStore(evalManager, false), new NDList(testX), false)
                        .singletonOrThrow();
                long[] predicted = logits.argMax(1).toType(DataType.INT64, false).toLongArray();
                for (int i = 0; i < predicted.length; i++) {
                    if (predicted[i] == testY[i]) {
                        correct++;
                    }
                }
            }
            double wall = (System.nanoTime() - t0) / 1e9;
            return new Result((double) correct / test.size(), wall, featureSeconds, trainSeconds,
                    train.size(), test.size(), classes, lastLoss);
        }
    }

    /** Embeds the images in batches (inference mode); returns (N, features) in {@code manager}. */
    private static NDArray features(Block block, NDManager manager, List<LabeledImage> images) throws IOException {
        List<NDArray> parts = new ArrayList<>();
        for (int from = 0; from < images.size(); from += BATCH) {
            List<LabeledImage> batch = images.subList(from, Math.min(images.size(), from + BATCH));
            try (NDManager batchManager = manager.newSubManager()) {
                NDList pixels = new NDList();
                for (LabeledImage image : batch) {
                    pixels.add(pixels(batchManager, image.file()));
                }
                NDArray x = NDArrays.stack(pixels);
                NDArray out = block.forward(new ParameterStore(batchManager, false), new NDList(x), false)
                        .singletonOrThrow();
                float[] bad = out.isNaN().logicalOr(out.isInfinite()).toType(DataType.FLOAT32, false)
                        .sum(new int[] {1}).toFloatArray();
                for (int i = 0; i < bad.length; i++) {
                    if (bad[i] > 0) {
                        throw new IOException("the embedding gave NaN/inf features for " + batch.get(i).file());
                    }
                }
                out.attach(manager);
                parts.add(out);
            }
        }
        NDArray all = parts.size() == 1 ? parts.get(0) : NDArrays.concat(new NDList(parts));
        return all;
    }

    /** One image: composited onto white, resized to 224x224, CHW float in [0, 1]. */
    static NDArray pixels(NDManager manager, Path file) throws IOException {
        BufferedImage source = ImageIO.read(file.toFile());
        if (source == null) {
            throw new IOException("not an image ImageIO can read: " + file);
        }
        BufferedImage rgb = new BufferedImage(SIZE, SIZE, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = rgb.createGraphics();
        try {
            g.setColor(Color.WHITE);
            g.fillRect(0, 0, SIZE, SIZE);
            g.setRenderingHint(RenderingHints.KEY_INTERPOLATION, RenderingHints.VALUE_INTERPOLATION_BILINEAR);
            g.setRenderingHint(RenderingHints.KEY_RENDERING, RenderingHints.VALUE_RENDER_QUALITY);
            g.drawImage(source, 0, 0, SIZE, SIZE, null);
        } finally {
            g.dispose();
        }
        NDArray hwc = ImageFactory.getInstance().fromImage(rgb).toNDArray(manager); // HWC uint8 RGB
        return hwc.toType(DataType.FLOAT32, false).div(255f).transpose(2, 0, 1);
    }

    private static NDArray labels(NDManager manager, List<LabeledImage> images) {
        float[] y = new float[images.size()];
        for (int i = 0; i < y.length; i++) {
            y[i] = images.get(i).label();
        }
        return manager.create(y);
    }

    /**
     * Lists a folder of class folders (one folder per class, sorted by name; PNG/JPEG files inside, sorted).
     *
     * @param root the folder
     * @param classes class names giving the label order, or null to take the sorted subfolder names
     * @return the images with labels
     * @throws IOException if the folder cannot be read
     */
    public static List<LabeledImage> listFolder(Path root, List<String> classes) throws IOException {
        List<String> names = classes != null ? classes : classNames(root);
        List<LabeledImage> out = new ArrayList<>();
        for (int label = 0; label < names.size(); label++) {
            Path dir = root.resolve(names.get(label));
            try (Stream<Path> files = Files.list(dir)) {
                for (Path f : files.filter(PlainDjlBaseline::isRaster).sorted().collect(Collectors.toList())) {
                    out.add(new LabeledImage(f, label));
                }
            }
        }
        return out;
    }

    /**
     * The sorted subfolder names of a folder.
     *
     * @param root the folder
     * @return its subfolders' names
     * @throws IOException if it cannot be read
     */
    public static List<String> classNames(Path root) throws IOException {
        try (Stream<Path> dirs = Files.list(root)) {
            return dirs.filter(Files::isDirectory).map(p -> p.getFileName().toString()).sorted()
                    .collect(Collectors.toList());
        }
    }

    /**
     * A seeded per-class split.
     *
     * @param images the images
     * @param trainFraction the fraction of each class that goes to training (at least one image each side)
     * @param seed shuffle seed
     * @return {train, test}
     */
    public static List<List<LabeledImage>> split(List<LabeledImage> images, double trainFraction, long seed) {
        List<LabeledImage> train = new ArrayList<>();
        List<LabeledImage> test = new ArrayList<>();
        int classes = images.stream().mapToInt(LabeledImage::label).max().orElse(-1) + 1;
        Random random = new Random(seed);
        for (int c = 0; c < classes; c++) {
            final int label = c;
            List<LabeledImage> of = images.stream().filter(i -> i.label() == label).collect(Collectors.toList());
            Collections.shuffle(of, random);
            int n = (int) Math.round(of.size() * trainFraction);
            n = Math.max(1, Math.min(of.size() - 1, n));
            train.addAll(of.subList(0, n));
            test.addAll(of.subList(n, of.size()));
        }
        return List.of(train, test);
    }

    /**
     * At most {@code n} images of each class, chosen with a seeded shuffle, in the input's order.
     *
     * @param images the images
     * @param n the cap per class
     * @param seed shuffle seed
     * @return the kept images
     */
    public static List<LabeledImage> limitPerClass(List<LabeledImage> images, int n, long seed) {
        List<LabeledImage> shuffled = new ArrayList<>(images);
        Collections.shuffle(shuffled, new Random(seed));
        java.util.Map<Integer, Integer> count = new java.util.HashMap<>();
        java.util.Set<LabeledImage> kept = new java.util.HashSet<>();
        for (LabeledImage i : shuffled) {
            if (count.merge(i.label(), 1, Integer::sum) <= n) {
                kept.add(i);
            }
        }
        return images.stream().filter(kept::contains).collect(Collectors.toList());
    }

    private static boolean isRaster(Path p) {
        String n = p.getFileName().toString().toLowerCase(Locale.ROOT);
        return Files.isRegularFile(p) && (n.endsWith(".png") || n.endsWith(".jpg") || n.endsWith(".jpeg"));
    }

    /**
     * {@code MODEL.pt TRAIN_DIR [TEST_DIR] [--per-class N]}: class folders; with no test folder, a seeded 70/30
     * split; {@code --per-class} caps each class of each side (seeded); {@code --help}.
     *
     * @param args the arguments
     */
    public static void main(String[] args) {
        System.exit(new CommandLine(new PlainDjlBaseline()).execute(args));
    }

    /**
     * Lists the images, runs the baseline and prints its result.
     *
     * @return 0
     * @throws Exception on failure
     */
    @Override
    public Integer call() throws Exception {
        List<String> classes = classNames(trainDir);
        List<LabeledImage> train;
        List<LabeledImage> test;
        if (testDir != null) {
            train = listFolder(trainDir, classes);
            test = listFolder(testDir, classes);
        } else {
            List<List<LabeledImage>> parts = split(listFolder(trainDir, classes), 0.7, 42);
            train = parts.get(0);
            test = parts.get(1);
        }
        if (perClass != null) {
            train = limitPerClass(train, perClass, 42);
            test = limitPerClass(test, perClass, 43);
        }
        System.out.println("classes " + classes);
        System.out.println(run(model, train, test, 42));
        return 0;
    }
}
