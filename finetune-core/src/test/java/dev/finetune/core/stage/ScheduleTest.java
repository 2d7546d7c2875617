package dev.finetune.core.stage;

import dev.finetune.core.plan.Schedule;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** Warmup then cosine decay, per step. */
class ScheduleTest {

    @Test
    void warmsUpLinearlyThenDecaysByCosine() {
        Schedule s = Schedule.warmupCosine(0.1, 0.0);
        long total = 100;
        assertThat(s.factor(0, total)).isCloseTo(0.1, within(1e-12));
        assertThat(s.factor(4, total)).isCloseTo(0.5, within(1e-12));
        assertThat(s.factor(9, total)).isCloseTo(1.0, within(1e-12));
        assertThat(s.factor(10, total)).isCloseTo(1.0, within(1e-12));
        assertThat(s.factor(54, total)).isCloseTo(0.5 * (1 + Math.cos(Math.PI * 44 / 89)), within(1e-12));
        assertThat(s.factor(99, total)).isCloseTo(0.0, within(1e-12));
        for (long t = 10; t < 99; t++) {
            assertThat(s.factor(t + 1, total)).isLessThan(s.factor(t, total));
        }
        assertThat(Schedule.warmupCosine(0, 0.01).factor(99, total)).isCloseTo(0.01, within(1e-12));
        assertThat(Schedule.constant().factor(50, total)).isEqualTo(1.0);
    }
}
