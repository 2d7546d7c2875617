package dev.finetune.vision.export;

import ai.djl.Model;

import java.io.IOException;
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
        model.save(dir, name);
        Files.write(dir.resolve("synset.txt"), classNames, StandardCharsets.UTF_8);
        Properties p = servingProperties(preprocessing);
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

    private static String join(float[] values) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < values.length; i++) {
            sb.append(i == 0 ? "" : ",").append(String.format(Locale.ROOT, "%s", values[i]));
        }
        return sb.toString();
    }
}
