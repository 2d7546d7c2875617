package dev.finetune.vision.export;

import ai.djl.MalformedModelException;
import ai.djl.Model;
import ai.djl.modality.Classifications;
import ai.djl.modality.cv.Image;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.nn.SymbolBlock;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ModelNotFoundException;
import ai.djl.repository.zoo.ZooModel;

import java.io.IOException;
import java.io.Reader;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Properties;

/**
 * Writes a fine-tuned classifier as a DJL model directory: the weights ({@code name-0000.params}),
 * {@code synset.txt} with the class names, and a {@code serving.properties} naming DJL's image
 * classification translator with the preprocessing the network was trained with, so that
 * {@code Criteria} + {@code Predictor<Image, Classifications>} serve it with no further code.
 *
 * <p>A TorchScript backbone (alone, or followed by a new linear head) is rebuilt by DJL itself:
 * {@code serving.properties} names {@link TorchScriptClassifierBlockFactory}, so a plain
 * {@code Criteria} with the directory as model path loads it in a fresh JVM. A DJL-built block has
 * no such description: pass the same architecture with {@code Criteria.Builder.optBlock}.
 */
public final class ClassifierExport {

    private ClassifierExport() {}

    /**
     * How an image becomes the network's input: resize to width x height, optional centre crop,
     * colour or grey, scaling to [0, 1] and an optional mean/std normalisation.
     *
     * @param width input width
     * @param height input height
     * @param grey whether the network takes one grey channel
     * @param centerCrop whether to centre-crop after resizing the short side
     * @param mean per-channel mean subtracted after scaling to [0, 1], or null for none
     * @param std per-channel standard deviation, or null for none
     * @param resizeShort with centerCrop, the short side to resize to before the crop (e.g. 256 for a
     *     224 crop), or 0 for the larger of width and height
     */
    public record Preprocessing(int width, int height, boolean grey, boolean centerCrop, float[] mean, float[] std,
                                int resizeShort) {
        /** Validates the sizes. */
        public Preprocessing {
            if (width < 1 || height < 1) {
                throw new IllegalArgumentException("Input size must be positive, got " + width + "x" + height);
            }
            if (resizeShort != 0 && (!centerCrop || resizeShort < Math.max(width, height))) {
                throw new IllegalArgumentException("resizeShort " + resizeShort + " needs centerCrop and must be at "
                        + "least the input size " + width + "x" + height + " (or 0)");
            }
            if ((mean == null) != (std == null)
                    || (mean != null && (mean.length != 3 || std.length != 3 || grey))) {
                throw new IllegalArgumentException(
                        "Normalisation takes three means and three standard deviations, for colour input only.");
            }
        }

        /**
         * Without a separate resize: the short side is resized to the larger of width and height.
         *
         * @param width input width
         * @param height input height
         * @param grey whether the network takes one grey channel
         * @param centerCrop whether to centre-crop after resizing the short side
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
        if (classNames.isEmpty()) {
            throw new IllegalArgumentException("Give the class names of the head.");
        }
        Files.createDirectories(dir);
        Block block = model.getBlock();
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
        model.save(dir, name);
        Files.write(dir.resolve("synset.txt"), classNames, StandardCharsets.UTF_8);
        Properties p = servingProperties(preprocessing);
        p.setProperty("option.modelName", name);
        String layout = TorchScriptClassifierBlockFactory.layoutOf(model.getBlock());
        if (layout != null) {
            p.setProperty("blockFactory", TorchScriptClassifierBlockFactory.class.getName());
            p.setProperty(TorchScriptClassifierBlockFactory.LAYOUT, layout);
        }
        try (Writer w = Files.newBufferedWriter(dir.resolve("serving.properties"), StandardCharsets.UTF_8)) {
            p.store(w, "finetune export: DJL image classification translator settings");
        }
    }

    /**
     * The {@code serving.properties} settings that {@link #save} writes: DJL's image classification
     * translator factory and its arguments for this preprocessing.
     *
     * @param preprocessing how images become inputs
     * @return the settings
     */
    public static Properties servingProperties(Preprocessing preprocessing) {
        Properties p = new Properties();
        p.setProperty("engine", "PyTorch");
        p.setProperty("translatorFactory", "ai.djl.modality.cv.translator.ImageClassificationTranslatorFactory");
        p.setProperty("width", String.valueOf(preprocessing.width()));
        p.setProperty("height", String.valueOf(preprocessing.height()));
        p.setProperty("flag", preprocessing.grey() ? "GRAYSCALE" : "COLOR");
        if (preprocessing.centerCrop()) {
            p.setProperty("resizeShort",
                    preprocessing.resizeShort() > 0 ? String.valueOf(preprocessing.resizeShort()) : "true");
            p.setProperty("centerCrop", "true");
        } else {
            p.setProperty("resize", "true");
        }
        p.setProperty("toTensor", "true");
        if (preprocessing.mean() != null) {
            p.setProperty("normalize", join(preprocessing.mean()) + "," + join(preprocessing.std()));
        }
        p.setProperty("applySoftmax", "true");
        return p;
    }

    /**
     * DJL criteria for an exported directory: image in, classifications out, the PyTorch engine
     * and the directory's model name. Add {@code optBlock(architecture)} for a DJL-built block;
     * a TorchScript backbone needs nothing more.
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
                .optEngine("PyTorch");
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

    private static String join(float[] values) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < values.length; i++) {
            sb.append(i == 0 ? "" : ",").append(String.format(Locale.ROOT, "%s", values[i]));
        }
        return sb.toString();
    }
}
