package dev.finetune.core.strategy;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/** Learning-rate multipliers per group for each strategy. */
class StrategyTest {

    @Test
    void multipliersPerStrategy() {
        assertThat(Strategy.headOnly().multipliers(4, 0)).containsExactly(0, 0, 0, 1);
        assertThat(Strategy.partial(2).multipliers(4, 0)).containsExactly(0, 1, 1, 1);
        assertThat(Strategy.full().multipliers(3, 5)).containsExactly(1, 1, 1);
        double[] d = Strategy.discriminative(2.5).multipliers(4, 0);
        assertThat(d).containsExactly(new double[] {1 / 15.625, 1 / 6.25, 1 / 2.5, 1}, within(1e-12));
        for (int i = 1; i < d.length; i++) {
            assertThat(d[i]).isGreaterThan(d[i - 1]);
        }
    }

    @Test
    void gradualUnfreezingAddsOneGroupPerPeriod() {
        Strategy s = Strategy.gradualUnfreezing(2, 1.0);
        assertThat(s.multipliers(3, 0)).containsExactly(0, 0, 1);
        assertThat(s.multipliers(3, 1)).containsExactly(0, 0, 1);
        assertThat(s.multipliers(3, 2)).containsExactly(0, 1, 1);
        assertThat(s.multipliers(3, 4)).containsExactly(1, 1, 1);
        assertThat(s.multipliers(3, 9)).containsExactly(1, 1, 1);
    }

    @Test
    void reinitialisationIsRecordedAndMustTrainWhatItResets() {
        Strategy s = Strategy.partial(1).withReinitializedTop(2);
        assertThat(s.reinitializedTopGroups()).isEqualTo(2);
        assertThat(s.describe()).isEqualTo("partial(1)+reinit-top(2)");
        assertThatThrownBy(() -> Strategy.headOnly().withReinitializedTop(2).multipliers(4, 0))
                .hasMessageContaining("would leave it random");
        assertThatThrownBy(() -> Strategy.discriminative(0.5)).hasMessageContaining(">= 1");
    }
}
