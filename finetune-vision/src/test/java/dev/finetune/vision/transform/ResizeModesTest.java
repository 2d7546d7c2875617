package dev.finetune.vision.transform;

import ai.djl.modality.Classifications;
import ai.djl.modality.cv.Image;
import ai.djl.modality.cv.util.NDImageUtils;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.translate.Pipeline;
import ai.djl.translate.Translator;
import dev.finetune.vision.export.ClassifierExport;
import dev.finetune.vision.export.ImageClassifierTranslatorFactory;
import dev.finetune.vision.image.ResizeMode;
import org.junit.jupiter.api.Test;

import java.awt.Color;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** Centre crop, squash and letterbox on real photos, alike in training, evaluation and serving. */
class ResizeModesTest {

    private static final String[] PHOTOS = {"chelsea.png", "astronaut.png", "coffee.png", "camera.png"};

    private static NDArray apply(Pipeline p, NDArray image) {
        return p.transform(new NDList(image)).singletonOrThrow();
    }

    @Test
    void evaluationEqualsTheExportedPreprocessingInEveryMode() throws Exception {
        try (NDManager m = NDManager.newBaseManager()) {
            for (ResizeMode mode : ResizeMode.values()) {
                for (boolean grey : new boolean[] {false, true}) {
                    ImagePipeline pipe = ImagePipeline.builder().setSize(224).optResizeMode(mode).optGrey(grey)
                            .optBackground(new Color(10, 200, 30)).build();
                    // through serving.properties, as a reloaded model reads them
                    Map<String, Object> args = new HashMap<>();
                    ClassifierExport.servingProperties(pipe.toPreprocessing()).forEach((k, v) -> args.put(k.toString(), v));
                    Translator<Image, Classifications> served = new ImageClassifierTranslatorFactory()
                            .newInstance(Image.class, Classifications.class, null, args);
                    for (String photo : PHOTOS) {
                        Image image = Photos.image(photo);
                        NDArray ours = apply(pipe.evaluation(), image.toNDArray(m, Image.Flag.COLOR));
                        NDArray theirs = served.processInput(new TestContext(m), image).singletonOrThrow();
                        assertThat(ours.getShape()).isEqualTo(new Shape(grey ? 1 : 3, 224, 224));
                        assertThat(theirs.getShape()).isEqualTo(ours.getShape());
                        assertThat(theirs.sub(ours).abs().max().getFloat()).as("%s %s grey=%s", photo, mode, grey)
                                .isLessThan(1e-5f);
                    }
                }
            }
        }
    }

    @Test
    void squashResizesTheWholeImageAndPadLetterboxesItOverTheBackground() {
        Color bg = new Color(255, 0, 128);
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray cat = Photos.load(m, "chelsea.png", Image.Flag.COLOR); // 451 x 300
            ImagePipeline squash = ImagePipeline.builder().setSize(224).optResizeMode(ResizeMode.SQUASH)
                    .optNormalization(null, null).build();
            NDArray expected = NDImageUtils.resize(cat.toType(DataType.FLOAT32, false), 224, 224).transpose(2, 0, 1)
                    .div(255f);
            assertThat(apply(squash.evaluation(), cat).sub(expected).abs().max().getFloat()).isLessThan(1e-5f);

            ImagePipeline pad = squash.toBuilder().optResizeMode(ResizeMode.PAD).optBackground(bg).build();
            NDArray x = apply(pad.evaluation(), cat);
            int shown = (int) Math.round(300 * 224.0 / 451); // 149 rows of picture, bars above and below
            int top = (224 - shown) / 2;
            NDArray bar = x.get(":, 0:" + top + ", :");
            NDArray bottom = x.get(":, " + (top + shown) + ":, :");
            for (NDArray b : new NDArray[] {bar, bottom}) {
                assertThat(b.get("0").sub(1f).abs().max().getFloat()).isLessThan(1e-6f);
                assertThat(b.get("1").abs().max().getFloat()).isLessThan(1e-6f);
                assertThat(b.get("2").sub(128 / 255f).abs().max().getFloat()).isLessThan(1e-6f);
            }
            NDArray picture = x.get(":, " + top + ":" + (top + shown) + ", :");
            NDArray scaled = NDImageUtils.resize(cat.toType(DataType.FLOAT32, false), 224, shown).transpose(2, 0, 1)
                    .div(255f);
            assertThat(picture.sub(scaled).abs().max().getFloat()).isLessThan(1e-5f);
        }
    }

    @Test
    void squashAndPadTrainingFramesLikeEvaluationAndAugmentsMildly() {
        try (NDManager m = NDManager.newBaseManager()) {
            for (ResizeMode mode : new ResizeMode[] {ResizeMode.SQUASH, ResizeMode.PAD}) {
                for (String photo : new String[] {"chelsea.png", "coffee.png"}) {
                    NDArray image = Photos.load(m, photo, Image.Flag.COLOR);
                    ImagePipeline plain = ImagePipeline.builder().setSize(96).optResizeMode(mode).optScale(1, 1)
                            .optRatio(1, 1).optFlip(false).optRotation(0).optColorJitter(0, 0, 0, 0).build();
                    NDArray eval = apply(plain.evaluation(), image);
                    NDArray train = apply(plain.training(3), image);
                    assertThat(train.sub(eval).abs().max().getFloat()).as("%s %s", photo, mode).isLessThan(1e-5f);
                    // with crops on, each draw differs and keeps the input size
                    ImagePipeline mild = plain.toBuilder().optScale(0.6, 1).optRatio(0.8, 1.25).build();
                    Pipeline p = mild.training(3);
                    NDArray a = apply(p, image);
                    NDArray b = apply(p, image);
                    assertThat(a.getShape()).isEqualTo(new Shape(3, 96, 96));
                    assertThat(a.contentEquals(b)).isFalse();
                }
            }
        }
    }

    @Test
    void descriptionCarriesModeAndBackgroundThroughItsBuilderAndExport() {
        ImagePipeline pipe = ImagePipeline.builder().setSize(64).optResizeMode(ResizeMode.PAD)
                .optBackground(new Color(1, 2, 3, 4)).build();
        assertThat(pipe.background()).isEqualTo(new Color(1, 2, 3));
        assertThat(pipe.toBuilder().build().toString()).isEqualTo(pipe.toString()).contains("PAD").contains("10203");
        ClassifierExport.Preprocessing pre = pipe.toPreprocessing();
        assertThat(pre.resizeMode()).isEqualTo(ResizeMode.PAD);
        assertThat(pre.resizeShort()).isZero();
        Map<String, Object> args = new HashMap<>();
        ClassifierExport.servingProperties(pre).forEach((k, v) -> args.put(k.toString(), v));
        ClassifierExport.Preprocessing read = ClassifierExport.Preprocessing.fromArguments(args);
        assertThat(read.resizeMode()).isEqualTo(ResizeMode.PAD);
        assertThat(read.background()).isEqualTo(new Color(1, 2, 3));
        assertThat(List.of(read.width(), read.height())).containsExactly(64, 64);
        assertThat(pipe.evaluation()).isInstanceOf(DescribedPipeline.class);
        assertThat(pipe.training().description()).isSameAs(pipe);
    }
}
