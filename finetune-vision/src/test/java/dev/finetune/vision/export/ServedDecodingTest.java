package dev.finetune.vision.export;

import ai.djl.modality.Classifications;
import ai.djl.modality.Input;
import ai.djl.modality.Output;
import ai.djl.modality.cv.Image;
import ai.djl.modality.cv.ImageFactory;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.translate.Translator;
import dev.finetune.vision.data.Encodings;
import dev.finetune.vision.data.ImageCatalog;
import dev.finetune.vision.data.ImageDataset;
import dev.finetune.vision.data.ImageFiles;
import dev.finetune.vision.data.ImageSample;
import dev.finetune.vision.transform.ImagePipeline;
import dev.finetune.vision.transform.TestContext;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The served translator decodes every encoded request as training decodes the file (16-bit PNG,
 * EXIF-oriented JPEG, CMYK JPEG, 16-bit RGBA): a {@code Path}, a {@code URL}, a {@code String}
 * (path or base64 {@code data:} URL), an {@code InputStream}, and DJL Serving's {@code Input} as a
 * body or a JSON {@code image_url} all give the evaluation tensor of the dataset. A CMYK image that
 * DJL's own factory decoded is refused, not served black.
 */
class ServedDecodingTest {

    @TempDir
    Path dir;

    private static <I> Translator<I, ?> served(ClassifierExport.Preprocessing pre, Class<I> input, Class<?> output) {
        Map<String, Object> args = new HashMap<>();
        ClassifierExport.servingProperties(pre).forEach((k, v) -> args.put(k.toString(), v));
        return new ImageClassifierTranslatorFactory().newInstance(input, output, null, args);
    }

    private static NDArray evaluation(NDManager m, Path file, ImagePipeline pipe) throws IOException {
        ImageCatalog catalog = ImageCatalog.of(List.of("a"), List.of(new ImageSample(file, 0, null)));
        return ImageDataset.builder().setCatalog(catalog).optPipeline(pipe.evaluation()).setSampling(1, false).build()
                .get(m, 0).getData().head();
    }

    @Test
    void everyEncodedRequestIsDecodedAsTrainingDecodesTheFile() throws Exception {
        ImagePipeline pipe = ImagePipeline.builder().setSize(40).optNormalization(null, null).build();
        ClassifierExport.Preprocessing pre = pipe.toPreprocessing();
        Translator<Path, ?> byPath = served(pre, Path.class, Classifications.class);
        Translator<URL, ?> byUrl = served(pre, URL.class, Classifications.class);
        Translator<String, ?> byString = served(pre, String.class, Classifications.class);
        Translator<InputStream, ?> byStream = served(pre, InputStream.class, Classifications.class);
        Translator<Input, ?> byInput = served(pre, Input.class, Output.class);
        Map<String, Encodings.Encoded> files = Map.of(
                "grey16.png", Encodings.encode(Encodings.Kind.GREY_16, 50, 40, 90, 70, 1, true, 2),
                "rgba16.png", Encodings.encode(Encodings.Kind.RGBA_16, 150, 60, 90, 70, 1, true, 2),
                "turned6.jpg", Encodings.encode(Encodings.Kind.JPEG_RGB, 150, 60, 90, 70, 6, false, 2),
                "mirrored7.jpg", Encodings.encode(Encodings.Kind.JPEG_GREY, 150, 60, 90, 70, 7, true, 2),
                "cmyk.jpg", Encodings.encode(Encodings.Kind.JPEG_CMYK, 150, 60, 90, 70, 8, true, 2));
        try (NDManager m = NDManager.newBaseManager()) {
            TestContext ctx = new TestContext(m);
            for (Map.Entry<String, Encodings.Encoded> f : files.entrySet()) {
                Path file = dir.resolve(f.getKey());
                byte[] bytes = f.getValue().bytes();
                Files.write(file, bytes);
                NDArray expected = evaluation(m, file, pipe);
                String what = f.getKey();
                assertSame(expected, byPath.processInput(ctx, file), what + " as a Path");
                assertSame(expected, byUrl.processInput(ctx, file.toUri().toURL()), what + " as a URL");
                assertSame(expected, byString.processInput(ctx, file.toString()), what + " as a String path");
                String data = "data:image/" + (what.endsWith(".png") ? "png" : "jpeg") + ";base64,"
                        + Base64.getEncoder().encodeToString(bytes);
                assertSame(expected, byString.processInput(ctx, data), what + " as a data: URL");
                try (InputStream in = Files.newInputStream(file)) {
                    assertSame(expected, byStream.processInput(ctx, in), what + " as an InputStream");
                }
                Input body = new Input();
                body.add(bytes);
                body.addProperty("Content-Type", "application/octet-stream");
                assertSame(expected, byInput.processInput(ctx, body), what + " as a serving request body");
                Input json = new Input();
                json.add(("{\"image_url\": \"" + file.toUri() + "\"}").getBytes(StandardCharsets.UTF_8));
                json.addProperty("Content-Type", "application/json; charset=utf-8");
                assertSame(expected, byInput.processInput(ctx, json), what + " as a serving image_url");
                // the exact factory, for callers who decode the Image themselves
                Translator<Image, Classifications> byImage = ClassifierExport.translator(pre, List.of("a"));
                assertSame(expected, byImage.processInput(ctx, new ExactImageFactory().fromFile(file)),
                        what + " as an Image from ExactImageFactory");
            }
        }
    }

    private static void assertSame(NDArray expected, NDList served, String what) {
        assertThat(served.head().getShape()).as(what).isEqualTo(expected.getShape());
        assertThat(served.head().sub(expected).abs().max().getFloat()).as(what).isZero();
    }

    @Test
    void aCmykImageDecodedByDjlIsRefusedNotServedBlack() throws Exception {
        Path file = dir.resolve("cmyk.jpg");
        Files.write(file, Encodings.encode(Encodings.Kind.JPEG_CMYK, 150, 60, 30, 20, 1, true, 2).bytes());
        ImagePipeline pipe = ImagePipeline.builder().setSize(16).build();
        Translator<Image, Classifications> byImage = ClassifierExport.translator(pipe.toPreprocessing(), List.of("a"));
        Image djl = ImageFactory.getInstance().fromFile(file); // DJL's plain ImageIO decode
        try (NDManager m = NDManager.newBaseManager()) {
            assertThatThrownBy(() -> byImage.processInput(new TestContext(m), djl))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("CMYK")
                    .hasMessageContaining("convert it to RGB");
        }
        // the file itself decodes
        assertThat(ImageFiles.read(file, ImageFiles.DEFAULT_MAX_PIXELS).getWidth()).isEqualTo(30);
    }

    @Test
    void aDamagedOrHugeRequestIsRefusedNamingIt() throws Exception {
        Translator<Input, ?> byInput = served(ImagePipeline.builder().setSize(16).build().toPreprocessing(),
                Input.class, Output.class);
        byte[] jpeg = Encodings.encode(Encodings.Kind.JPEG_RGB, 0, 0, 64, 64, 1, true, 1).bytes();
        Input cut = new Input();
        cut.add(java.util.Arrays.copyOf(jpeg, jpeg.length / 2));
        try (NDManager m = NDManager.newBaseManager()) {
            assertThatThrownBy(() -> byInput.processInput(new TestContext(m), cut))
                    .hasMessageContaining("the request body").hasMessageContaining("truncated or damaged");
            Input empty = new Input();
            empty.add(new byte[0]);
            assertThatThrownBy(() -> byInput.processInput(new TestContext(m), empty)).hasMessageContaining("empty");
        }
        assertThatThrownBy(() -> new ExactImageFactory(16).fromInputStream(new java.io.ByteArrayInputStream(jpeg)))
                .isInstanceOf(IOException.class).hasMessageContaining("the image stream")
                .hasMessageContaining("more than the limit of 16 pixels");
    }
}
