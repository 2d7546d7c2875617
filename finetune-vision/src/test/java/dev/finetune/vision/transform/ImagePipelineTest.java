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
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Training and evaluation pipelines derived from one description, on real photos. */
class ImagePipelineTest {

    private static final String[] PHOTOS = {"chelsea.png", "astronaut.png", "coffee.png"};
    // normalised [0, 1] values lie within [(0 - max mean) / min std, (1 - min mean) / min std]
    private static final float LOW = -0.485f / 0.225f;
    private static final float HIGH = (1 - 0.406f) / 0.224f;

    private static NDArray apply(Pipeline p, NDArray image) {
        return p.transform(new NDList(image)).singletonOrThrow();
    }

    @Test
    void evaluationGivesNormalisedChwAndIsDeterministic() {
        ImagePipeline pipe = ImagePipeline.imageNet(224);
        assertThat(pipe.evalResize()).isEqualTo(256);
        double meanOfMeans = 0;
        try (NDManager m = NDManager.newBaseManager()) {
            for (String photo : PHOTOS) {
                NDArray image = Photos.load(m, photo, Image.Flag.COLOR);
                NDArray x = apply(pipe.evaluation(), image);
                assertThat(x.getShape()).isEqualTo(new Shape(3, 224, 224));
                assertThat(x.getDataType()).isEqualTo(DataType.FLOAT32);
                assertThat(x.min().getFloat()).isGreaterThanOrEqualTo(LOW - 1e-4f);
                assertThat(x.max().getFloat()).isLessThanOrEqualTo(HIGH + 1e-4f);
                float mean = x.mean().getFloat();
                assertThat(Math.abs(mean)).as(photo + " mean").isLessThan(1f);
                meanOfMeans += mean / PHOTOS.length;
                // not [0, 1]: normalisation happened
                assertThat(x.min().getFloat()).isLessThan(-0.5f);
                assertThat(apply(pipe.evaluation(), image).contentEquals(x)).isTrue();
                assertThat(apply(pipe.evaluation(), Photos.load(m, photo, Image.Flag.COLOR)).contentEquals(x))
                        .isTrue();
            }
        }
        assertThat(Math.abs(meanOfMeans)).isLessThan(0.5);
    }

    @Test
    void evaluationMatchesWhatTheExportedTranslatorServes() throws Exception {
        ImagePipeline pipe = ImagePipeline.imageNet(224);
        ClassifierExport.Preprocessing pre = pipe.toPreprocessing();
        assertThat(pre.resizeShort()).isEqualTo(256);
        assertThat(pre.centerCrop()).isTrue();
        assertThat(pre.mean()).containsExactly(ImagePipeline.IMAGENET_MEAN);
        Properties props = ClassifierExport.servingProperties(pre);
        assertThat(props.getProperty("translatorFactory")).isEqualTo(ImageClassifierTranslatorFactory.class.getName());
        Map<String, Object> args = new HashMap<>();
        props.forEach((k, v) -> args.put(k.toString(), v));
        ClassifierExport.Preprocessing read = ClassifierExport.Preprocessing.fromArguments(args);
        assertThat(read.resizeShort()).isEqualTo(256);
        assertThat(read.mean()).containsExactly(ImagePipeline.IMAGENET_MEAN);
        assertThat(read.std()).containsExactly(ImagePipeline.IMAGENET_STD);
        Translator<Image, Classifications> translator =
                new ImageClassifierTranslatorFactory().newInstance(Image.class, Classifications.class, null, args);
        try (NDManager m = NDManager.newBaseManager()) {
            for (String photo : PHOTOS) {
                Image image = Photos.image(photo);
                NDArray served = translator.processInput(new TestContext(m), image).singletonOrThrow();
                NDArray ours = apply(pipe.evaluation(), image.toNDArray(m, Image.Flag.COLOR));
                assertThat(served.getShape()).isEqualTo(ours.getShape());
                assertThat(served.contentEquals(ours)).as(photo).isTrue();
            }
        }
    }

    @Test
    void trainingAugmentsDifferentlyEachDrawAndRepeatsForTheSameSeed() {
        ImagePipeline pipe = ImagePipeline.imageNet(224);
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray cat = Photos.load(m, "chelsea.png", Image.Flag.COLOR);
            List<NDArray> first = draws(pipe.training(1), cat, 3);
            List<NDArray> again = draws(pipe.training(1), cat, 3);
            List<NDArray> other = draws(pipe.training(2), cat, 3);
            for (int i = 0; i < 3; i++) {
                NDArray x = first.get(i);
                assertThat(x.getShape()).isEqualTo(new Shape(3, 224, 224));
                assertThat(x.getDataType()).isEqualTo(DataType.FLOAT32);
                assertThat(x.min().getFloat()).isGreaterThanOrEqualTo(LOW - 1e-4f);
                assertThat(x.max().getFloat()).isLessThanOrEqualTo(HIGH + 1e-4f);
                assertThat(Math.abs(x.mean().getFloat())).isLessThan(1.5f);
                assertThat(again.get(i).contentEquals(x)).as("same seed, draw " + i).isTrue();
                assertThat(other.get(i).contentEquals(x)).as("other seed, draw " + i).isFalse();
            }
            assertThat(first.get(0).contentEquals(first.get(1))).isFalse();
            assertThat(first.get(1).contentEquals(first.get(2))).isFalse();
            // the description's seed is the default of training()
            assertThat(draws(pipe.toBuilder().optSeed(1).build().training(), cat, 1).get(0).contentEquals(first.get(0)))
                    .isTrue();
            // the evaluation pipeline does not augment
            NDArray eval = apply(pipe.evaluation(), cat);
            assertThat(apply(pipe.evaluation(), cat).contentEquals(eval)).isTrue();
        }
    }

    private static List<NDArray> draws(Pipeline p, NDArray image, int n) {
        List<NDArray> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            out.add(apply(p, image));
        }
        return out;
    }

    @Test
    void trainingWithEveryAugmentationOffIsAResize() {
        // whole-image crop (scale 1, the photo's own ratio), no flip, rotation or jitter
        double ratio = 451.0 / 300.0;
        ImagePipeline plain = ImagePipeline.builder().setSize(224).optScale(1, 1).optRatio(ratio, ratio)
                .optFlip(false).optRotation(0).optColorJitter(0, 0, 0, 0).optNormalization(null, null).build();
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray cat = Photos.load(m, "chelsea.png", Image.Flag.COLOR);
            NDArray expected = NDImageUtils.resize(cat.toType(DataType.FLOAT32, false), 224, 224)
                    .transpose(2, 0, 1).div(255f);
            NDArray x = apply(plain.training(5), cat);
            assertThat(x.sub(expected).abs().max().getFloat()).isLessThan(1e-5f);
            assertThat(x.min().getFloat()).isGreaterThanOrEqualTo(0f);
            assertThat(x.max().getFloat()).isLessThanOrEqualTo(1f);
        }
    }

    @Test
    void greyPhotoGivesThreeIdenticalChannelsOrOneForGreyNetworks() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray camera = Photos.load(m, "camera.png", Image.Flag.GRAYSCALE);
            assertThat(camera.getShape()).isEqualTo(new Shape(512, 512, 1));
            ImagePipeline rgb = ImagePipeline.builder().setSize(224).optNormalization(null, null).build();
            for (Pipeline p : new Pipeline[] {rgb.evaluation(), rgb.training(3)}) {
                NDArray x = apply(p, camera);
                assertThat(x.getShape()).isEqualTo(new Shape(3, 224, 224));
                assertThat(x.get("0").contentEquals(x.get("1"))).isTrue();
                assertThat(x.get("1").contentEquals(x.get("2"))).isTrue();
            }
            // ImageNet-normalised, the channels differ only by the per-channel mean and std
            NDArray n = apply(ImagePipeline.imageNet(224).evaluation(), camera);
            NDArray red = n.get("0").mul(0.229f).add(0.485f);
            NDArray green = n.get("1").mul(0.224f).add(0.456f);
            assertThat(red.sub(green).abs().max().getFloat()).isLessThan(1e-5f);

            ImagePipeline grey = ImagePipeline.builder().setSize(28).optGrey(true).build();
            assertThat(grey.mean()).isNull();
            NDArray cat = Photos.load(m, "chelsea.png", Image.Flag.COLOR);
            assertThat(apply(grey.evaluation(), cat).getShape()).isEqualTo(new Shape(1, 28, 28));
            assertThat(apply(grey.training(1), camera).getShape()).isEqualTo(new Shape(1, 28, 28));
            ClassifierExport.Preprocessing pre = grey.toPreprocessing();
            assertThat(pre.grey()).isTrue();
            assertThat(pre.mean()).isNull();
            NDArray greyNormalised = apply(ImagePipeline.builder().setSize(28).optGrey(true)
                    .optNormalization(new float[] {0.5f}, new float[] {0.25f}).build().evaluation(), camera);
            assertThat(greyNormalised.getShape()).isEqualTo(new Shape(1, 28, 28));
            assertThat(greyNormalised.min().getFloat()).isLessThan(0f);
        }
    }

    @Test
    void smallImageFailsWithBothSizesUnlessUpscalingIsAllowed() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray small = NDImageUtils.resize(Photos.load(m, "chelsea.png", Image.Flag.COLOR), 28, 28);
            ImagePipeline pipe = ImagePipeline.imageNet(224);
            assertThatThrownBy(() -> apply(pipe.evaluation(), small))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("centre crop 224x224 is larger than the 28x28 image; resize first or optAllowUpscale(true)");
            assertThatThrownBy(() -> apply(pipe.training(0), small))
                    .hasMessage("random resized crop 224x224 is larger than the 28x28 image; "
                            + "resize first or optAllowUpscale(true)");
            ImagePipeline upscale = pipe.toBuilder().optAllowUpscale(true).build();
            assertThat(apply(upscale.evaluation(), small).getShape()).isEqualTo(new Shape(3, 224, 224));
            assertThat(apply(upscale.training(0), small).getShape()).isEqualTo(new Shape(3, 224, 224));
        }
    }

    @Test
    void invalidSettingsNameTheSetting() {
        assertThatThrownBy(() -> ImagePipeline.builder().setSize(224).optRotation(-10))
                .hasMessageContaining("optRotation(degrees)").hasMessageContaining("-10");
        assertThatThrownBy(() -> ImagePipeline.builder().optScale(0, 1)).hasMessageContaining("optScale(min, max)");
        assertThatThrownBy(() -> ImagePipeline.builder().optScale(0.5, 1.2)).hasMessageContaining("optScale");
        assertThatThrownBy(() -> ImagePipeline.builder().optRatio(2, 1)).hasMessageContaining("optRatio");
        assertThatThrownBy(() -> ImagePipeline.builder().optColorJitter(0.4f, -1, 0, 0))
                .hasMessageContaining("contrast");
        assertThatThrownBy(() -> ImagePipeline.builder().optColorJitter(0, 0, 0, 0.6f)).hasMessageContaining("hue");
        assertThatThrownBy(() -> ImagePipeline.builder().setSize(0)).hasMessageContaining("setSize");
        assertThatThrownBy(() -> ImagePipeline.builder().build()).hasMessageContaining("setSize(size) is required");
        assertThatThrownBy(() -> ImagePipeline.builder().setSize(224).optEvalResize(200).build())
                .hasMessageContaining("optEvalResize").hasMessageContaining("224");
        assertThatThrownBy(() -> ImagePipeline.builder().setSize(28).optGrey(true)
                .optNormalization(ImagePipeline.IMAGENET_MEAN, ImagePipeline.IMAGENET_STD).build())
                .hasMessageContaining("optNormalization");
        assertThatThrownBy(() -> ImagePipeline.builder().optNormalization(new float[3], new float[] {1, 0, 1}))
                .hasMessageContaining("std");
        // a grey network with normalisation exports too (the served pipeline normalises one channel)
        assertThat(ImagePipeline.builder().setSize(28).optGrey(true)
                .optNormalization(new float[] {0.5f}, new float[] {0.25f}).build().toPreprocessing().mean())
                .containsExactly(0.5f);
        assertThatThrownBy(() -> ImagePipeline.builder().optResizeMode(null)).hasMessageContaining("optResizeMode");
        assertThatThrownBy(() -> ImagePipeline.builder().optBackground(null)).hasMessageContaining("optBackground");
    }

    @Test
    void descriptionIsImmutableAndRoundTripsThroughItsBuilder() {
        float[] mean = {0.5f, 0.5f, 0.5f};
        ImagePipeline.Builder b = ImagePipeline.builder().setSize(96).optRotation(5).optNormalization(mean, mean);
        ImagePipeline pipe = b.build();
        mean[0] = 9;
        pipe.mean()[1] = 9;
        b.optRotation(20);
        assertThat(pipe.mean()).containsExactly(0.5f, 0.5f, 0.5f);
        assertThat(pipe.rotation()).isEqualTo(5);
        assertThat(pipe.evalResize()).isEqualTo(110);
        assertThat(pipe.toBuilder().build().toString()).isEqualTo(pipe.toString());
        // the default normalisation follows the channels when a copy turns grey
        assertThat(ImagePipeline.imageNet(28).toBuilder().optGrey(true).build().mean()).isNull();
    }
}
