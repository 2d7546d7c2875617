package dev.finetune.core.reliability;

import dev.finetune.core.fixtures.SoakFit;
import dev.finetune.core.testing.MemoryProbe;
import dev.finetune.core.testing.MemoryProbe.Sample;
import dev.finetune.core.testing.NativeHeap;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.function.ToLongFunction;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * 2,000 training steps, and 50 stages created and closed on one model, keep memory flat: the native
 * arrays alive (exactly), the C heap that libtorch and DJL hold and the Java heap after a GC (under
 * 2%), resident memory less the freed memory glibc keeps for reuse (under 5%) and resident memory
 * itself (under 10%).
 * Each runs in a child JVM whose Java heap is committed and touched up front ({@code -Xms = -Xmx},
 * {@code -XX:+AlwaysPreTouch}): otherwise resident memory climbs, in a fresh JVM, as the collector
 * first touches heap pages it had committed but not used (measured: +27% over 3,000 steps of a plain
 * DJL loop with an untouched heap, -0.4% with a touched one). Each measure is compared by its floor
 * over a window early and late in the run ({@link MemoryProbe#floor}).
 */
class SoakTest {

    /** The bound on the growth of resident memory less glibc's free pool (see {@link Span#assertFlat}). */
    static final double HELD_BOUND = 0.05;

    /** Samples early and late in a run. */
    private record Span(List<Sample> early, List<Sample> late) {

        double growth(ToLongFunction<Sample> measure) {
            long e = MemoryProbe.floor(early, measure);
            return (double) (MemoryProbe.floor(late, measure) - e) / e;
        }

        String mb(ToLongFunction<Sample> measure) {
            return String.format(Locale.ROOT, "%.2f -> %.2f MB (%+.3f%%)", MemoryProbe.floor(early, measure) / 1e6,
                    MemoryProbe.floor(late, measure) / 1e6, growth(measure) * 100);
        }

        String describe() {
            return "live native arrays " + MemoryProbe.floor(early, Sample::nativeArrays) + " -> "
                    + MemoryProbe.floor(late, Sample::nativeArrays) + "; C heap in use outside the JVM "
                    + mb(Sample::nativeOutsideJvm) + "; Java heap after GC " + mb(Sample::heap) + "; resident "
                    + mb(Sample::resident) + ", freed memory glibc keeps " + mb(Sample::allocatorFree)
                    + ", resident less that " + mb(Sample::held);
        }

        void assertFlat() {
            assertThat(MemoryProbe.floor(late, Sample::nativeArrays)).as("native arrays alive")
                    .isEqualTo(MemoryProbe.floor(early, Sample::nativeArrays));
            // what libtorch and DJL hold (glibc's bytes in use minus the JVM's own, by native memory tracking)
            assertThat(growth(Sample::nativeOutsideJvm)).as("C heap in use outside the JVM").isLessThan(0.02);
            assertThat(growth(Sample::heap)).as("Java heap after GC").isLessThan(0.02);
            // resident memory also counts freed memory that glibc keeps in its arenas for reuse, which grows
            // in steps of a few MB as they fragment (+0.7% to +7.5% seen); less that pool it moved -3.3% to
            // +1.75% (about -13 to +7 MB of ~400 MB) in runs without a leak, the allocator's level shifts.
            // The bound, 5% (20 MB), is 1.7 points above the largest move seen either way; a leak of one
            // input batch (8 images, 25 KB) per step adds 40 MB (10%) over the 1,600 steps between the
            // windows (measured +9.4% with 25 KB of direct memory kept per step, which no other measure
            // here saw). DJL arrays and the C heap have their own, tighter checks above; a leak of under
            // about 12 KB per step outside both would pass.
            assertThat(growth(Sample::held)).as("resident memory less glibc's free pool").isLessThan(HELD_BOUND);
            assertThat(growth(Sample::resident)).as("resident memory").isLessThan(0.10);
        }
    }

    private static List<Sample> run(String what) throws Exception {
        String java = ProcessHandle.current().info().command().orElse("java");
        // a 192 MB heap (about 55 MB live) committed and touched up front
        List<String> cmd = new ArrayList<>(List.of(java, "-Xms192m", "-Xmx192m", "-XX:+AlwaysPreTouch",
                "-Dai.djl.offline=true", "-Dai.djl.pytorch.num_threads=1", "-Dai.djl.pytorch.num_interop_threads=1"));
        cmd.addAll(NativeHeap.JVM_FLAGS);
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), SoakFit.class.getName(), what));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        StringBuilder log = new StringBuilder();
        List<Sample> samples = Sample.readAll(p.getInputStream(), log);
        assertThat(p.waitFor(10, TimeUnit.MINUTES)).isTrue();
        assertThat(p.exitValue()).as(log.toString()).isZero();
        return samples;
    }

    @Test
    void twoThousandStepsKeepMemoryFlat() throws Exception {
        List<Sample> rows = run("steps");
        // sample 0 is the peek before training; sample k the start of epoch k (step 10(k-1))
        assertThat(rows).hasSize(201);
        Span span = new Span(rows.subList(21, 41), rows.subList(rows.size() - 20, rows.size()));
        System.out.println("RELIABILITY soak: 2000 steps of full fine-tuning, batch 8 (floors of steps 200-400 and"
                + " 1800-2000, child JVM with a touched heap): " + span.describe());
        // a leak of 8 MB over the run (e.g. 0.5 MB every 100 steps) is 15% of the C heap, caught there,
        // and 2% of resident memory, within the noise of that measure
        span.assertFlat();
    }

    /**
     * The library's per-stage objects (optimizer state in its own sub-manager, per-step managers,
     * BatchNorm guards) are created and closed 50 times on one model. DJL's own {@code Trainer} is
     * not used by the library: DJL's optimizers keep their state arrays in the parameters' manager,
     * which a closed Trainer does not free (RELIABILITY.md).
     */
    @Test
    void fiftyStagesCreatedAndClosedLeaveNothingBehind() throws Exception {
        List<Sample> rows = run("cycles"); // after fits 10, 11, ..., 60
        assertThat(rows).hasSize(51);
        Span span = new Span(rows.subList(0, 10), rows.subList(41, 51));
        System.out.println("RELIABILITY stage cycles: 50 fits of one stage on one model (optimizer created and"
                + " closed each time; floors after fits 10-19 and 51-60, child JVM with a touched heap): "
                + span.describe());
        span.assertFlat();
    }
}
