package dev.finetune.vision.transform;

import ai.djl.modality.cv.Image;
import ai.djl.modality.cv.util.NDImageUtils;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/**
 * Each TrivialAugment / RandAugment operation on real photos (chelsea 300x451 colour, camera
 * 512x512 grey) against a computation by hand: which pixel goes where, which values change and to what.
 */
class AugmentOpTest {

    private static final float FILL = 7;

    private static float[] pixels(NDArray image) {
        return image.toType(DataType.FLOAT32, false).toFloatArray();
    }

    /** How many values differ, with the first difference in the message (AssertJ's diff of large arrays takes minutes). */
    private static String differences(float[] a, float[] b) {
        if (a.length != b.length) {
            return "lengths " + a.length + " and " + b.length;
        }
        int n = 0;
        String first = null;
        for (int i = 0; i < a.length; i++) {
            if (Float.floatToIntBits(a[i]) != Float.floatToIntBits(b[i]) && a[i] != b[i]) {
                n++;
                first = first == null ? "at " + i + ": " + a[i] + " and " + b[i] : first;
            }
        }
        return n == 0 ? "0" : n + " values differ, first " + first;
    }

    @Test
    void identityAndZeroMagnitudesLeaveThePhotoAlone() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray cat = Photos.load(m, "chelsea.png", Image.Flag.COLOR);
            float[] in = pixels(cat);
            for (AugmentOp op : new AugmentOp[] {AugmentOp.IDENTITY, AugmentOp.SHEAR_X, AugmentOp.SHEAR_Y,
                    AugmentOp.TRANSLATE_X, AugmentOp.TRANSLATE_Y, AugmentOp.ROTATE, AugmentOp.BRIGHTNESS,
                    AugmentOp.COLOR, AugmentOp.CONTRAST, AugmentOp.SHARPNESS}) {
                NDArray out = op.apply(cat, 0, FILL);
                assertThat(out.getDataType()).isEqualTo(DataType.FLOAT32);
                assertThat(out.getShape()).isEqualTo(cat.getShape());
                assertThat(differences(out.toFloatArray(), in)).as(op.name()).isEqualTo("0");
            }
            // 8 bits and a threshold above every value keep a uint8 photo
            assertThat(differences(AugmentOp.POSTERIZE.apply(cat, 8, FILL).toFloatArray(), in)).isEqualTo("0");
            assertThat(differences(AugmentOp.SOLARIZE.apply(cat, 256, FILL).toFloatArray(), in)).isEqualTo("0");
        }
    }

    @Test
    void solarizeInvertsExactlyTheValuesAtOrAboveTheThreshold() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray cat = Photos.load(m, "chelsea.png", Image.Flag.COLOR);
            float[] in = pixels(cat);
            float[] out = AugmentOp.SOLARIZE.apply(cat, 128, FILL).toFloatArray();
            int inverted = 0;
            for (int i = 0; i < in.length; i++) {
                float expected = in[i] >= 128 ? 255 - in[i] : in[i];
                assertThat(out[i]).isEqualTo(expected);
                inverted += in[i] >= 128 ? 1 : 0;
            }
            assertThat(inverted).as("the photo has values on both sides of 128").isBetween(in.length / 10, in.length * 9 / 10);
            // the threshold itself is inverted: 128 -> 127, 127 stays
            NDArray edge = m.create(new float[] {127, 128, 0, 255}, new Shape(2, 2, 1));
            assertThat(AugmentOp.SOLARIZE.apply(edge, 128, FILL).toFloatArray()).containsExactly(127, 127, 0, 0);
        }
    }

    @Test
    void posterizeKeepsTheTopBitsOfEveryValue() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray camera = Photos.load(m, "camera.png", Image.Flag.GRAYSCALE);
            float[] in = pixels(camera);
            for (int bits : new int[] {1, 2, 4, 6}) {
                int mask = (0xff << (8 - bits)) & 0xff;
                float[] out = AugmentOp.POSTERIZE.apply(camera, bits, FILL).toFloatArray();
                java.util.Set<Float> levels = new java.util.TreeSet<>();
                for (int i = 0; i < in.length; i++) {
                    assertThat(out[i]).isEqualTo((float) (((int) in[i]) & mask));
                    levels.add(out[i]);
                }
                assertThat(levels.size()).as(bits + " bits").isLessThanOrEqualTo(1 << bits).isGreaterThan(1 << (bits - 1));
            }
            // 3 bits: 0b1011_0111 = 183 -> 0b1010_0000 = 160
            assertThat(AugmentOp.POSTERIZE.apply(m.create(new float[] {183.6f}, new Shape(1, 1, 1)), 3, FILL)
                    .toFloatArray()).containsExactly(160f);
            assertThatThrownBy(() -> AugmentOp.POSTERIZE.apply(camera, 9, FILL)).hasMessageContaining("0 to 8 bits");
        }
    }

    @Test
    void translationsMoveEveryPixelByWholePixelsAndFillWhatComesIn() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray cat = Photos.load(m, "chelsea.png", Image.Flag.COLOR).toType(DataType.FLOAT32, false);
            // 10.7 -> 10 pixels right, as torchvision's int(magnitude)
            NDArray right = AugmentOp.TRANSLATE_X.apply(cat, 10.7, FILL);
            assertThat(right.get(":, 10:, :").contentEquals(cat.get(":, :441, :"))).isTrue();
            assertThat(right.get(":, :10, :").toFloatArray()).containsOnly(FILL);
            // -5.9 -> 5 pixels up
            NDArray up = AugmentOp.TRANSLATE_Y.apply(cat, -5.9, FILL);
            assertThat(up.get(":295, :, :").contentEquals(cat.get("5:, :, :"))).isTrue();
            assertThat(up.get("295:, :, :").toFloatArray()).containsOnly(FILL);
        }
    }

    @Test
    void shearsMoveEachRowOrColumnByItsDistanceFromTheTopLeftCorner() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray cat = Photos.load(m, "chelsea.png", Image.Flag.COLOR).toType(DataType.FLOAT32, false);
            // output (x, y) = input (x + 0.5 y, y), pixel centres: row y moves left by floor(0.5 + 0.5 (y + 0.5))
            NDArray sheared = AugmentOp.SHEAR_X.apply(cat, 0.5, FILL);
            assertThat(sheared.get("0, :, :").contentEquals(cat.get("0, :, :"))).as("row 0 stays").isTrue();
            assertThat(sheared.get("10, :446, :").contentEquals(cat.get("10, 5:, :"))).as("row 10 by 5").isTrue();
            assertThat(sheared.get("10, 446:, :").toFloatArray()).containsOnly(FILL);
            assertThat(sheared.get("100, :401, :").contentEquals(cat.get("100, 50:, :"))).as("row 100 by 50").isTrue();
            assertThat(sheared.get("100, 401:, :").toFloatArray()).containsOnly(FILL);
            // negative: rows move right
            NDArray back = AugmentOp.SHEAR_X.apply(cat, -0.5, FILL);
            assertThat(back.get("100, 50:, :").contentEquals(cat.get("100, :401, :"))).isTrue();
            assertThat(back.get("100, :50, :").toFloatArray()).containsOnly(FILL);
            // vertical: column x moves up by floor(0.5 + 0.2 (x + 0.5))
            NDArray vertical = AugmentOp.SHEAR_Y.apply(cat, 0.2, FILL);
            assertThat(vertical.get(":, 0, :").contentEquals(cat.get(":, 0, :"))).isTrue();
            assertThat(vertical.get(":280, 100, :").contentEquals(cat.get("20:, 100, :"))).as("column 100 by 20").isTrue();
        }
    }

    @Test
    void quarterTurnIsRotate90CounterClockwiseAndATurnKeepsTheCentre() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray square = Photos.load(m, "chelsea.png", Image.Flag.COLOR).get("50:250, 100:300, :")
                    .toType(DataType.FLOAT32, false);
            // nearest sampling of a turn by 90 degrees moves pixel centres onto pixel centres: exact
            assertThat(AugmentOp.ROTATE.apply(square, 90, FILL).contentEquals(NDImageUtils.rotate90(square, 1))).isTrue();
            assertThat(AugmentOp.ROTATE.apply(square, -90, FILL).contentEquals(NDImageUtils.rotate90(square, 3))).isTrue();
            NDArray turned = AugmentOp.ROTATE.apply(square, 30, FILL);
            // corners come from outside, the centre pixel from itself
            assertThat(turned.get("0, 0, :").toFloatArray()).containsOnly(FILL);
            assertThat(turned.get("100, 100, :").contentEquals(square.get("100, 100, :"))).isTrue();
        }
    }

    @Test
    void colourOperationsAreTheJitterFactorsOfOnePlusTheMagnitude() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray coffee = Photos.load(m, "coffee.png", Image.Flag.COLOR);
            float[] in = pixels(coffee);
            float[] bright = AugmentOp.BRIGHTNESS.apply(coffee, 0.3, FILL).toFloatArray();
            for (int i = 0; i < in.length; i += 97) {
                assertThat(bright[i]).isCloseTo(Math.min(255f, in[i] * 1.3f), within(1e-3f));
            }
            assertThat(differences(AugmentOp.CONTRAST.apply(coffee, -0.6, FILL).toFloatArray(),
                    ColorJitter.apply(coffee, 1, 0.4, 1, 0).toFloatArray())).isEqualTo("0");
            assertThat(differences(AugmentOp.COLOR.apply(coffee, -1, FILL).toFloatArray(),
                    ColorJitter.apply(coffee, 1, 1, 0, 0).toFloatArray())).isEqualTo("0");
            // colour of a grey photo: nothing to saturate
            NDArray camera = Photos.load(m, "camera.png", Image.Flag.GRAYSCALE);
            assertThat(differences(AugmentOp.COLOR.apply(camera, 0.9, FILL).toFloatArray(), pixels(camera))).isEqualTo("0");
        }
    }

    @Test
    void sharpnessBlendsEachInnerPixelWithItsThirteenthWeightedNeighbourhood() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray camera = Photos.load(m, "camera.png", Image.Flag.GRAYSCALE);
            float[] in = pixels(camera);
            float[] out = AugmentOp.SHARPNESS.apply(camera, 0.5, FILL).toFloatArray();
            int w = 512;
            int changed = 0;
            for (int[] p : new int[][] {{100, 200}, {300, 310}, {256, 256}, {1, 1}, {510, 510}, {40, 400}}) {
                int y = p[0];
                int x = p[1];
                double sum = 0;
                for (int dy = -1; dy <= 1; dy++) {
                    for (int dx = -1; dx <= 1; dx++) {
                        sum += in[(y + dy) * w + x + dx];
                    }
                }
                double blurred = (sum + 4 * in[y * w + x]) / 13;
                double expected = Math.min(255, Math.max(0, 1.5 * in[y * w + x] - 0.5 * blurred));
                assertThat((double) out[y * w + x]).isCloseTo(expected, within(1e-3));
                changed += Math.abs(out[y * w + x] - in[y * w + x]) > 0.5 ? 1 : 0;
            }
            assertThat(changed).isGreaterThan(0);
            // the border is kept
            for (int x = 0; x < w; x++) {
                assertThat(out[x]).isEqualTo(in[x]);
                assertThat(out[511 * w + x]).isEqualTo(in[511 * w + x]);
            }
        }
    }

    @Test
    void autoContrastStretchesEachChannelLinearlyToTheFullRange() {
        try (NDManager m = NDManager.newBaseManager()) {
            // a dull copy of the photo: values 40 + v / 2, per channel ranges inside [40, 168]
            NDArray dull = Photos.load(m, "coffee.png", Image.Flag.COLOR).toType(DataType.FLOAT32, false)
                    .div(2).add(40);
            NDArray out = AugmentOp.AUTO_CONTRAST.apply(dull, 0, FILL);
            float[] in = dull.toFloatArray();
            float[] o = out.toFloatArray();
            for (int k = 0; k < 3; k++) {
                NDArray channelIn = dull.get(":, :, " + k);
                NDArray channelOut = out.get(":, :, " + k);
                float lo = channelIn.min().getFloat();
                float hi = channelIn.max().getFloat();
                assertThat(channelOut.min().getFloat()).isEqualTo(0f);
                assertThat(channelOut.max().getFloat()).isCloseTo(255f, within(1e-3f));
                for (int i = k; i < in.length; i += 3 * 101) {
                    assertThat(o[i]).isCloseTo((in[i] - lo) * 255f / (hi - lo), within(1e-3f));
                }
            }
            // a flat channel stays as it is
            NDArray flat = m.full(new Shape(4, 4, 1), 90f);
            assertThat(AugmentOp.AUTO_CONTRAST.apply(flat, 0, FILL).toFloatArray()).containsOnly(90f);
        }
    }

    @Test
    void equalizeMapsLevelsThroughTheCumulativeHistogram() {
        try (NDManager m = NDManager.newBaseManager()) {
            // 1024 pixels: 512 at 10, 256 at 20, 256 at 30. PIL: step = (1024 - 256) / 255 = 3,
            // level v -> (step / 2 + pixels below v) / step: 10 -> 1 / 3 = 0, 20 -> 513 / 3 = 171, 30 -> 769 / 3 -> 255
            float[] x = new float[1024];
            for (int i = 0; i < x.length; i++) {
                x[i] = i < 512 ? 10 : i < 768 ? 20.4f : 30;
            }
            float[] out = AugmentOp.EQUALIZE.apply(m.create(x, new Shape(32, 32, 1)), 0, FILL).toFloatArray();
            for (int i = 0; i < x.length; i++) {
                assertThat(out[i]).isEqualTo(i < 512 ? 0f : i < 768 ? 171f : 255f);
            }
            // on the photo: the levels spread out, so that each quarter of the range holds about a quarter of the pixels
            NDArray camera = Photos.load(m, "camera.png", Image.Flag.GRAYSCALE);
            float[] eq = AugmentOp.EQUALIZE.apply(camera, 0, FILL).toFloatArray();
            int[] quarters = new int[4];
            for (float v : eq) {
                quarters[Math.min(3, (int) (v / 64))]++;
            }
            for (int q : quarters) {
                assertThat(q / (double) eq.length).isBetween(0.15, 0.35);
            }
        }
    }
}
