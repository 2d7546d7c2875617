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
 * image): 16-bit grey as 8-bit grey (issue 14, point 5). Fails on the decoder before the fix,
 * where 16-bit grey came out up to 0.29 brighter (the JDK's linear-grey-to-sRGB conversion).
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
}
