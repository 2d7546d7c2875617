package dev.finetune.examples.bench;

import java.util.Arrays;

/** Medians of repeated measurements after warm-up. */
final class Timing {

    private Timing() {}

    /** Something measured once per call, returning a value (seconds, images/s...). */
    @FunctionalInterface
    interface Measure {
        double run() throws Exception;
    }

    /**
     * @param warmup calls whose values are dropped
     * @param repeats calls that count
     * @param m the measurement
     * @return the median of the counted values
     * @throws Exception if a call fails
     */
    static double median(int warmup, int repeats, Measure m) throws Exception {
        for (int i = 0; i < warmup; i++) {
            m.run();
        }
        double[] v = new double[repeats];
        for (int i = 0; i < repeats; i++) {
            v[i] = m.run();
        }
        Arrays.sort(v);
        return repeats % 2 == 1 ? v[repeats / 2] : (v[repeats / 2 - 1] + v[repeats / 2]) / 2;
    }
}
