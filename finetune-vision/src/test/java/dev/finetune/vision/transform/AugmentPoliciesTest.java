package dev.finetune.vision.transform;

import ai.djl.modality.cv.Image;
import ai.djl.modality.cv.util.NDImageUtils;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.translate.Pipeline;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/** TrivialAugmentWide, RandAugment and random erasing: seeded draws, their spread, and the pipeline options. */
class AugmentPoliciesTest {

    private static NDArray apply(Pipeline p, NDArray image) {
        return p.transform(new NDList(image)).singletonOrThrow();
    }

    @Test
    void trivialAugmentDrawsEveryOperationUniformlyWithinItsWideRange() {
        TrivialAugment policy = new TrivialAugment(0, 5);
        TrivialAugment twin = new TrivialAugment(0, 5);
        TrivialAugment other = new TrivialAugment(0, 6);
        Map<AugmentOp, Integer> counts = new EnumMap<>(AugmentOp.class);
        int[] steps = new int[TrivialAugment.BINS];
        Map<AugmentOp, double[]> range = new EnumMap<>(AugmentOp.class);
        int n = 2800;
        int same = 0;
        for (int i = 0; i < n; i++) {
            TrivialAugment.Draw d = policy.next();
            assertThat(twin.next()).isEqualTo(d);
            same += other.next().equals(d) ? 1 : 0;
            counts.merge(d.op(), 1, Integer::sum);
            steps[d.step()]++;
            assertThat(Math.abs(d.magnitude())).isEqualTo(Math.abs(TrivialAugment.magnitude(d.op(), d.step())));
            double[] r = range.computeIfAbsent(d.op(), k -> new double[] {Double.MAX_VALUE, -Double.MAX_VALUE});
            r[0] = Math.min(r[0], d.magnitude());
            r[1] = Math.max(r[1], d.magnitude());
        }
        assertThat(same).as("another seed draws otherwise").isLessThan(n / 10);
        assertThat(counts).hasSize(14);
        for (AugmentOp op : AugmentOp.values()) {
            assertThat(counts.get(op)).as(op.name()).isBetween(130, 270); // 200 expected
        }
        for (int k = 0; k < steps.length; k++) {
            assertThat(steps[k]).as("step " + k).isBetween(50, 130); // 90 expected
        }
        // torchvision's wide ranges, both ends nearly reached (the top five of 31 steps, either sign)
        double[][] wide = {{0.99, 0.99 * 26 / 30}, {32, 32.0 * 26 / 30}, {135, 135.0 * 26 / 30}};
        AugmentOp[][] ops = {{AugmentOp.SHEAR_X, AugmentOp.SHEAR_Y, AugmentOp.BRIGHTNESS, AugmentOp.COLOR,
                AugmentOp.CONTRAST, AugmentOp.SHARPNESS}, {AugmentOp.TRANSLATE_X, AugmentOp.TRANSLATE_Y},
                {AugmentOp.ROTATE}};
        for (int g = 0; g < ops.length; g++) {
            for (AugmentOp op : ops[g]) {
                double[] r = range.get(op);
                assertThat(r[0]).as(op.name()).isBetween(-wide[g][0] - 1e-12, -wide[g][1]);
                assertThat(r[1]).as(op.name()).isBetween(wide[g][1], wide[g][0] + 1e-12);
            }
        }
        assertThat(range.get(AugmentOp.POSTERIZE)).containsExactly(2, 8);
        assertThat(range.get(AugmentOp.SOLARIZE)[0]).isBetween(0.0, 8.5 * 4);
        assertThat(range.get(AugmentOp.SOLARIZE)[1]).isBetween(255 - 8.5 * 4, 255.0);
        for (AugmentOp op : new AugmentOp[] {AugmentOp.IDENTITY, AugmentOp.AUTO_CONTRAST, AugmentOp.EQUALIZE}) {
            assertThat(range.get(op)).containsExactly(0, 0);
        }
        assertThat(TrivialAugment.magnitude(AugmentOp.POSTERIZE, 12)).isEqualTo(6); // 8 - round(2.4)
        assertThat(TrivialAugment.magnitude(AugmentOp.SOLARIZE, 10)).isEqualTo(170);
        assertThat(TrivialAugment.magnitude(AugmentOp.TRANSLATE_X, 15)).isEqualTo(16);
    }

    @Test
    void trivialAugmentAppliesItsDrawAndRepeatsForTheSameSeed() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray patch = Photos.load(m, "chelsea.png", Image.Flag.COLOR).get("100:164, 200:264, :")
                    .toType(DataType.FLOAT32, false);
            TrivialAugment policy = new TrivialAugment(3, 11);
            TrivialAugment draws = new TrivialAugment(3, 11);
            TrivialAugment again = new TrivialAugment(3, 11);
            int changed = 0;
            for (int i = 0; i < 40; i++) {
                NDArray out = policy.transform(patch);
                TrivialAugment.Draw d = draws.next();
                assertThat(out.contentEquals(d.op().apply(patch, d.magnitude(), 3))).as("draw " + i + " " + d).isTrue();
                assertThat(again.transform(patch).contentEquals(out)).isTrue();
                changed += out.contentEquals(patch) ? 0 : 1;
            }
            assertThat(changed).isGreaterThan(25);
        }
    }

    @Test
    void randAugmentAppliesNOperationsAtOneMagnitudeAndRepeatsForTheSameSeed() {
        assertThat(RandAugment.magnitude(AugmentOp.ROTATE, 9, 224, 224)).isCloseTo(9.0, within(1e-12));
        assertThat(RandAugment.magnitude(AugmentOp.TRANSLATE_X, 30, 331, 100)).isCloseTo(150, within(1e-9));
        assertThat(RandAugment.magnitude(AugmentOp.TRANSLATE_Y, 30, 331, 100)).isCloseTo(150.0 * 100 / 331, within(1e-9));
        assertThat(RandAugment.magnitude(AugmentOp.POSTERIZE, 30, 1, 1)).isEqualTo(4);
        assertThat(RandAugment.magnitude(AugmentOp.SHEAR_Y, 15, 1, 1)).isCloseTo(0.15, within(1e-12));
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray patch = Photos.load(m, "chelsea.png", Image.Flag.COLOR).get("100:164, 200:264, :");
            RandAugment a = new RandAugment(2, 9, 0, 4);
            RandAugment b = new RandAugment(2, 9, 0, 4);
            RandAugment c = new RandAugment(2, 9, 0, 5);
            int differ = 0;
            for (int i = 0; i < 20; i++) {
                NDArray x = a.transform(patch);
                assertThat(b.transform(patch).contentEquals(x)).isTrue();
                differ += c.transform(patch).contentEquals(x) ? 0 : 1;
            }
            assertThat(differ).isGreaterThan(10);
            // magnitude 0 leaves only the parameter-free operations and the posterize / solarize of their end points
            RandAugment zero = new RandAugment(3, 0, 0, 1);
            for (int i = 0; i < 5; i++) {
                assertThat(zero.transform(patch).getShape()).isEqualTo(patch.getShape());
            }
        }
        assertThatThrownBy(() -> new RandAugment(0, 9, 0, 1)).hasMessageContaining("at least 1 operation");
        assertThatThrownBy(() -> new RandAugment(2, 31, 0, 1)).hasMessageContaining("magnitude");
    }

    @Test
    void erasedRectanglesStayInsideWithinTheAreaAndAspectRanges() {
        RandomErasing erasing = new RandomErasing(1, RandomErasing.Mode.CONST, 8);
        RandomErasing twin = new RandomErasing(1, RandomErasing.Mode.CONST, 8);
        int h = 224;
        int w = 224;
        double smallest = 1;
        double largest = 0;
        double lowAspect = 10;
        double highAspect = 0;
        int n = 3000;
        for (int i = 0; i < n; i++) {
            int[] box = erasing.box(h, w);
            assertThat(twin.box(h, w)).containsExactly(box);
            assertThat(box).as("timm's default ranges always fit a 224 x 224 image").isNotNull();
            int top = box[0];
            int left = box[1];
            int eh = box[2];
            int ew = box[3];
            assertThat(eh).isBetween(1, h - 1);
            assertThat(ew).isBetween(1, w - 1);
            assertThat(top).isBetween(0, h - eh);
            assertThat(left).isBetween(0, w - ew);
            double fraction = (double) eh * ew / (h * w);
            // rounding each side to whole pixels moves the fraction by at most about one row and column
            assertThat(fraction).isBetween(0.02 * 0.85, 1.0 / 3 * 1.1);
            double aspect = (double) eh / ew;
            assertThat(aspect).isBetween(0.3 * 0.9, 1 / 0.3 * 1.1);
            smallest = Math.min(smallest, fraction);
            largest = Math.max(largest, fraction);
            lowAspect = Math.min(lowAspect, aspect);
            highAspect = Math.max(highAspect, aspect);
        }
        assertThat(smallest).isLessThan(0.025);
        assertThat(largest).isGreaterThan(0.32);
        assertThat(lowAspect).isLessThan(0.33);
        assertThat(highAspect).isGreaterThan(3.0);

        RandomErasing half = new RandomErasing(0.25, RandomErasing.Mode.CONST, 2);
        int erased = 0;
        for (int i = 0; i < 2000; i++) {
            erased += half.box(h, w) != null ? 1 : 0;
        }
        assertThat(erased).isBetween(420, 580);
        assertThat(new RandomErasing(0, RandomErasing.Mode.PIXEL, 2).box(h, w)).isNull();
    }

    @Test
    void erasingReplacesExactlyTheDrawnRectangleWithItsFill() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray x = NDImageUtils.toTensor(Photos.load(m, "chelsea.png", Image.Flag.COLOR)).add(0.5f);
            float[] in = x.toFloatArray();
            int h = 300;
            int w = 451;
            for (RandomErasing.Mode mode : RandomErasing.Mode.values()) {
                for (int seed = 0; seed < 3; seed++) {
                    int[] box = new RandomErasing(1, mode, seed).box(h, w);
                    NDArray out = new RandomErasing(1, mode, seed).transform(x);
                    assertThat(out.getShape()).isEqualTo(x.getShape());
                    assertThat(new RandomErasing(1, mode, seed).transform(x).contentEquals(out)).isTrue();
                    float[] o = out.toFloatArray();
                    double sum = 0;
                    double squares = 0;
                    int inside = 0;
                    int wrong = 0;
                    for (int k = 0; k < 3; k++) {
                        float first = Float.NaN;
                        for (int j = 0; j < h; j++) {
                            for (int i = 0; i < w; i++) {
                                int p = (k * h + j) * w + i;
                                boolean inBox = j >= box[0] && j < box[0] + box[2] && i >= box[1] && i < box[1] + box[3];
                                if (!inBox) {
                                    wrong += o[p] == in[p] ? 0 : 1;
                                    continue;
                                }
                                inside++;
                                sum += o[p];
                                squares += o[p] * o[p];
                                if (mode == RandomErasing.Mode.CONST) {
                                    wrong += o[p] == 0 ? 0 : 1;
                                } else if (mode == RandomErasing.Mode.RAND) {
                                    first = Float.isNaN(first) ? o[p] : first;
                                    wrong += o[p] == first ? 0 : 1;
                                } else {
                                    wrong += o[p] == in[p] ? 1 : 0;
                                }
                            }
                        }
                    }
                    assertThat(wrong).as(mode + " seed " + seed + " box " + java.util.Arrays.toString(box)).isZero();
                    assertThat(inside).isEqualTo(3 * box[2] * box[3]);
                    if (mode == RandomErasing.Mode.PIXEL) {
                        double mean = sum / inside;
                        double sd = Math.sqrt(squares / inside - mean * mean);
                        assertThat(mean).isCloseTo(0, within(0.05));
                        assertThat(sd).isCloseTo(1, within(0.05));
                    }
                }
            }
            // a never erasing one returns its input
            assertThat(new RandomErasing(0, RandomErasing.Mode.PIXEL, 1).transform(x)).isSameAs(x);
            assertThatThrownBy(() -> new RandomErasing(1, RandomErasing.Mode.PIXEL, 1).transform(
                    Photos.load(m, "chelsea.png", Image.Flag.COLOR))).hasMessageContaining("CHW");
        }
        assertThatThrownBy(() -> new RandomErasing(1.2, RandomErasing.Mode.PIXEL, 1)).hasMessageContaining("probability");
        assertThatThrownBy(() -> new RandomErasing(0.5, 0.5, 0.2, 0.3, 3, RandomErasing.Mode.PIXEL, 1))
                .hasMessageContaining("area");
    }

    @Test
    void pipelineOptionsAreOffByDefaultDescribedAndSeeded() {
        ImagePipeline plain = ImagePipeline.imageNet(96);
        assertThat(plain.trivialAugment()).isFalse();
        assertThat(plain.randAugment()[0]).isZero();
        assertThat(plain.randomErasing()).isZero();
        assertThat(plain.toString()).contains("policy=none").contains("erasing=off");
        ImagePipeline augmented = plain.toBuilder().optTrivialAugment(true).optRandomErasing(0.25).build();
        assertThat(augmented.toString()).contains("policy=TrivialAugmentWide").contains("erasing=0.25 PIXEL");
        assertThat(augmented.toBuilder().build().toString()).isEqualTo(augmented.toString());
        ImagePipeline rand = plain.toBuilder().optRandAugment(2, 9).optRandomErasing(0.5, RandomErasing.Mode.CONST).build();
        assertThat(rand.toString()).contains("policy=RandAugment(2, 9)").contains("erasing=0.5 CONST");
        assertThat(rand.toBuilder().build().toString()).isEqualTo(rand.toString());
        assertThat(augmented.training().getTransforms()).hasAtLeastOneElementOfType(TrivialAugment.class)
                .hasAtLeastOneElementOfType(RandomErasing.class);
        assertThat(rand.training().getTransforms()).hasAtLeastOneElementOfType(RandAugment.class);
        assertThat(plain.training().getTransforms()).noneMatch(t -> t instanceof TrivialAugment
                || t instanceof RandAugment || t instanceof RandomErasing);
        // evaluation never augments
        assertThat(augmented.evaluation().getTransforms()).noneMatch(t -> t instanceof TrivialAugment
                || t instanceof RandomErasing);
        assertThatThrownBy(() -> plain.toBuilder().optTrivialAugment(true).optRandAugment(2, 9).build())
                .hasMessageContaining("alternatives");
        assertThatThrownBy(() -> ImagePipeline.builder().optRandomErasing(-0.1)).hasMessageContaining("optRandomErasing");
        assertThatThrownBy(() -> ImagePipeline.builder().optRandAugment(2, 40)).hasMessageContaining("magnitude");

        try (NDManager m = NDManager.newBaseManager()) {
            NDArray cat = Photos.load(m, "chelsea.png", Image.Flag.COLOR);
            List<NDArray> first = draws(augmented.training(3), cat, 4);
            List<NDArray> again = draws(augmented.training(3), cat, 4);
            List<NDArray> other = draws(augmented.training(4), cat, 4);
            List<NDArray> without = draws(plain.training(3), cat, 4);
            for (int i = 0; i < 4; i++) {
                assertThat(first.get(i).getShape()).isEqualTo(new Shape(3, 96, 96));
                assertThat(again.get(i).contentEquals(first.get(i))).as("same seed, image " + i).isTrue();
                assertThat(other.get(i).contentEquals(first.get(i))).as("other seed, image " + i).isFalse();
                assertThat(without.get(i).contentEquals(first.get(i))).as("the policy changed image " + i).isFalse();
            }
        }
    }

    @Test
    void erasingLeavesTheOtherStepsDrawsAloneAndErasesOneRectangle() {
        // every other augmentation on: the erasing pipeline differs from the plain one in one zero rectangle only
        ImagePipeline plain = ImagePipeline.builder().setSize(64).build();
        ImagePipeline erased = plain.toBuilder().optRandomErasing(1, RandomErasing.Mode.CONST).build();
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray cat = Photos.load(m, "chelsea.png", Image.Flag.COLOR);
            List<NDArray> a = draws(plain.training(9), cat, 5);
            List<NDArray> b = draws(erased.training(9), cat, 5);
            for (int n = 0; n < 5; n++) {
                float[] x = a.get(n).toFloatArray();
                float[] y = b.get(n).toFloatArray();
                int top = Integer.MAX_VALUE;
                int bottom = -1;
                int left = Integer.MAX_VALUE;
                int right = -1;
                int changed = 0;
                for (int p = 0; p < x.length; p++) {
                    if (x[p] != y[p]) {
                        assertThat(y[p]).isEqualTo(0f);
                        int j = (p / 64) % 64;
                        int i = p % 64;
                        top = Math.min(top, j);
                        bottom = Math.max(bottom, j);
                        left = Math.min(left, i);
                        right = Math.max(right, i);
                        changed++;
                    }
                }
                int area = (bottom - top + 1) * (right - left + 1);
                assertThat(changed).as("image " + n).isEqualTo(3 * area);
                assertThat(area / (64.0 * 64)).isBetween(0.015, 0.37);
            }
        }
    }

    @Test
    void pipelinesWithoutTheNewStepsAugmentAsBefore() {
        // the training pipeline as it was built before the policies and erasing: four seeds drawn in this order
        ImagePipeline recipe = ImagePipeline.builder().setSize(64).optColorJitter(0.4f, 0.4f, 0.4f, 0.1f).build();
        java.util.Random seeds = new java.util.Random(21);
        long crop = seeds.nextLong();
        long flip = seeds.nextLong();
        long rotation = seeds.nextLong();
        long jitter = seeds.nextLong();
        Pipeline before = new Pipeline(new GreyToRgb(), new ToFloat(),
                new ResizedCrop(64, 64, 0.08, 1, 3.0 / 4, 4.0 / 3, crop), new HorizontalFlip(0.5, flip),
                new Rotation(10, 0, rotation), new ColorJitter(0.4f, 0.4f, 0.4f, 0.1f, jitter),
                new ai.djl.modality.cv.transform.ToTensor(),
                new dev.finetune.vision.image.Normalization(ImagePipeline.IMAGENET_MEAN, ImagePipeline.IMAGENET_STD));
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray cat = Photos.load(m, "chelsea.png", Image.Flag.COLOR);
            List<NDArray> now = draws(recipe.training(21), cat, 4);
            List<NDArray> then = draws(before, cat, 4);
            for (int i = 0; i < 4; i++) {
                assertThat(now.get(i).contentEquals(then.get(i))).as("image " + i).isTrue();
            }
        }
    }

    private static List<NDArray> draws(Pipeline p, NDArray image, int n) {
        List<NDArray> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            out.add(apply(p, image));
        }
        return out;
    }
}
