package dev.finetune.vision.export;

import ai.djl.Model;
import ai.djl.modality.Classifications;
import ai.djl.modality.Input;
import ai.djl.modality.Output;
import ai.djl.modality.cv.Image;
import ai.djl.modality.cv.translator.BaseImageTranslatorFactory;
import ai.djl.modality.cv.translator.ImageClassificationTranslator;
import ai.djl.modality.cv.translator.ImageServingTranslator;
import ai.djl.ndarray.BytesSupplier;
import ai.djl.ndarray.NDList;
import ai.djl.translate.PreProcessor;
import ai.djl.translate.TranslateException;
import ai.djl.translate.Translator;
import ai.djl.translate.TranslatorContext;
import ai.djl.util.JsonUtils;
import ai.djl.util.Pair;
import dev.finetune.vision.data.ImageFiles;
import dev.finetune.vision.image.Backdrop;

import java.awt.Color;
import java.io.IOException;
import java.io.InputStream;
import java.lang.reflect.Type;
import java.net.URL;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;

/**
 * The translator factory that {@code serving.properties} of an export names: DJL's image
 * classification translator (synset, softmax), with this library's preprocessing, read by
 * {@link ClassifierExport.Preprocessing#fromArguments}: a transparent image is composited over the
 * stated background, then {@link ClassifierExport.Preprocessing#pipeline()} frames it to exactly
 * the input size, so the served model sees what evaluation saw, for an image of any size.
 *
 * <p>Encoded inputs ({@code Path}, {@code URL}, {@code String} (a URL, a file or a base64
 * {@code data:} URL), {@code InputStream}, and DJL Serving's {@code Input}, as a request body or a
 * JSON {@code image_url}) are decoded as training decodes files, by {@link ExactImageFactory}:
 * exact 16-bit samples, EXIF orientation, CMYK JPEGs. An {@code Image} input was decoded by the
 * caller: samples of more than 8 bits are still scaled exactly, but an EXIF orientation it had is
 * lost, so decode it with {@link ExactImageFactory} (or pass the file).
 */
public final class ImageClassifierTranslatorFactory extends BaseImageTranslatorFactory<Classifications> {

    /** Decodes every encoded input, as training decodes files. */
    private static final ExactImageFactory DECODER = new ExactImageFactory();

    /** Creates the factory (DJL instantiates it by class name). */
    public ImageClassifierTranslatorFactory() {}

    @Override
    protected Translator<Image, Classifications> buildBaseTranslator(Model model, Map<String, ?> arguments) {
        ClassifierExport.Preprocessing pre = ClassifierExport.Preprocessing.fromArguments(arguments);
        Object softmax = arguments.get("applySoftmax");
        Object topK = arguments.get("topK");
        return translator(pre, null, softmax == null || Boolean.parseBoolean(softmax.toString()),
                topK == null ? 5 : Integer.parseInt(topK.toString().trim()));
    }

    @Override
    public Class<Classifications> getBaseOutputType() {
        return Classifications.class;
    }

    @Override
    protected Map<Type, Function<PreProcessor<Image>, PreProcessor<?>>> getPreprocessorExpansions() {
        Map<Type, Function<PreProcessor<Image>, PreProcessor<?>>> expansions = new ConcurrentHashMap<>();
        expansions.put(Path.class, p -> (PreProcessor<Path>) (ctx, in) -> p.processInput(ctx, DECODER.fromFile(in)));
        expansions.put(URL.class, p -> (PreProcessor<URL>) (ctx, in) -> p.processInput(ctx, DECODER.fromUrl(in)));
        expansions.put(String.class, p -> (PreProcessor<String>) (ctx, in) -> p.processInput(ctx, DECODER.fromUrl(in)));
        expansions.put(InputStream.class,
                p -> (PreProcessor<InputStream>) (ctx, in) -> p.processInput(ctx, DECODER.fromInputStream(in)));
        return expansions;
    }

    @Override
    protected Map<Pair<Type, Type>, TranslatorExpansion<Image, Classifications>> getExpansions() {
        Map<Pair<Type, Type>, TranslatorExpansion<Image, Classifications>> expansions = new ConcurrentHashMap<>();
        expansions.put(new Pair<>(Input.class, Output.class), ExactServing::new);
        return expansions;
    }

    static Translator<Image, Classifications> translator(ClassifierExport.Preprocessing pre, List<String> classNames,
            boolean softmax, int topK) {
        // images are always read in colour: a grey network's luma comes from the pipeline, as in evaluation
        ImageClassificationTranslator.Builder b = ImageClassificationTranslator.builder().setPipeline(pre.pipeline())
                .optFlag(Image.Flag.COLOR).optApplySoftmax(softmax).optTopK(topK);
        if (classNames != null) {
            b.optSynset(classNames);
        } else {
            b.optSynsetArtifactName("synset.txt");
        }
        return new Served(b, pre.background());
    }

    /** DJL Serving's image translator, with the body or the {@code image_url} decoded as training decodes files. */
    private static final class ExactServing extends ImageServingTranslator {
        private final Translator<Image, ?> translator;

        ExactServing(Translator<Image, ?> translator) {
            super(translator);
            this.translator = translator;
        }

        @Override
        public NDList processInput(TranslatorContext ctx, Input input) throws Exception {
            BytesSupplier data = input.getData();
            if (data == null) {
                throw new TranslateException("Input data is empty.");
            }
            String contentType = input.getProperty("Content-Type", null);
            Image image;
            try {
                if (contentType != null && contentType.split(";", 2)[0].trim().equalsIgnoreCase("application/json")) {
                    Object json;
                    try {
                        json = JsonUtils.GSON.fromJson(data.getAsString(), Object.class);
                    } catch (RuntimeException e) {
                        throw new TranslateException("Input is not a valid json.", e);
                    }
                    Object url = json instanceof Map ? ((Map<?, ?>) json).get("image_url") : null;
                    if (!(url instanceof String)) {
                        throw new TranslateException("Missing \"image_url\" (a string) in json.");
                    }
                    image = DECODER.fromUrl((String) url);
                } else {
                    image = DECODER.fromImage(ImageFiles.read(data.getAsBytes(), "the request body",
                            ImageFiles.DEFAULT_MAX_PIXELS));
                }
            } catch (IOException e) {
                throw new TranslateException("Input is not an Image data type: " + e.getMessage(), e);
            }
            return translator.processInput(ctx, image);
        }
    }

    /** DJL's classification translator, with transparent images composited over the background first. */
    private static final class Served extends ImageClassificationTranslator {
        private final Color background;

        Served(ImageClassificationTranslator.Builder builder, Color background) {
            super(builder);
            this.background = background;
        }

        @Override
        public NDList processInput(TranslatorContext ctx, Image input) {
            return super.processInput(ctx, Backdrop.flatten(input, background, Image.Flag.COLOR));
        }
    }
}
