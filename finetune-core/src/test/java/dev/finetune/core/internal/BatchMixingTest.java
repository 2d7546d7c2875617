package dev.finetune.core.internal;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.finetune.core.plan.MixUp;
import org.junit.jupiter.api.Test;

import java.util.HashSet;
import java.util.Random;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/** MixUp and CutMix of one batch: the seeded draws, the Beta sampler, timm's box, and the mixing on the device. */
class BatchMixingTest {

    private static final Shape IMAGES = new Shape(4, 1, 10, 10);

    @Test
    void theBetaSamplerHasBetasMeanAndVariance() {
        for (double alpha : new double[] {0.2, 1.0, 2.5}) {
            Random random = new Random(11);
            int n = 40_000;
            double sum = 0;
            double squares = 0;
            for (int i = 0; i < n; i++) {
                double v = BatchMixing.beta(random, alpha);
                assertThat(v).isBetween(0.0, 1.0);
                sum += v;
                squares += v * v;
            }
            double mean = sum / n;
            double variance = squares / n - mean * mean;
            // Beta(a, a): mean 1/2, variance 1 / (4 (2a + 1))
            assertThat(mean).as("alpha %s", alpha).isCloseTo(0.5, within(0.01));
            assertThat(variance).as("alpha %s", alpha).isCloseTo(1 / (4 * (2 * alpha + 1)), within(0.004));
        }
        // Gamma(a, 1) has mean a
        Random random = new Random(5);
        double sum = 0;
        for (int i = 0; i < 40_000; i++) {
            sum += BatchMixing.gamma(random, 0.3);
        }
        assertThat(sum / 40_000).isCloseTo(0.3, within(0.01));
    }

    @Test
    void drawsRepeatForASeedAndDifferBetweenSeeds() {
        MixUp both = MixUp.builder().optMixUpAlpha(0.8).optCutMixAlpha(1.0).build();
        Set<String> seen = new HashSet<>();
        int cut = 0;
        for (long batch = 0; batch < 200; batch++) {
            long seed = SeededSampling.batchSeed(SeededSampling.epochSeed(42, 1), batch);
            BatchMixing.Draw a = BatchMixing.draw(both, seed, IMAGES);
            BatchMixing.Draw b = BatchMixing.draw(both, seed, IMAGES);
            assertThat(a.toString()).isEqualTo(b.toString());
            seen.add(a.toString());
            cut += a.cutMix() ? 1 : 0;
        }
        // every batch draws anew (a few CutMix draws coincide on a 10 x 10 image)
        assertThat(seen).hasSizeGreaterThan(160);
        assertThat(cut).as("switch probability 0.5").isBetween(70, 130);
        // probability 0 never mixes; MixUp alone never cuts
        assertThat(BatchMixing.draw(MixUp.builder().optMixUpAlpha(1).optProbability(0).build(), 3, IMAGES).mixed())
                .isFalse();
        for (long seed = 0; seed < 50; seed++) {
            BatchMixing.Draw d = BatchMixing.draw(MixUp.of(0.4), seed, new Shape(8, 16));
            assertThat(d.mixed()).isTrue();
            assertThat(d.cutMix()).isFalse();
        }
    }

    @Test
    void cutMixBoxesFollowTimmsRandBboxAndCorrectLambdaToTheUncoveredShare() {
        // lambda 0.64: sides int(10 * 0.6) = 6, 3 on each side of the centre, clipped
        assertThat(BatchMixing.box(0.64, 1, 8, 10, 10)).containsExactly(0, 4, 5, 10);
        assertThat(BatchMixing.box(0.64, 5, 5, 10, 10)).containsExactly(2, 8, 2, 8);
        // an odd side loses its odd pixel (timm: cut_h // 2 each way): lambda 0.51 -> int(7.0) = 7 -> 3 + 3
        assertThat(BatchMixing.box(0.51, 5, 5, 10, 10)).containsExactly(2, 8, 2, 8);
        for (long seed = 0; seed < 300; seed++) {
            BatchMixing.Draw d = BatchMixing.draw(MixUp.cutMix(1.0), seed, IMAGES);
            if (!d.mixed()) {
                continue; // a box that covers nothing leaves the batch alone
            }
            int[] b = d.box();
            assertThat(b[0]).isBetween(0, b[1]);
            assertThat(b[1]).isLessThanOrEqualTo(10);
            assertThat(b[2]).isBetween(0, b[3]);
            assertThat(b[3]).isLessThanOrEqualTo(10);
            assertThat(d.lambda()).isEqualTo(1 - (b[1] - b[0]) * (b[3] - b[2]) / 100.0);
        }
        assertThatThrownBy(() -> {
            for (long seed = 0; seed < 10; seed++) {
                BatchMixing.draw(MixUp.cutMix(1.0), seed, new Shape(4, 512));
            }
        }).hasMessageContaining("needs image batches of shape (N, C, H, W)").hasMessageContaining("(4, 512)")
                .hasMessageContaining("MixUp.of(alpha)");
    }

    @Test
    void mixUpBlendsTheBatchWithItselfReversedAndMixesTheOneHots() {
        try (NDManager m = NDManager.newBaseManager()) {
            float[] values = new float[4 * 3];
            for (int i = 0; i < values.length; i++) {
                values[i] = i;
            }
            NDArray x = m.create(values, new Shape(4, 3));
            NDArray y = m.create(new float[] {0, 1, 2, 1});
            BatchMixing.Draw draw = new BatchMixing.Draw(true, false, 0.25, null);
            BatchMixing.Mixed mixed = BatchMixing.apply(draw, x, y, 3);
            float[] out = mixed.input().toFloatArray();
            for (int i = 0; i < 4; i++) {
                for (int j = 0; j < 3; j++) {
                    double expected = 0.25 * values[i * 3 + j] + 0.75 * values[(3 - i) * 3 + j];
                    assertThat((double) out[i * 3 + j]).isCloseTo(expected, within(1e-5));
                }
            }
            // sample 0 (label 0) with sample 3 (label 1): 0.25 of class 0, 0.75 of class 1
            assertThat(mixed.target().toFloatArray()).containsExactly(
                    0.25f, 0.75f, 0f,
                    0f, 0.25f, 0.75f,
                    0f, 0.75f, 0.25f,
                    0.75f, 0.25f, 0f);
            assertThat(mixed.truth().toLongArray()).as("the partner's label has the larger share").containsExactly(1, 2, 1, 0);
        }
    }

    @Test
    void cutMixPastesTheBoxOfTheReversedBatchAndNothingElse() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray x = m.randomUniform(0, 1, IMAGES);
            NDArray y = m.create(new float[] {0, 1, 2, 3});
            BatchMixing.Draw draw = new BatchMixing.Draw(true, true, 1 - 4 * 5 / 100.0, new int[] {0, 4, 5, 10});
            BatchMixing.Mixed mixed = BatchMixing.apply(draw, x, y, 4);
            float[] in = x.toFloatArray();
            float[] out = mixed.input().toFloatArray();
            for (int n = 0; n < 4; n++) {
                for (int r = 0; r < 10; r++) {
                    for (int c = 0; c < 10; c++) {
                        boolean inBox = r < 4 && c >= 5;
                        int from = inBox ? 3 - n : n;
                        assertThat(out[n * 100 + r * 10 + c]).isEqualTo(in[from * 100 + r * 10 + c]);
                    }
                }
            }
            assertThat(mixed.target().toFloatArray()[0]).isCloseTo(0.8f, within(1e-6f));
            assertThat(mixed.target().toFloatArray()[3]).isCloseTo(0.2f, within(1e-6f));
            assertThat(mixed.truth().toLongArray()).containsExactly(0, 1, 2, 3);
            assertThat(x.toFloatArray()).as("the batch itself is left as it was").containsExactly(in);
        }
    }
}
