package dev.finetune.vision.export;

import ai.djl.Model;
import ai.djl.modality.Classifications;
import ai.djl.modality.cv.Image;
import ai.djl.modality.cv.translator.BaseImageTranslatorFactory;
import ai.djl.modality.cv.translator.ImageClassificationTranslator;
import ai.djl.ndarray.NDList;
import ai.djl.translate.Translator;
import ai.djl.translate.TranslatorContext;
import dev.finetune.vision.image.Backdrop;

import java.awt.Color;
import java.util.List;
import java.util.Map;

/**
 * The translator factory that {@code serving.properties} of an export names: DJL's image
 * classification translator (synset, softmax, and the {@code Path}, {@code URL},
 * {@code InputStream} and serving inputs DJL adds), with this library's preprocessing, read by
 * {@link ClassifierExport.Preprocessing#fromArguments}: a transparent image is composited over the
 * stated background, then {@link ClassifierExport.Preprocessing#pipeline()} frames it to exactly
 * the input size, so the served model sees what evaluation saw, for an image of any size.
 */
public final class ImageClassifierTranslatorFactory extends BaseImageTranslatorFactory<Classifications> {

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
