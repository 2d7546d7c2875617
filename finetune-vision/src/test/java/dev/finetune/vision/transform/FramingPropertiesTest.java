package dev.finetune.vision.transform;

import ai.djl.modality.Classifications;
import ai.djl.modality.cv.Image;
import ai.djl.modality.cv.ImageFactory;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.translate.Translator;
import dev.finetune.vision.export.ClassifierExport;
import dev.finetune.vision.image.ResizeMode;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.ShrinkingMode;

import java.awt.Color;
import java.awt.image.BufferedImage;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Every image size and aspect ratio (1 to 1000 px a side, extreme ratios, the 376x379 and 400x402
 * that DJL's ResizeShort + CenterCrop turn into 3x225x224) becomes exactly C x size x size in
 * training, evaluation and the exported model's serving translator, in every resize mode; and
 * {@link ImagePipeline#outputShape} predicts, from the size alone, what the pipelines do.
 */
class FramingPropertiesTest {

    /** One pipeline setting and one image size. */
    record Case(int width, int height, int size, int extra, ResizeMode mode, boolean grey, long seed) {
        ImagePipeline pipeline(boolean allowUpscale) {
            return ImagePipeline.builder().setSize(size).optEvalResize(size + extra).optResizeMode(mode).optGrey(grey)
                    .optAllowUpscale(allowUpscale).optBackground(new Color((int) seed & 0xffffff)).optSeed(seed)
                    .build();
        }
    }

    @Provide
    Arbitrary<Case> cases() {
        Arbitrary<Integer> side = Arbitraries.oneOf(Arbitraries.integers().between(1, 1000),
                Arbitraries.of(1, 2, 3, 223, 224, 225, 376, 379, 400, 402, 999, 1000));
        Arbitrary<Integer> size = Arbitraries.of(1, 2, 7, 28, 32, 224, 225, 299);
        Arbitrary<Integer> extra = Arbitraries.oneOf(Arbitraries.of(0, 1, 32), Arbitraries.integers().between(0, 300));
        return Combinators.combine(side, side, size, extra, Arbitraries.of(ResizeMode.class), Arbitraries.of(false, true),
                Arbitraries.longs()).as(Case::new);
    }

    @Property(tries = 250, shrinking = ShrinkingMode.OFF)
    void trainingEvaluationAndServingGiveExactlyTheInputShape(@ForAll("cases") Case c) throws Exception {
        assertExact(c);
    }

    @Example
    void theSizesDjlGotWrongAndExtremeRatios() throws Exception {
        for (int[] wh : new int[][] {{376, 379}, {400, 402}, {379, 376}, {402, 400}, {1, 1000}, {1000, 1}, {1, 1},
                {2, 999}, {59, 500}, {500, 59}}) {
            for (int size : new int[] {224, 225}) {
                for (int extra : new int[] {0, 1, 32}) {
                    for (ResizeMode mode : ResizeMode.values()) {
                        assertExact(new Case(wh[0], wh[1], size, extra, mode, false, 7));
                    }
                }
            }
        }
    }

    private static void assertExact(Case c) throws Exception {
        ImagePipeline pipe = c.pipeline(true);
        Shape expected = new Shape(c.grey() ? 1 : 3, c.size(), c.size());
        assertThat(pipe.outputShape(c.width(), c.height())).isEqualTo(expected);
        Translator<Image, Classifications> served = ClassifierExport.translator(pipe.toPreprocessing(), List.of("a"));
        try (NDManager m = NDManager.newBaseManager()) {
            BufferedImage picture = new BufferedImage(c.width(), c.height(), BufferedImage.TYPE_INT_ARGB);
            picture.setRGB(0, 0, 0x80ff8000);
            Image image = ImageFactory.getInstance().fromImage(picture);
            NDArray colour = m.randomInteger(0, 256, new Shape(c.height(), c.width(), 3), DataType.UINT8);
            NDArray grey = colour.get(":, :, 0:1");
            for (NDArray input : new NDArray[] {colour, grey}) {
                assertThat(shape(pipe.evaluation(), input)).as("evaluation of %s", c).isEqualTo(expected);
                assertThat(shape(pipe.training(c.seed()), input)).as("training of %s", c).isEqualTo(expected);
            }
            assertThat(served.processInput(new TestContext(m), image).singletonOrThrow().getShape())
                    .as("served %s", c).isEqualTo(expected);
        }
    }

    private static Shape shape(ai.djl.translate.Pipeline p, NDArray image) {
        return p.transform(new NDList(image)).singletonOrThrow().getShape();
    }

    @Property(tries = 200, shrinking = ShrinkingMode.OFF)
    void outputShapePredictsWhetherTheGuardedPipelinesRefuseAnImage(@ForAll("cases") Case c) {
        ImagePipeline pipe = c.pipeline(false);
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray image = m.zeros(new Shape(c.height(), c.width(), 3), DataType.UINT8);
            Shape predicted;
            try {
                predicted = pipe.outputShape(c.width(), c.height());
            } catch (IllegalArgumentException e) {
                assertThat(e.getMessage()).contains(c.width() + "x" + c.height()).contains("optAllowUpscale(true)");
                assertThatThrownBy(() -> shape(pipe.evaluation(), image)).hasMessage(e.getMessage());
                assertThatThrownBy(() -> shape(pipe.training(1), image)).hasMessageContaining("optAllowUpscale(true)");
                return;
            }
            assertThat(shape(pipe.evaluation(), image)).isEqualTo(predicted);
            assertThat(shape(pipe.training(1), image)).isEqualTo(predicted);
        }
    }
}
