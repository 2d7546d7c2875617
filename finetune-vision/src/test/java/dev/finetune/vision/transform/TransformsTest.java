package dev.finetune.vision.transform;

import ai.djl.modality.cv.Image;
import ai.djl.modality.cv.util.NDImageUtils;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/** The single transforms on real photos (chelsea 300x451 colour, astronaut 512x512, camera grey). */
class TransformsTest {

    @Test
    void flipOfFlipIsTheOriginalAndAFlipMirrors() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray cat = Photos.load(m, "chelsea.png", Image.Flag.COLOR);
            NDArray once = HorizontalFlip.flip(cat);
            assertThat(once.getShape()).isEqualTo(cat.getShape());
            assertThat(once.contentEquals(cat)).isFalse();
            // the first column of the mirror is the last column of the photo
            assertThat(once.get(":, 0, :").contentEquals(cat.get(":, 450, :"))).isTrue();
            assertThat(HorizontalFlip.flip(once).contentEquals(cat)).isTrue();

            HorizontalFlip always = new HorizontalFlip(1, 3);
            assertThat(always.transform(always.transform(cat)).contentEquals(cat)).isTrue();
            assertThat(always.transform(cat).contentEquals(once)).isTrue();
            assertThat(new HorizontalFlip(0, 3).transform(cat).contentEquals(cat)).isTrue();
        }
    }

    @Test
    void flipDrawsAreSeededAndHalfTheTime() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray patch = NDImageUtils.crop(Photos.load(m, "chelsea.png", Image.Flag.COLOR), 100, 100, 8, 8);
            List<Boolean> a = flips(new HorizontalFlip(0.5, 11), patch);
            List<Boolean> b = flips(new HorizontalFlip(0.5, 11), patch);
            List<Boolean> c = flips(new HorizontalFlip(0.5, 12), patch);
            assertThat(a).isEqualTo(b).isNotEqualTo(c);
            long flipped = a.stream().filter(x -> x).count();
            assertThat(flipped).isBetween(70L, 130L);
        }
    }

    private static List<Boolean> flips(HorizontalFlip flip, NDArray patch) {
        List<Boolean> out = new ArrayList<>();
        for (int i = 0; i < 200; i++) {
            out.add(!flip.transform(patch).contentEquals(patch));
        }
        return out;
    }

    @Test
    void rotationByZeroIsTheIdentity() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray cat = Photos.load(m, "chelsea.png", Image.Flag.COLOR);
            NDArray rotated = Rotation.rotate(cat, 0, 0);
            assertThat(rotated.getDataType()).isEqualTo(DataType.FLOAT32);
            assertThat(rotated.contentEquals(cat.toType(DataType.FLOAT32, false))).isTrue();
            assertThat(new Rotation(0, 0, 5).transform(cat).contentEquals(cat.toType(DataType.FLOAT32, false)))
                    .isTrue();
        }
    }

    @Test
    void quarterTurnMatchesRotate90CounterClockwise() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray astro = NDImageUtils.resize(Photos.load(m, "astronaut.png", Image.Flag.COLOR), 64, 64)
                    .toType(DataType.FLOAT32, false);
            NDArray expected = NDImageUtils.rotate90(astro, 1);
            NDArray rotated = Rotation.rotate(astro, 90, 0);
            assertThat(rotated.sub(expected).abs().max().getFloat()).isLessThan(1e-3f);
            assertThat(rotated.sub(astro).abs().max().getFloat()).isGreaterThan(50f);
        }
    }

    @Test
    void smallRotationKeepsTheSizeMovesPixelsAndFillsCorners() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray cat = Photos.load(m, "chelsea.png", Image.Flag.COLOR);
            NDArray rotated = Rotation.rotate(cat, 10, 7f);
            assertThat(rotated.getShape()).isEqualTo(cat.getShape());
            NDArray catF = cat.toType(DataType.FLOAT32, false);
            String centre = "75:225, 110:340, :";
            double moved = Photos.correlation(rotated.get(centre).toFloatArray(), catF.get(centre).toFloatArray());
            // a high correlation, yet below 1: pixels moved (the fur of this photo decorrelates fast)
            assertThat(moved).isGreaterThan(0.6).isLessThan(0.9);
            // turning back restores the centre much better than the turned image matches it
            NDArray back = Rotation.rotate(rotated, -10, 7f);
            double restored = Photos.correlation(back.get(centre).toFloatArray(), catF.get(centre).toFloatArray());
            assertThat(restored).isGreaterThan(0.95);
            // the top-left corner comes from above the photo
            assertThat(rotated.get("0, 0, :").toFloatArray()).containsOnly(7f);

            NDArray a = new Rotation(10, 0, 21).transform(cat);
            NDArray b = new Rotation(10, 0, 21).transform(cat);
            assertThat(a.contentEquals(b)).isTrue();
            assertThat(new Rotation(10, 0, 22).transform(cat).contentEquals(a)).isFalse();
        }
    }

    @Test
    void greyPhotoBecomesThreeIdenticalChannels() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray camera = Photos.load(m, "camera.png", Image.Flag.GRAYSCALE);
            assertThat(camera.getShape()).isEqualTo(new Shape(512, 512, 1));
            NDArray rgb = new GreyToRgb().transform(camera);
            assertThat(rgb.getShape()).isEqualTo(new Shape(512, 512, 3));
            for (int c = 0; c < 3; c++) {
                assertThat(rgb.get(":, :, " + c + ":" + (c + 1)).contentEquals(camera)).isTrue();
            }
            NDArray cat = Photos.load(m, "chelsea.png", Image.Flag.COLOR);
            assertThat(new GreyToRgb().transform(cat)).isSameAs(cat);

            NDArray grey = new RgbToGrey().transform(cat);
            assertThat(grey.getShape()).isEqualTo(new Shape(300, 451, 1));
            assertThat(new RgbToGrey().transform(camera)).isSameAs(camera);
        }
    }

    @Test
    void colourJitterOfZeroStrengthIsTheIdentity() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray cat = Photos.load(m, "chelsea.png", Image.Flag.COLOR);
            NDArray catF = cat.toType(DataType.FLOAT32, false);
            ColorJitter none = new ColorJitter(0, 0, 0, 0, 1);
            for (int i = 0; i < 3; i++) {
                assertThat(none.transform(cat).contentEquals(catF)).isTrue();
            }
            assertThat(new ColorJitter(0.4f, 0.4f, 0.4f, 0.1f, 1).transform(cat).contentEquals(catF)).isFalse();
        }
    }

    @Test
    void brightnessScalesEveryPixelByOneDrawnFactor() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray cat = Photos.load(m, "coffee.png", Image.Flag.COLOR);
            float[] in = cat.toType(DataType.FLOAT32, false).toFloatArray();
            ColorJitter brightness = new ColorJitter(0.5f, 0, 0, 0, 4);
            List<Double> factors = new ArrayList<>();
            for (int draw = 0; draw < 4; draw++) {
                float[] out = brightness.transform(cat).toFloatArray();
                double factor = Double.NaN;
                for (int i = 0; i < in.length; i++) {
                    if (in[i] > 20 && out[i] < 255) {
                        if (Double.isNaN(factor)) {
                            factor = out[i] / in[i];
                        }
                        assertThat((double) (out[i] / in[i])).isCloseTo(factor, within(1e-4));
                    }
                }
                assertThat(factor).isBetween(0.5, 1.5);
                factors.add(factor);
            }
            assertThat(factors).doesNotHaveDuplicates();
        }
    }

    @Test
    void saturationZeroGivesGreyAndHueKeepsLuma() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray coffee = Photos.load(m, "coffee.png", Image.Flag.COLOR);
            NDArray grey = ColorJitter.apply(coffee, 1, 1, 0, 0);
            assertThat(grey.get(":, :, 0").sub(grey.get(":, :, 1")).abs().max().getFloat()).isLessThan(1e-3f);
            assertThat(grey.get(":, :, 1").sub(grey.get(":, :, 2")).abs().max().getFloat()).isLessThan(1e-3f);

            NDArray shifted = ColorJitter.apply(coffee, 1, 1, 1, 0.25);
            NDArray lumaIn = new RgbToGrey().transform(coffee);
            NDArray lumaOut = new RgbToGrey().transform(shifted);
            // clipping aside, the luma is kept while the colours move
            assertThat(lumaOut.sub(lumaIn).abs().mean().getFloat()).isLessThan(6f);
            assertThat(shifted.sub(coffee.toType(DataType.FLOAT32, false)).abs().mean().getFloat())
                    .isGreaterThan(10f);
        }
    }

    @Test
    void resizedCropBoxesStayInsideWithinScaleAndRatio() {
        ResizedCrop crop = new ResizedCrop(224, 224, 0.08, 1, 3.0 / 4, 4.0 / 3, 9);
        ResizedCrop same = new ResizedCrop(224, 224, 0.08, 1, 3.0 / 4, 4.0 / 3, 9);
        int w = 451;
        int h = 300;
        double minArea = 1;
        double maxArea = 0;
        for (int i = 0; i < 300; i++) {
            int[] box = crop.box(w, h);
            assertThat(same.box(w, h)).containsExactly(box);
            assertThat(box[0]).isBetween(0, w - box[2]);
            assertThat(box[1]).isBetween(0, h - box[3]);
            double area = (double) box[2] * box[3] / (w * h);
            double ratio = (double) box[2] / box[3];
            assertThat(area).isBetween(0.07, 1.0);
            assertThat(ratio).isBetween(0.7, 1.4);
            minArea = Math.min(minArea, area);
            maxArea = Math.max(maxArea, area);
        }
        assertThat(minArea).isLessThan(0.2);
        assertThat(maxArea).isGreaterThan(0.5);
        // an impossible request falls back to the largest centred square
        assertThat(new ResizedCrop(224, 224, 1, 1, 1, 1, 0).box(w, h)).containsExactly(75, 0, 300, 300);

        try (NDManager m = NDManager.newBaseManager()) {
            NDArray cat = Photos.load(m, "chelsea.png", Image.Flag.COLOR);
            assertThat(crop.transform(cat).getShape()).isEqualTo(new Shape(224, 224, 3));
        }
    }

    @Test
    void invalidSettingsNameTheSetting() {
        assertThatThrownBy(() -> new Rotation(-5, 0, 0)).hasMessageContaining("degrees").hasMessageContaining("-5");
        assertThatThrownBy(() -> new ResizedCrop(224, 224, 0, 1, 0.75, 1.33, 0)).hasMessageContaining("scale");
        assertThatThrownBy(() -> new ResizedCrop(224, 224, 0.5, 1.5, 0.75, 1.33, 0)).hasMessageContaining("scale");
        assertThatThrownBy(() -> new ResizedCrop(224, 224, 0.5, 1, 2, 1, 0)).hasMessageContaining("ratio");
        assertThatThrownBy(() -> new ColorJitter(-0.1f, 0, 0, 0, 0)).hasMessageContaining("brightness");
        assertThatThrownBy(() -> new ColorJitter(0, 0, 0, 0.7f, 0)).hasMessageContaining("hue");
        assertThatThrownBy(() -> new HorizontalFlip(1.5, 0)).hasMessageContaining("probability");
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray chw = m.zeros(new Shape(3, 4, 5, 6));
            assertThatThrownBy(() -> new GreyToRgb().transform(chw)).hasMessageContaining("HWC");
        }
    }
}
