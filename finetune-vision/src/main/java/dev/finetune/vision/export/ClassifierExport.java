package dev.finetune.vision.export;

import ai.djl.MalformedModelException;
import ai.djl.Model;
import ai.djl.modality.Classifications;
import ai.djl.modality.cv.Image;
import ai.djl.modality.cv.transform.ToTensor;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.nn.SymbolBlock;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ModelNotFoundException;
import ai.djl.repository.zoo.ZooModel;
import ai.djl.translate.Pipeline;
import ai.djl.translate.Translator;
import dev.finetune.core.Precision;
import dev.finetune.core.internal.ParameterValues;
import dev.finetune.vision.image.Backdrop;
import dev.finetune.vision.image.Channels;
import dev.finetune.vision.image.Framing;
import dev.finetune.vision.image.Normalization;
import dev.finetune.vision.image.ResizeMode;

import java.awt.Color;
import java.io.IOException;
import java.io.Reader;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Properties;

/**
 * Writes a fine-tuned classifier as a DJL model directory: the weights ({@code name-0000.params}),
 * {@code synset.txt} with the class names, and a {@code serving.properties} naming this library's
 * image classification translator ({@link ImageClassifierTranslatorFactory}) with the preprocessing
 * the network was evaluated with, so that {@link #criteria} or {@link #load} +
 * {@code Predictor<Image, Classifications>} serve it with no further code and see exactly what
 * evaluation saw, for an image of any size (see {@link #servingProperties} for a plain DJL
 * {@code Criteria}).
 *
 * <p>A TorchScript backbone (alone, or followed by a new linear head) is rebuilt by DJL itself:
 * {@code serving.properties} names {@link TorchScriptClassifierBlockFactory}, so a plain
 * {@code Criteria} with the directory as model path loads it in a fresh JVM. A DJL-built block has
 * no such description: pass the same architecture with {@code Criteria.Builder.optBlock}.
 *
 * <pre>{@code
 * // after FineTuner.from(model).replaceHead(n)...fit(train, validation) on a TorchScript backbone
 * ClassifierExport.save(model, Path.of("export"), "classifier", images.classNames(), pipeline.toPreprocessing());
 *
 * try (ZooModel<Image, Classifications> served = ClassifierExport.load(Path.of("export"));
 *         Predictor<Image, Classifications> predictor = served.newPredictor()) {
 *     Image image = ImageFactory.getInstance().fromFile(Path.of("cat.jpg"));
 *     System.out.println(predictor.predict(image).best());    // class name and probability
 * }
 * // a DJL-built block: ClassifierExport.criteria(dir).optBlock(architecture).build().loadModel()
 * }</pre>
 */
public final class ClassifierExport {

    private static final String UNFITTED =
            "fit the model, or restore a checkpoint into it, before exporting. Nothing was written.";


    /** The {@code serving.properties} key stating the test-time augmentation of the served predictions. */
    public static final String TTA_PROPERTY = "finetune.testTimeAugmentation";
    /** The {@code serving.properties} key that records an export served in bfloat16. */
    public static final String PRECISION_PROPERTY = "finetune.precision";

    private ClassifierExport() {}

    /**
     * How an image becomes the network's input, the same in evaluation and serving: composited over
     * the background if transparent, brought to colour or grey, framed to exactly width x height by
     * the resize mode, scaled to [0, 1] and optionally normalised. {@link #pipeline()} is that
     * preprocessing as a DJL pipeline; the exported model's translator applies it.
     *
     * @param width input width
     * @param height input height
     * @param grey whether the network takes one grey channel
     * @param resizeMode how an image of any size becomes width x height
     * @param mean per-channel mean subtracted after scaling to [0, 1] (3 values, 1 for grey), or null for none
     * @param std per-channel standard deviation, or null for none
     * @param resizeShort for {@code CENTER_CROP}, the short side the image is scaled to before the
     *     crop (e.g. 256 for a 224 crop), or 0 for the larger of width and height; 0 for other modes
     * @param background the colour under transparent pixels and of letterbox bars (default white)
     */
    public record Preprocessing(int width, int height, boolean grey, ResizeMode resizeMode, float[] mean, float[] std,
                                int resizeShort, Color background) {
        /**
         * Validates the sizes, the normalisation and the mode.
         *
         * @param width input width
         * @param height input height
         * @param grey whether the network takes one grey channel
         * @param resizeMode how an image of any size becomes width x height
         * @param mean per-channel mean subtracted after scaling to [0, 1] (3 values, 1 for grey), or null for none
         * @param std per-channel standard deviation, or null for none
         * @param resizeShort for {@code CENTER_CROP}, the short side the image is scaled to before the
         *     crop (e.g. 256 for a 224 crop), or 0 for the larger of width and height; 0 for other modes
         * @param background the colour under transparent pixels and of letterbox bars (default white)
         */
        public Preprocessing {
            if (width < 1 || height < 1) {
                throw new IllegalArgumentException("Input size must be positive, got " + width + "x" + height);
            }
            Objects.requireNonNull(resizeMode, "resizeMode");
            Objects.requireNonNull(background, "background colour (e.g. java.awt.Color.WHITE)");
            if (resizeShort != 0 && (resizeMode != ResizeMode.CENTER_CROP || resizeShort < Math.max(width, height))) {
                throw new IllegalArgumentException("resizeShort " + resizeShort + " needs CENTER_CROP and must be at "
                        + "least the input size " + width + "x" + height + " (or 0)");
            }
            int channels = grey ? 1 : 3;
            if ((mean == null) != (std == null)
                    || (mean != null && (mean.length != channels || std.length != channels))) {
                throw new IllegalArgumentException("Normalisation takes " + channels + " mean(s) and " + channels
                        + " standard deviation(s) for " + (grey ? "grey" : "colour") + " input, or null for both.");
            }
            mean = mean == null ? null : mean.clone();
            std = std == null ? null : std.clone();
        }

        /**
         * With a centre crop or a squash, over a white background.
         *
         * @param width input width
         * @param height input height
         * @param grey whether the network takes one grey channel
         * @param centerCrop true: resize the short side and centre-crop; false: squash to width x height
         * @param mean per-channel mean, or null for none
         * @param std per-channel standard deviation, or null for none
         * @param resizeShort with centerCrop, the short side before the crop, or 0 for the larger of width and height
         */
        public Preprocessing(int width, int height, boolean grey, boolean centerCrop, float[] mean, float[] std,
                             int resizeShort) {
            this(width, height, grey, centerCrop ? ResizeMode.CENTER_CROP : ResizeMode.SQUASH, mean, std, resizeShort,
                    Backdrop.DEFAULT);
        }

        /**
         * Without a separate resize: the short side is resized to the larger of width and height.
         *
         * @param width input width
         * @param height input height
         * @param grey whether the network takes one grey channel
         * @param centerCrop true: resize the short side and centre-crop; false: squash to width x height
         * @param mean per-channel mean, or null for none
         * @param std per-channel standard deviation, or null for none
         */
        public Preprocessing(int width, int height, boolean grey, boolean centerCrop, float[] mean, float[] std) {
            this(width, height, grey, centerCrop, mean, std, 0);
        }

        /**
         * Grey images resized to {@code size} x {@code size}, scaled to [0, 1] (as IDX data).
         *
         * @param size the side
         * @return the preprocessing
         */
        public static Preprocessing grey(int size) {
            return new Preprocessing(size, size, true, false, null, null);
        }

        /**
         * ImageNet style: resize, centre crop, colour, ImageNet mean and std.
         *
         * @param size the side
         * @return the preprocessing
         */
        public static Preprocessing imageNet(int size) {
            return new Preprocessing(size, size, false, true,
                    new float[] {0.485f, 0.456f, 0.406f}, new float[] {0.229f, 0.224f, 0.225f});
        }

        /** @return whether the mode is {@link ResizeMode#CENTER_CROP} */
        public boolean centerCrop() {
            return resizeMode == ResizeMode.CENTER_CROP;
        }

        /** @return a copy of the per-channel mean, or null for none */
        @Override
        public float[] mean() {
            return mean == null ? null : mean.clone();
        }

        /** @return a copy of the per-channel standard deviation, or null for none */
        @Override
        public float[] std() {
            return std == null ? null : std.clone();
        }

        /**
         * The preprocessing of a decoded HWC image (uint8 or float on the 0-255 scale, 1 or 3
         * channels, already composited over the background) into the CHW FLOAT32 network input:
         * channels, framing, to tensor, normalisation. The served model applies exactly this.
         *
         * @return a new DJL pipeline
         */
        public Pipeline pipeline() {
            Pipeline p = new Pipeline();
            p.add(new Channels(grey ? 1 : 3));
            p.add(new Framing(resizeMode, width, height, resizeShort, background));
            p.add(new ToTensor());
            if (mean != null) {
                p.add(new Normalization(mean, std));
            }
            return p;
        }

        /**
         * Reads the settings {@link ClassifierExport#servingProperties} writes.
         *
         * @param arguments {@code serving.properties} entries (DJL passes them as translator arguments)
         * @return the preprocessing
         * @throws IllegalArgumentException naming the entry that is missing or malformed
         */
        public static Preprocessing fromArguments(Map<String, ?> arguments) {
            return ServingArguments.preprocessing(arguments);
        }
    }

    /**
     * Saves the model directory.
     *
     * @param model the fine-tuned model (its block holds the new head)
     * @param dir the directory, created if needed
     * @param name the model name (the weights file prefix)
     * @param classNames class names in label order
     * @param preprocessing how images become inputs
     * @throws IOException if writing fails
     */
    public static void save(Model model, Path dir, String name, List<String> classNames, Preprocessing preprocessing)
            throws IOException {
        write(model, dir, name, classNames, preprocessing, null, Precision.FP32);
    }

    /**
     * Saves the model directory to be served in a given precision. The weights written are the
     * model's float32 weights either way; with {@link Precision#BF16} a TorchScript classifier's
     * layout becomes {@code bf16(...)}, and {@link #load} serves it with its TorchScript modules and
     * weighted layers computing in bfloat16 (inputs and probabilities stay float32); where the
     * serving machine has no bfloat16 arithmetic it logs why and serves float32. A DJL-built block
     * has no layout: {@code serving.properties} records {@value #PRECISION_PROPERTY}, and the
     * architecture is given as {@code criteria(dir).optBlock(servingBlock(architecture,
     * Precision.BF16))}.
     *
     * <pre>{@code
     * ClassifierExport.save(model, dir, "clothes", names, Preprocessing.imageNet(224), Precision.BF16);
     * try (ZooModel<Image, Classifications> served = ClassifierExport.load(dir)) { ... }
     * }</pre>
     *
     * @param model the fine-tuned model (its block holds the new head)
     * @param dir the directory, created if needed
     * @param name the model name (the weights file prefix)
     * @param classNames class names in label order
     * @param preprocessing how images become inputs
     * @param precision the precision predictions compute in
     * @throws IOException if writing fails
     */
    public static void save(Model model, Path dir, String name, List<String> classNames, Preprocessing preprocessing,
            Precision precision) throws IOException {
        write(model, dir, name, classNames, preprocessing, null, Objects.requireNonNull(precision, "precision"));
    }

    /**
     * A DJL-built architecture for {@code criteria(dir).optBlock(...)} that serves in a precision
     * (see {@link #save(Model, Path, String, List, Preprocessing, Precision)}).
     *
     * @param architecture the architecture the export was trained with (values are loaded into it)
     * @param precision the precision predictions compute in
     * @return the block to give the criteria
     */
    public static Block servingBlock(Block architecture, Precision precision) {
        return precision == Precision.BF16 ? new Bf16ServingBlock(architecture) : architecture;
    }

    private static void write(Model model, Path dir, String name, List<String> classNames, Preprocessing preprocessing,
            String augmentation, Precision precision) throws IOException {
        if (classNames.isEmpty()) {
            throw new IllegalArgumentException("Give the class names of the head.");
        }
        Block block = model.getBlock();
        ParameterValues.require(block, UNFITTED);
        Shape input = new Shape(1, preprocessing.grey() ? 1 : 3, preprocessing.height(), preprocessing.width());
        if (block instanceof SymbolBlock) {
            // an imported module that kept its own head was never initialised nor, perhaps, run:
            // DJL then knows no input shape and refuses to save. Record the translator's input
            // shape, and run it once, which also checks that the module takes that input.
            if (!block.isInitialized() && hasAllValues(block)) {
                block.initialize(model.getNDManager(), DataType.FLOAT32, input);
            }
            try {
                block.getOutputShapes(new Shape[] {input});
            } catch (RuntimeException e) {
                throw new IllegalArgumentException(
                        "The model cannot run on the input the preprocessing gives, " + input + ": "
                                + e.getMessage().lines().findFirst().orElse("") + ". Set the"
                                + " Preprocessing size and colour to what the network takes.",
                        e);
            }
        }
        checkClassCount(model, input, classNames);
        Files.createDirectories(dir);
        model.save(dir, name);
        Files.write(dir.resolve("synset.txt"), classNames, StandardCharsets.UTF_8);
        Properties p = servingProperties(preprocessing);
        p.setProperty("option.modelName", name);
        String layout = TorchScriptClassifierBlockFactory.layoutOf(model.getBlock());
        if (layout != null) {
            p.setProperty("blockFactory", TorchScriptClassifierBlockFactory.class.getName());
            p.setProperty(TorchScriptClassifierBlockFactory.LAYOUT,
                    precision == Precision.BF16 ? Bf16ServingBlock.LAYOUT + "(" + layout + ")" : layout);
        }
        if (precision == Precision.BF16) {
            p.setProperty(PRECISION_PROPERTY, precision.name());
        }
        if (augmentation != null) {
            p.setProperty(TTA_PROPERTY, augmentation);
        }
        try (Writer w = Files.newBufferedWriter(dir.resolve("serving.properties"), StandardCharsets.UTF_8)) {
            p.store(w, "finetune export: DJL image classification translator settings");
        }
    }

    /**
     * Saves the model directory with test-time augmentation carried into its predictions: the
     * saved block is the model's wrapped by {@link TestTimeAugmentation#wrap}, so that every served
     * prediction is the probabilities averaged over the augmentation's views, as
     * {@link TestTimeAugmentation#evaluate} measured them. The model's own block is left as it is.
     * {@code serving.properties} states the views ({@value #TTA_PROPERTY}); a TorchScript
     * classifier reloads with {@link #load} as before, a DJL-built block with
     * {@code criteria(dir).optBlock(tta.wrap(architecture))}. Costs one forward pass per view.
     *
     * @param model the fine-tuned model (its block holds the new head)
     * @param dir the directory, created if needed
     * @param name the model name (the weights file prefix)
     * @param classNames class names in label order
     * @param preprocessing how images become inputs
     * @param augmentation the views averaged in every prediction
     * @throws IOException if writing fails
     */
    public static void save(Model model, Path dir, String name, List<String> classNames, Preprocessing preprocessing,
            TestTimeAugmentation augmentation) throws IOException {
        Objects.requireNonNull(augmentation, "augmentation: give the views, e.g. TestTimeAugmentation.mirror()");
        Block own = model.getBlock();
        if (own == null) {
            throw new IllegalArgumentException("The model has no block: fit or load it first.");
        }
        Block wrapped = augmentation.wrap(own);
        Shape input = new Shape(1, preprocessing.grey() ? 1 : 3, preprocessing.height(), preprocessing.width());
        model.setBlock(wrapped);
        try {
            ParameterValues.require(own, UNFITTED);
            if (own instanceof SymbolBlock && !own.isInitialized()) {
                own.initialize(model.getNDManager(), DataType.FLOAT32, input); // as save does for a bare module
            }
            wrapped.initialize(model.getNDManager(), DataType.FLOAT32, input); // records the input shape; values kept
            write(model, dir, name, classNames, preprocessing, augmentation.describe(), Precision.FP32);
        } finally {
            model.setBlock(own);
        }
    }

    /**
     * Runs the model once on a blank input of the preprocessing's shape, so that a network that
     * cannot take it (a grey preprocessing for an RGB backbone) fails here, not at the first
     * prediction; and refuses class names that do not match the classifier's outputs (a served
     * model would drop or misname classes).
     */
    private static void checkClassCount(Model model, Shape input, List<String> classNames) {
        Shape out;
        try (ai.djl.ndarray.NDManager m = model.getNDManager().newSubManager()) {
            ai.djl.ndarray.NDList result = model.getBlock().forward(new ai.djl.training.ParameterStore(m, false),
                    new ai.djl.ndarray.NDList(m.zeros(input)), false);
            out = result.head().getShape();
        } catch (RuntimeException e) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "The model cannot run on the input the preprocessing gives, %s (%s): %s. Set the Preprocessing"
                            + " size and colour to what the network takes (an RGB backbone takes 3 channels)."
                            + " Nothing was written.", input, input.get(1) == 1 ? "grey" : "RGB",
                    String.valueOf(e.getMessage()).lines().findFirst().orElse("")), e);
        }
        if (out.dimension() == 2 && out.get(1) != classNames.size()) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "The model outputs %d classes but %d class names were given (%s): give one name per output,"
                            + " in label order.", out.get(1), classNames.size(), classNames));
        }
    }

    /**
     * The {@code serving.properties} settings that {@link #save} writes: this library's translator
     * factory ({@link ImageClassifierTranslatorFactory}) with the preprocessing, read back by
     * {@link Preprocessing#fromArguments}, which {@link #criteria} and {@link #load} serve exactly
     * (transparency, every image size, every resize mode; finetune-vision must be on the class
     * path). DJL 0.35.1 picks its own translator for a plain {@code Criteria} of
     * {@code Image -> Classifications}, whatever {@code translatorFactory} says; for it the settings
     * also hold DJL's translator keys as the closest DJL equivalent: a squash is the same resize, a
     * centre crop is DJL's {@code ResizeShort} + {@code CenterCrop} (3x225x224 for some image
     * sizes), a letterbox has none (DJL squashes), and transparency is not composited.
     *
     * @param preprocessing how images become inputs
     * @return the settings
     */
    public static Properties servingProperties(Preprocessing preprocessing) {
        Properties p = new Properties();
        p.setProperty("engine", "PyTorch");
        p.setProperty("translatorFactory", ImageClassifierTranslatorFactory.class.getName());
        ServingArguments.write(preprocessing, p);
        // DJL's own image classification translator, for a plain Criteria
        p.setProperty("flag", preprocessing.grey() ? "GRAYSCALE" : "COLOR");
        if (preprocessing.centerCrop()) {
            p.setProperty("resizeShort",
                    preprocessing.resizeShort() > 0 ? String.valueOf(preprocessing.resizeShort()) : "true");
            p.setProperty("centerCrop", "true");
        } else {
            p.setProperty("resize", "true");
        }
        p.setProperty("toTensor", "true");
        if (preprocessing.mean() != null && !preprocessing.grey()) {
            p.setProperty("normalize", p.getProperty(ServingArguments.NORMALIZE));
        }
        p.setProperty("applySoftmax", "true");
        return p;
    }

    /**
     * The translator an exported model is served with, for a model in memory: the same
     * preprocessing (transparency, framing, normalisation) and softmax probabilities per class.
     * Its input is an image already decoded: decode files with {@link ExactImageFactory} (as
     * training decodes them, EXIF orientation included), not DJL's default factory.
     *
     * @param preprocessing how images become inputs
     * @param classNames class names in label order
     * @return a new translator
     */
    public static Translator<Image, Classifications> translator(Preprocessing preprocessing, List<String> classNames) {
        return ImageClassifierTranslatorFactory.translator(preprocessing, List.copyOf(classNames), true, 5);
    }

    /**
     * DJL criteria for an exported directory: image in, classifications out, the PyTorch engine,
     * and this library's translator, which preprocesses exactly as evaluation did (give it
     * images decoded by {@link ExactImageFactory}, or {@code setTypes(Path.class,
     * Classifications.class)} to have files decoded as training decodes them). Add
     * {@code optBlock(architecture)} for a DJL-built block; a TorchScript backbone needs nothing more.
     *
     * @param dir a directory written by {@link #save}
     * @return the criteria builder, ready to {@code build()}
     * @throws IOException if the directory has no {@code serving.properties}
     */
    public static Criteria.Builder<Image, Classifications> criteria(Path dir) throws IOException {
        readServingProperties(dir);
        return Criteria.builder()
                .setTypes(Image.class, Classifications.class)
                .optModelPath(dir)
                .optEngine("PyTorch")
                .optTranslatorFactory(new ImageClassifierTranslatorFactory());
    }

    /**
     * Loads an exported TorchScript classifier for prediction; a DJL-built block needs its
     * architecture: use {@code criteria(dir).optBlock(block).build().loadModel()}.
     *
     * @param dir a directory written by {@link #save}
     * @return the model with DJL's image classification translator; the caller closes it
     * @throws IOException if the directory cannot be read
     * @throws ModelNotFoundException if the directory holds no loadable model
     * @throws MalformedModelException if the weights are broken
     */
    public static ZooModel<Image, Classifications> load(Path dir)
            throws IOException, ModelNotFoundException, MalformedModelException {
        Properties p = readServingProperties(dir);
        if (p.getProperty("blockFactory") == null) {
            throw new IllegalArgumentException(
                    dir.resolve("serving.properties") + " names no block factory: the export holds a"
                            + " DJL-built block, so give its architecture:"
                            + " ClassifierExport.criteria(dir).optBlock(block).build().loadModel().");
        }
        return criteria(dir).build().loadModel();
    }

    private static boolean hasAllValues(Block block) {
        for (Parameter p : block.getParameters().values()) {
            if (!p.isInitialized()) {
                return false;
            }
        }
        return true;
    }

    private static Properties readServingProperties(Path dir) throws IOException {
        Path file = dir.resolve("serving.properties");
        if (!Files.isRegularFile(file)) {
            throw new java.io.FileNotFoundException(
                    "No serving.properties in " + dir.toAbsolutePath()
                            + ": give a directory written by ClassifierExport.save.");
        }
        Properties p = new Properties();
        try (Reader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            p.load(r);
        }
        return p;
    }
}
