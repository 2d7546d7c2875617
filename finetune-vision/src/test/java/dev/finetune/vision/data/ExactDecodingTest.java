package dev.finetune.vision.data;

import ai.djl.modality.Classifications;
import ai.djl.modality.cv.Image;
import ai.djl.modality.cv.ImageFactory;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.translate.Pipeline;
import ai.djl.translate.Translator;
import dev.finetune.vision.export.ClassifierExport;
import dev.finetune.vision.export.ImageClassifierTranslatorFactory;
import dev.finetune.vision.leakage.ImageHashes;
import dev.finetune.vision.transform.ImagePipeline;
import dev.finetune.vision.transform.TestContext;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The same picture in another encoding reaches the network as the same numbers, in training
 * ({@link ImageDataset}) and in serving (the exported translator, given a file or a decoded
 * image): 16-bit grey as 8-bit grey (issue 14, point 5), a phone JPEG turned upright by its EXIF
 * orientation, and a CMYK JPEG as its colours, never black (point 8). Each test fails on the
 * decoder before the fix: 16-bit grey came out up to 0.286 brighter, orientation was ignored, and
 * a plain CMYK JPEG decoded all black.
 */
class ExactDecodingTest {

    @TempDir
    Path dir;

    private Path write(String name, byte[] bytes) throws IOException {
        Path file = dir.resolve(name);
        Files.write(file, bytes);
        return file;
    }

    /** The tensor training gives: the dataset's record for the file. */
    static NDArray training(NDManager m, Path file, Pipeline pipeline, Image.Flag flag) throws IOException {
        ImageCatalog catalog = ImageCatalog.of(List.of("a"), List.of(new ImageSample(file, 0, null)));
        ImageDataset.Builder b = ImageDataset.builder().setCatalog(catalog).optFlag(flag).setSampling(1, false);
        if (pipeline != null) {
            b.optPipeline(pipeline);
        }
        return b.build().get(m, 0).getData().head();
    }

    /** The served translator that decodes a file itself (as DJL Serving and {@code Path} requests do). */
    static Translator<Path, Classifications> servedFromPath(ClassifierExport.Preprocessing pre) {
        Map<String, Object> args = new HashMap<>();
        ClassifierExport.servingProperties(pre).forEach((k, v) -> args.put(k.toString(), v));
        return new ImageClassifierTranslatorFactory().newInstance(Path.class, Classifications.class, null, args);
    }

    private static float maxDiff(NDArray a, NDArray b) {
        return a.sub(b).abs().max().getFloat();
    }

    @Test
    void sixteenBitGreyGivesTheTensorsOfEightBitGreyInTrainingAndServing() throws Exception {
        BufferedImage camera = Encodings.photo("camera.png");
        int w = camera.getWidth();
        int h = camera.getHeight();
        Path grey8 = write("grey8.png", Encodings.encode(Encodings.Kind.GREY_8, 0, 0, w, h, 1, true, 1).bytes());
        Map<String, Path> others = new java.util.LinkedHashMap<>();
        for (Encodings.Kind kind : new Encodings.Kind[] {Encodings.Kind.GREY_16, Encodings.Kind.GREY_ALPHA_8,
                Encodings.Kind.GREY_ALPHA_16}) {
            // alpha where the kind has it: composited over white, as the expected values say
            Encodings.Encoded e = Encodings.encode(kind, 0, 0, w, h, 1, true, 7);
            others.put(kind.name(), write(kind.name() + ".png", e.bytes()));
        }
        ImagePipeline pipe = ImagePipeline.builder().setSize(64).optNormalization(null, null).build();
        Translator<Image, Classifications> servedImage = ClassifierExport.translator(pipe.toPreprocessing(), List.of("a"));
        Translator<Path, Classifications> servedPath = servedFromPath(pipe.toPreprocessing());
        try (NDManager m = NDManager.newBaseManager()) {
            TestContext ctx = new TestContext(m);
            NDArray raw8 = training(m, grey8, null, Image.Flag.COLOR);
            NDArray rawGrey8 = training(m, grey8, null, Image.Flag.GRAYSCALE);
            Path sixteen = others.get("GREY_16");
            NDArray raw16 = training(m, sixteen, null, Image.Flag.COLOR);
            System.out.printf(Locale.ROOT, "DECODE 16-bit grey vs 8-bit grey (camera.png, training): max |diff| %.3f,"
                    + " mean %.3f vs %.3f%n", maxDiff(raw16, raw8), raw8.mean().getFloat(), raw16.mean().getFloat());
            assertThat(maxDiff(raw16, raw8)).as("16-bit grey in training, colour").isZero();
            assertThat(maxDiff(training(m, sixteen, null, Image.Flag.GRAYSCALE), rawGrey8))
                    .as("16-bit grey in training, grey").isZero();

            NDArray eval8 = training(m, grey8, pipe.evaluation(), Image.Flag.COLOR);
            NDArray eval16 = training(m, sixteen, pipe.evaluation(), Image.Flag.COLOR);
            assertThat(maxDiff(eval16, eval8)).as("16-bit grey, evaluation pipeline").isZero();
            NDArray servedImage8 = servedImage.processInput(ctx, ImageFactory.getInstance().fromFile(grey8)).head();
            NDArray servedImage16 = servedImage.processInput(ctx, ImageFactory.getInstance().fromFile(sixteen)).head();
            System.out.printf(Locale.ROOT, "DECODE 16-bit grey vs 8-bit grey (served Image from DJL's ImageFactory):"
                    + " max |diff| %.3f%n", maxDiff(servedImage16, servedImage8));
            assertThat(maxDiff(servedImage8, eval8)).as("8-bit grey served as evaluated").isLessThan(1e-6f);
            assertThat(maxDiff(servedImage16, eval8)).as("16-bit grey served from an Image").isZero();
            NDArray servedPath16 = servedPath.processInput(ctx, sixteen).head();
            assertThat(maxDiff(servedPath16, eval8)).as("16-bit grey served from its path").isZero();

            // grey with alpha, 8 and 16 bits: the same picture over white in training and serving
            NDArray alpha8 = training(m, others.get("GREY_ALPHA_8"), pipe.evaluation(), Image.Flag.COLOR);
            for (String kind : List.of("GREY_ALPHA_8", "GREY_ALPHA_16")) {
                Path file = others.get(kind);
                assertThat(maxDiff(training(m, file, pipe.evaluation(), Image.Flag.COLOR), alpha8)).as(kind).isZero();
                NDArray served = servedImage.processInput(ctx, ImageFactory.getInstance().fromFile(file)).head();
                assertThat(maxDiff(served, alpha8)).as(kind + " served").isZero();
                assertThat(maxDiff(servedPath.processInput(ctx, file).head(), alpha8)).as(kind + " served, path")
                        .isZero();
            }
        }
    }

    @Test
    void exifOrientationTurnsAJpegUprightInTrainingAndServing() throws Exception {
        int w = 120;
        int h = 80;
        ImagePipeline pipe = ImagePipeline.builder().setSize(48).optNormalization(null, null).build();
        Translator<Path, Classifications> servedPath = servedFromPath(pipe.toPreprocessing());
        try (NDManager m = NDManager.newBaseManager()) {
            TestContext ctx = new TestContext(m);
            long upright = 0;
            int worstDistance = 0;
            for (int orientation = 1; orientation <= 8; orientation++) {
                for (boolean little : new boolean[] {true, false}) {
                    String what = "orientation " + orientation + (little ? " II" : " MM");
                    Encodings.Encoded e = Encodings.encode(Encodings.Kind.JPEG_RGB, 160, 60, w, h, orientation,
                            little, 3);
                    Path file = write("photo-" + orientation + (little ? "-ii" : "-mm") + ".jpg", e.bytes());
                    assertThat(ImageFiles.size(file)).as(what).containsExactly(w, h);
                    BufferedImage img = ImageFiles.read(file, ImageFiles.DEFAULT_MAX_PIXELS);
                    assertThat(new int[] {img.getWidth(), img.getHeight()}).as(what).containsExactly(w, h);
                    NDArray raw = training(m, file, null, Image.Flag.COLOR);
                    NDArray expected = m.create(e.expected()).reshape(h, w, 3).toType(ai.djl.ndarray.types.DataType.FLOAT32,
                            false).transpose(2, 0, 1).div(255f);
                    float mean = raw.sub(expected).abs().mean().getFloat() * 255;
                    assertThat(mean).as(what + ": mean |diff| to the upright picture, in levels").isLessThan(3f);
                    // and the leakage check sees the upright picture: the same perceptual hash, near enough
                    long hash = ImageHashes.perceptual(file);
                    upright = orientation == 1 && little ? hash : upright;
                    int distance = ImageHashes.distance(hash, upright);
                    worstDistance = Math.max(worstDistance, distance);
                    assertThat(distance).as(what + ": perceptual hash bits from orientation 1's").isLessThanOrEqualTo(4);
                    // the served model sees what evaluation saw
                    NDArray eval = training(m, file, pipe.evaluation(), Image.Flag.COLOR);
                    assertThat(maxDiff(servedPath.processInput(ctx, file).head(), eval)).as(what + " served").isZero();
                }
            }
            System.out.println("DECODE EXIF orientations 1-8: perceptual hashes at most " + worstDistance
                    + " bits from the upright picture's");
        }
    }

    @Test
    void cmykJpegsDecodeToTheirColoursNeverBlack() throws Exception {
        int w = 96;
        int h = 64;
        try (NDManager m = NDManager.newBaseManager()) {
            for (Encodings.Kind kind : new Encodings.Kind[] {Encodings.Kind.JPEG_CMYK, Encodings.Kind.JPEG_CMYK_ADOBE,
                    Encodings.Kind.JPEG_YCCK}) {
                Encodings.Encoded e = Encodings.encode(kind, 180, 80, w, h, 1, true, 5);
                Path file = write(kind.name().toLowerCase(Locale.ROOT) + ".jpg", e.bytes());
                BufferedImage img;
                try {
                    img = ImageFiles.read(file, ImageFiles.DEFAULT_MAX_PIXELS);
                } catch (IOException refused) {
                    // refusing is the other honest answer; accepting a black picture is not
                    assertThat(refused.getMessage()).as(kind.name()).startsWith(file.toString()).contains("CMYK")
                            .contains("convert it to RGB");
                    continue;
                }
                NDArray raw = training(m, file, null, Image.Flag.COLOR);
                NDArray expected = m.create(e.expected()).reshape(h, w, 3).toType(ai.djl.ndarray.types.DataType.FLOAT32,
                        false).transpose(2, 0, 1).div(255f);
                float mean = raw.sub(expected).abs().mean().getFloat() * 255;
                System.out.printf(Locale.ROOT, "DECODE %s: %s, mean |diff| to the picture %.2f levels, mean value %.1f"
                        + " (picture %.1f)%n", kind, img.getColorModel().getColorSpace().getType() == 9 ? "CMYK kept"
                        : "RGB", mean, raw.mean().getFloat() * 255, expected.mean().getFloat() * 255);
                assertThat(mean).as(kind + ": mean |diff| to the picture, in levels").isLessThan(4f);
            }
        }
    }
}
