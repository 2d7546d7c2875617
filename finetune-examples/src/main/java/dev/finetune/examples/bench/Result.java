package dev.finetune.examples.bench;

import java.util.Locale;

/**
 * One benchmark target as measured: the ratio against its bound, the verdict, and the absolute
 * figures behind the ratio.
 *
 * @param id the target's number in issue 5
 * @param name what is measured
 * @param ratio the measured ratio (NaN when not measured)
 * @param bound the target's bound on the ratio
 * @param higherIsBetter whether the ratio must be at least (true) or at most (false) the bound
 * @param detail the absolute figures and conditions, or why it was not measured
 */
record Result(String id, String name, double ratio, double bound, boolean higherIsBetter, String detail) {

    /** @return PASS, SHORT, NOT MEASURED, or REPORTED (a figure the issue asks for without a bound) */
    String verdict() {
        if (Double.isNaN(ratio)) {
            return "NOT MEASURED";
        }
        if (Double.isNaN(bound)) {
            return "REPORTED";
        }
        return (higherIsBetter ? ratio >= bound : ratio <= bound) ? "PASS" : "SHORT";
    }

    /** @return the line printed to the console */
    String line() {
        return String.format(Locale.ROOT, "[%s] %-58s %s (target %s)  %s", id, name,
                Double.isNaN(ratio) ? "-" : String.format(Locale.ROOT, "%.3f", ratio),
                Double.isNaN(bound) ? "none" : (higherIsBetter ? ">= " : "<= ") + fmt(bound), verdict());
    }

    private static String fmt(double v) {
        return v == Math.rint(v) ? String.valueOf((long) v) : String.valueOf(v);
    }
}
