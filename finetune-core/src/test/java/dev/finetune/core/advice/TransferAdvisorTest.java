package dev.finetune.core.advice;

import dev.finetune.core.compare.Candidate;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/** Chu et al. 2016, Table 3: every cell, the band edges, the distance, the plans. */
class TransferAdvisorTest {

    private static Recommendation at(double images, double distance) {
        return TransferAdvisor.recommend(images, distance).recommendation();
    }

    @Test
    void everyCellOfTable3() {
        // rows: distance low / medium / high; columns: 1-20, 21-99, 100+ images per class
        assertThat(at(10, 0.1)).isEqualTo(Recommendation.FREEZE);
        assertThat(at(50, 0.1)).isEqualTo(Recommendation.TRY_BOTH);
        assertThat(at(500, 0.1)).isEqualTo(Recommendation.TUNE);
        assertThat(at(10, 0.3)).isEqualTo(Recommendation.TRY_BOTH);
        assertThat(at(50, 0.3)).isEqualTo(Recommendation.TUNE);
        assertThat(at(500, 0.3)).isEqualTo(Recommendation.TUNE);
        assertThat(at(10, 0.7)).isEqualTo(Recommendation.TRY_BOTH);
        assertThat(at(50, 0.7)).isEqualTo(Recommendation.TUNE);
        assertThat(at(500, 0.7)).isEqualTo(Recommendation.TUNE);
    }

    @Test
    void bandEdgesFollowThePaper() {
        assertThat(Band.ofImagesPerClass(1)).isEqualTo(Band.LOW);
        assertThat(Band.ofImagesPerClass(20)).isEqualTo(Band.LOW);
        assertThat(Band.ofImagesPerClass(21)).isEqualTo(Band.MEDIUM);
        assertThat(Band.ofImagesPerClass(99)).isEqualTo(Band.MEDIUM);
        assertThat(Band.ofImagesPerClass(100)).isEqualTo(Band.HIGH);
        assertThat(Band.ofDistance(0.0)).isEqualTo(Band.LOW);
        assertThat(Band.ofDistance(0.199)).isEqualTo(Band.LOW);
        assertThat(Band.ofDistance(0.2)).isEqualTo(Band.MEDIUM);
        assertThat(Band.ofDistance(0.399)).isEqualTo(Band.MEDIUM);
        assertThat(Band.ofDistance(0.4)).isEqualTo(Band.HIGH);
        assertThat(at(20, 0.19)).isEqualTo(Recommendation.FREEZE);
        assertThat(at(21, 0.19)).isEqualTo(Recommendation.TRY_BOTH);
        assertThat(at(20, 0.2)).isEqualTo(Recommendation.TRY_BOTH);
        assertThatThrownBy(() -> TransferAdvisor.recommend(0, 0.1)).hasMessageContaining("imagesPerClass");
        // issue 14, point 8: 0 classes recommended TUNE from "Infinity images per class"
        for (int classes : new int[] {0, 1, -3}) {
            assertThatThrownBy(() -> TransferAdvisor.measure(null, null, null, null, classes))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("targetClasses must be at least 2");
        }
    }

    @Test
    void cosineDistanceOfMeanFeatures() {
        float[][] source = {{1, 0}, {1, 0}};
        float[][] same = {{2, 0}, {4, 0}};
        float[][] orthogonal = {{0, 3}};
        float[][] diagonal = {{1, 1}};
        assertThat(TransferAdvisor.cosineDistance(source, same)).isCloseTo(0, within(1e-12));
        assertThat(TransferAdvisor.cosineDistance(source, orthogonal)).isCloseTo(1, within(1e-12));
        assertThat(TransferAdvisor.cosineDistance(source, diagonal)).isCloseTo(1 - Math.sqrt(0.5), within(1e-12));
        assertThatThrownBy(() -> TransferAdvisor.cosineDistance(source, new float[][] {{0, 0}}))
                .hasMessageContaining("zero");
    }

    @Test
    void adviceExplainsItselfAndBecomesAPlan() {
        Advice freeze = TransferAdvisor.recommend(12, 0.08);
        assertThat(freeze.explanation()).contains("12 images per class").contains("0.080").contains("FREEZE")
                .contains("Table 3");
        assertThat(freeze.plan(6)).hasSize(1);
        assertThat(freeze.plan(6).get(0).describe()).contains("head-only");
        assertThat(freeze.candidates(6)).extracting(Candidate::name).containsExactly("freeze");

        Advice both = TransferAdvisor.recommend(50, 0.05);
        assertThat(both.candidates(6)).extracting(Candidate::name).containsExactly("freeze", "tune");
        Advice tune = TransferAdvisor.recommend(300, 0.5);
        assertThat(tune.plan(6)).hasSize(2);
        assertThat(tune.plan(6).get(1).describe()).contains("full");
        assertThat(tune.plan(6).get(0).epochs() + tune.plan(6).get(1).epochs()).isEqualTo(6);
        assertThat(tune.explanation()).contains("100 or more");
    }
}
