package dev.finetune.core.internal;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.finetune.core.plan.MixUp;

import java.util.Arrays;
import java.util.Locale;
import java.util.Random;

/**
 * MixUp and CutMix of one training batch with itself reversed, as timm's {@code Mixup} in batch mode:
 * the draws ({@link #draw}) come from a {@link Random} seeded per batch
 * ({@link SeededSampling#batchSeed}), never from a process-wide generator, so they repeat exactly and
 * a resumed run replays them; the mixing itself ({@link #apply}) runs on the device, its arrays in the
 * manager of the batch's input.
 */
public final class BatchMixing {

    private BatchMixing() {}

    /**
     * One batch's draw.
     *
     * @param mixed whether the batch is mixed
     * @param cutMix whether by CutMix (else MixUp)
     * @param lambda the share of each sample's own target ({@code 1} when not mixed); for CutMix the
     *     share of the image outside the box
     * @param box CutMix's box {@code {top, bottom, left, right}} (rows {@code top..bottom-1}, columns
     *     {@code left..right-1}), or null
     */
    public record Draw(boolean mixed, boolean cutMix, double lambda, int[] box) {

        /** A batch left as it is. */
        public static final Draw NONE = new Draw(false, false, 1, null);

        @Override
        public String toString() {
            return String.format(Locale.ROOT, "Draw[mixed=%s, cutMix=%s, lambda=%s, box=%s]", mixed, cutMix, lambda,
                    Arrays.toString(box));
        }
    }

    /**
     * A mixed batch: the input, the soft targets {@code (N, K)} and the label each sample's accuracy is
     * counted against.
     *
     * @param input the mixed input
     * @param target {@code lambda y + (1 - lambda) y.flip(0)} as one-hot rows
     * @param truth the label with the larger share of each sample's target (its own when
     *     {@code lambda >= 0.5})
     */
    public record Mixed(NDArray input, NDArray target, NDArray truth) {}

    /**
     * Draws whether and how a batch is mixed, in timm's order: whether to mix ({@code probability}),
     * then CutMix or MixUp ({@code switchProbability}, when both are on), then {@code lambda} from
     * {@code Beta(alpha, alpha)}, then CutMix's box centre; the box is timm's {@code rand_bbox} (sides
     * {@code int(H sqrt(1 - lambda))} and {@code int(W sqrt(1 - lambda))}, half on each side of the
     * centre, clipped to the image) and {@code lambda} is corrected to the share left uncovered. A box
     * that covers nothing leaves the batch as it is.
     *
     * @param mix the setting
     * @param seed the batch's seed
     * @param input the shape of the batch's input; CutMix needs (N, C, H, W)
     * @return the draw
     */
    public static Draw draw(MixUp mix, long seed, Shape input) {
        if (!mix.enabled()) {
            return Draw.NONE;
        }
        Random random = new Random(seed);
        if (!(random.nextDouble() < mix.probability())) {
            return Draw.NONE;
        }
        boolean cut;
        double lambda;
        if (mix.mixUpAlpha() > 0 && mix.cutMixAlpha() > 0) {
            cut = random.nextDouble() < mix.switchProbability();
            lambda = beta(random, cut ? mix.cutMixAlpha() : mix.mixUpAlpha());
        } else if (mix.mixUpAlpha() > 0) {
            cut = false;
            lambda = beta(random, mix.mixUpAlpha());
        } else {
            cut = true;
            lambda = beta(random, mix.cutMixAlpha());
        }
        if (!cut) {
            return new Draw(true, false, lambda, null);
        }
        requireImages(input);
        int height = Math.toIntExact(input.get(2));
        int width = Math.toIntExact(input.get(3));
        int cy = random.nextInt(height);
        int cx = random.nextInt(width);
        int[] box = box(lambda, cy, cx, height, width);
        long area = (long) (box[1] - box[0]) * (box[3] - box[2]);
        if (area == 0) {
            return Draw.NONE;
        }
        return new Draw(true, true, 1 - (double) area / ((double) height * width), box);
    }

    /**
     * timm's {@code rand_bbox} for a drawn centre: sides {@code int(H sqrt(1 - lambda))} and
     * {@code int(W sqrt(1 - lambda))}, half of each (rounded down) on either side of the centre,
     * clipped to the image.
     *
     * @return {@code {top, bottom, left, right}}
     */
    static int[] box(double lambda, int cy, int cx, int height, int width) {
        double ratio = StrictMath.sqrt(1 - lambda);
        int cutHeight = (int) (height * ratio);
        int cutWidth = (int) (width * ratio);
        return new int[] {clip(cy - cutHeight / 2, height), clip(cy + cutHeight / 2, height),
            clip(cx - cutWidth / 2, width), clip(cx + cutWidth / 2, width)};
    }

    /**
     * Refuses inputs that are not image batches, for CutMix.
     *
     * @param input the input's shape
     * @throws IllegalArgumentException if it is not (N, C, H, W)
     */
    public static void requireImages(Shape input) {
        if (input.dimension() != 4) {
            throw new IllegalArgumentException("CutMix pastes a box of one image into another: it needs image batches"
                    + " of shape (N, C, H, W), but the training batches are " + input + ". Use MixUp alone"
                    + " (MixUp.of(alpha)) for inputs that are not images.");
        }
    }

    private static int clip(int v, int size) {
        return Math.max(0, Math.min(size, v));
    }

    /**
     * A draw from {@code Beta(alpha, alpha)}, as {@code X / (X + Y)} of two Gamma draws.
     *
     * @param random the generator
     * @param alpha the parameter, positive
     * @return the draw, in [0, 1]
     */
    public static double beta(Random random, double alpha) {
        double x = gamma(random, alpha);
        double y = gamma(random, alpha);
        return x + y == 0 ? 0.5 : x / (x + y);
    }

    /**
     * A draw from {@code Gamma(shape, 1)} by Marsaglia and Tsang's method (2000), with
     * {@code Gamma(a) = Gamma(a + 1) U^(1/a)} below 1; {@link StrictMath} throughout, so the same seed
     * gives the same value on every machine.
     */
    static double gamma(Random random, double shape) {
        if (shape < 1) {
            double u = random.nextDouble();
            return gamma(random, shape + 1) * StrictMath.pow(u, 1 / shape);
        }
        double d = shape - 1.0 / 3;
        double c = 1 / StrictMath.sqrt(9 * d);
        while (true) {
            double x;
            double v;
            do {
                x = random.nextGaussian();
                v = 1 + c * x;
            } while (v <= 0);
            v = v * v * v;
            double u = random.nextDouble();
            if (u < 1 - 0.0331 * x * x * x * x
                    || StrictMath.log(u) < 0.5 * x * x + d * (1 - v + StrictMath.log(v))) {
                return d * v;
            }
        }
    }

    /**
     * Mixes a batch as drawn. The arrays it makes live in the input's manager.
     *
     * @param draw a draw with {@link Draw#mixed()} true
     * @param input the batch's input on the device
     * @param labels the class indices {@code (N)} on the device
     * @param classes the number of classes
     * @return the mixed input, the soft targets and the labels accuracy counts against
     */
    public static Mixed apply(Draw draw, NDArray input, NDArray labels, int classes) {
        NDArray flipped = input.flip(0);
        NDArray mixed;
        float lambda = (float) draw.lambda();
        if (draw.cutMix()) {
            requireImages(input.getShape());
            int[] b = draw.box();
            NDIndex box = new NDIndex(":, :, {}:{}, {}:{}", b[0], b[1], b[2], b[3]);
            mixed = input.duplicate();
            mixed.set(box, flipped.get(box));
        } else {
            mixed = input.mul(lambda).add(flipped.mul((float) (1 - draw.lambda())));
        }
        NDArray own = labels.reshape(-1).toType(DataType.INT64, false);
        NDArray partner = own.flip(0);
        NDArray target = own.oneHot(classes, DataType.FLOAT32).mul(lambda)
                .add(partner.oneHot(classes, DataType.FLOAT32).mul((float) (1 - draw.lambda())));
        return new Mixed(mixed, target, draw.lambda() >= 0.5 ? own : partner);
    }
}
