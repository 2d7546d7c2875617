package dev.finetune.core.compare;

import dev.finetune.core.internal.Csv;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.function.ToDoubleFunction;

/**
 * The runs of a {@link Comparison} with a summary per candidate (mean and standard deviation over
 * seeds), printable as a console table, Markdown and CSV, and drawn as PNG charts.
 *
 * <p>Runs that failed ({@link #failures()}) are listed as failed, with their reasons, in every
 * output, and left out of everything else: {@link #runs()}, the means and standard deviations, the
 * charts and {@link #bestByValidation()}. A candidate whose every seed failed is shown as failed and
 * is never the best.
 */
public final class ComparisonReport {

    private final List<Candidate> candidates;
    private final List<StrategyRun> runs;
    private final List<FailedRun> failures;

    /**
     * A report without failures.
     *
     * @param candidates the candidates in order
     * @param runs every run
     */
    public ComparisonReport(List<Candidate> candidates, List<StrategyRun> runs) {
        this(candidates, runs, List.of());
    }

    /**
     * @param candidates the candidates in order
     * @param runs every finished run
     * @param failures every failed run
     */
    public ComparisonReport(List<Candidate> candidates, List<StrategyRun> runs, List<FailedRun> failures) {
        this.candidates = List.copyOf(candidates);
        this.runs = List.copyOf(runs);
        this.failures = List.copyOf(failures);
    }

    /**
     * Mean and sample standard deviation (divided by n - 1) of one measure over the finished runs of
     * a candidate.
     *
     * @param mean the mean, NaN when no run finished
     * @param sd the sample standard deviation (0 for one run, NaN for none)
     */
    public record Spread(double mean, double sd) {
        static Spread of(List<StrategyRun> runs, ToDoubleFunction<StrategyRun> f) {
            if (runs.isEmpty()) {
                return new Spread(Double.NaN, Double.NaN);
            }
            double sum = 0;
            for (StrategyRun r : runs) {
                sum += f.applyAsDouble(r);
            }
            double mean = sum / runs.size();
            double ss = 0;
            for (StrategyRun r : runs) {
                double d = f.applyAsDouble(r) - mean;
                ss += d * d;
            }
            return new Spread(mean, runs.size() > 1 ? Math.sqrt(ss / (runs.size() - 1)) : 0);
        }

        String format(String pattern) {
            return String.format(Locale.ROOT, pattern, mean) + (sd > 0 ? String.format(Locale.ROOT, " ±" + pattern, sd) : "");
        }
    }

    /**
     * One candidate over its seeds: the spreads are over its finished runs only.
     *
     * @param candidate the candidate
     * @param seeds its finished runs, the ones the spreads are over
     * @param failedRuns its failed runs, left out of the spreads
     * @param validationAccuracy best-epoch validation accuracy
     * @param validationMacroF1 best-epoch validation macro-F1
     * @param testAccuracy test accuracy
     * @param wallSeconds wall time per run
     * @param secondsPerEpoch wall time per epoch
     * @param trainableParameters most values trained in an epoch
     * @param peakResidentMegabytes peak resident memory (MB)
     * @param imagesPerSecond training throughput
     */
    public record Summary(Candidate candidate, int seeds, int failedRuns, Spread validationAccuracy,
            Spread validationMacroF1, Spread testAccuracy, Spread wallSeconds, Spread secondsPerEpoch,
            long trainableParameters, Spread peakResidentMegabytes, Spread imagesPerSecond) {

        /** @return whether every run of the candidate failed (it then has no figures) */
        public boolean allFailed() {
            return seeds == 0;
        }
    }

    /** @return the candidates in order */
    public List<Candidate> candidates() {
        return candidates;
    }

    /** @return every finished run, seed by seed (failed runs are in {@link #failures()}) */
    public List<StrategyRun> runs() {
        return runs;
    }

    /** @return every failed run, seed by seed, with its reason */
    public List<FailedRun> failures() {
        return failures;
    }

    /**
     * @param candidate a candidate's name
     * @return its failed runs
     */
    public List<FailedRun> failuresOf(String candidate) {
        List<FailedRun> out = new ArrayList<>();
        for (FailedRun f : failures) {
            if (f.candidate().equals(candidate)) {
                out.add(f);
            }
        }
        return out;
    }

    /**
     * @param candidate a candidate's name
     * @return its finished runs
     */
    public List<StrategyRun> runsOf(String candidate) {
        List<StrategyRun> out = new ArrayList<>();
        for (StrategyRun r : runs) {
            if (r.candidate().equals(candidate)) {
                out.add(r);
            }
        }
        return out;
    }

    /** @return one summary per candidate, in order */
    public List<Summary> summaries() {
        List<Summary> out = new ArrayList<>();
        for (Candidate c : candidates) {
            List<StrategyRun> rs = runsOf(c.name());
            long trainable = 0;
            for (StrategyRun r : rs) {
                trainable = Math.max(trainable, r.trainableParameters());
            }
            out.add(new Summary(c, rs.size(), failuresOf(c.name()).size(),
                    Spread.of(rs, StrategyRun::bestValidationAccuracy), Spread.of(rs, StrategyRun::bestValidationMacroF1), Spread.of(rs, StrategyRun::testAccuracy),
                    Spread.of(rs, StrategyRun::wallSeconds), Spread.of(rs, StrategyRun::secondsPerEpoch), trainable,
                    Spread.of(rs, r -> r.peakResidentBytes() / 1e6), Spread.of(rs, StrategyRun::imagesPerSecond)));
        }
        return out;
    }

    /**
     * The winner as a user should pick it: by mean validation accuracy over its finished runs (the
     * test set is only read). Failed runs are left out of the mean; a candidate whose every run
     * failed is never the winner. On a tie the earlier candidate wins.
     *
     * @return the summary of the candidate with the best mean validation accuracy
     * @throws IllegalStateException if every run failed, naming the first failure
     */
    public Summary bestByValidation() {
        Summary best = null;
        for (Summary s : summaries()) {
            if (!s.allFailed() && (best == null || s.validationAccuracy().mean() > best.validationAccuracy().mean())) {
                best = s;
            }
        }
        if (best == null) {
            throw new IllegalStateException(failures.isEmpty() ? "No run of the comparison finished, so no candidate is best."
                    : "Every run of the comparison failed, so no candidate is best (" + failures.size()
                            + " failed runs; the first: " + oneLine(failures.get(0).reason()) + ")");
        }
        return best;
    }

    private static final String[] HEADER = {
        "strategy", "val acc", "val macro-F1", "test acc", "wall s", "s/epoch", "trainable", "peak RSS MB", "images/s"};

    private String[] header() {
        if (failures.isEmpty()) {
            return HEADER;
        }
        String[] h = Arrays.copyOf(HEADER, HEADER.length + 1);
        h[HEADER.length] = "failed runs";
        return h;
    }

    private List<String[]> rows() {
        List<String[]> rows = new ArrayList<>();
        for (Summary s : summaries()) {
            if (s.allFailed()) {
                String[] r = new String[header().length];
                Arrays.fill(r, "-");
                r[0] = s.candidate().name();
                r[1] = "failed";
                r[r.length - 1] = s.failedRuns() + " of " + s.failedRuns();
                rows.add(r);
                continue;
            }
            String[] r = {
                s.candidate().name(),
                s.validationAccuracy().format("%.3f"),
                s.validationMacroF1().format("%.3f"),
                s.testAccuracy().format("%.3f"),
                s.wallSeconds().format("%.1f"),
                s.secondsPerEpoch().format("%.2f"),
                String.valueOf(s.trainableParameters()),
                s.peakResidentMegabytes().mean() < 0 ? "-" : s.peakResidentMegabytes().format("%.0f"),
                s.imagesPerSecond().format("%.0f")};
            if (!failures.isEmpty()) {
                r = Arrays.copyOf(r, r.length + 1);
                r[r.length - 1] = s.failedRuns() + " of " + (s.seeds() + s.failedRuns());
            }
            rows.add(r);
        }
        return rows;
    }

    /** @return the seeds the comparison ran (finished or failed), in order of first appearance */
    private Set<Long> seeds() {
        Set<Long> seeds = new LinkedHashSet<>();
        runs.forEach(r -> seeds.add(r.seed()));
        failures.forEach(f -> seeds.add(f.seed()));
        return seeds;
    }

    /** @return the winner's name, with its failures if it had any, or why there is none */
    private String bestLine() {
        if (summaries().stream().allMatch(Summary::allFailed)) {
            return failures.isEmpty() ? "none (no run)" : "none (every run failed)";
        }
        Summary best = bestByValidation();
        return best.candidate().name() + (best.failedRuns() == 0 ? ""
                : " (over " + best.seeds() + " finished runs; " + best.failedRuns() + " failed)");
    }

    /** @return the summary as an aligned console table (mean ± sd over seeds) */
    public String table() {
        List<String[]> rows = rows();
        String[] header = header();
        int[] width = new int[header.length];
        for (int i = 0; i < header.length; i++) {
            width[i] = header[i].length();
            for (String[] r : rows) {
                width[i] = Math.max(width[i], r[i].length());
            }
        }
        StringBuilder sb = new StringBuilder();
        appendRow(sb, header, width);
        for (String[] r : rows) {
            appendRow(sb, r, width);
        }
        sb.append(String.format(Locale.ROOT, "%d seed(s) per strategy; best by validation: %s%n", seeds().size(),
                bestLine()));
        if (!failures.isEmpty()) {
            sb.append(String.format(Locale.ROOT, "%d failed run(s), left out of the figures:%n", failures.size()));
            for (FailedRun f : failures) {
                sb.append("  ").append(oneLine(f.reason())).append(System.lineSeparator());
            }
        }
        return sb.toString();
    }

    private static void appendRow(StringBuilder sb, String[] r, int[] width) {
        for (int i = 0; i < r.length; i++) {
            String cell = i == 0 ? String.format("%-" + width[i] + "s", r[i]) : String.format("%" + width[i] + "s", r[i]);
            sb.append(i == 0 ? "" : "  ").append(cell);
        }
        sb.append(System.lineSeparator());
    }

    /** @return the summary as a Markdown table with the plans below it */
    public String markdown() {
        StringBuilder sb = new StringBuilder();
        String[] header = header();
        sb.append("| ").append(String.join(" | ", header)).append(" |\n");
        sb.append("|---".repeat(header.length)).append("|\n");
        for (String[] r : rows()) {
            sb.append("| ").append(String.join(" | ", r)).append(" |\n");
        }
        sb.append("\nMean ± standard deviation over ").append(seeds().size())
                .append(" seed(s)").append(failures.isEmpty() ? "" : ", finished runs only")
                .append(". Best by validation accuracy: **").append(bestLine())
                .append("**. The test set was evaluated once per run, after training.\n\n");
        if (!failures.isEmpty()) {
            sb.append("Failed runs (left out of the figures):\n\n");
            for (FailedRun f : failures) {
                sb.append("- ").append(oneLine(f.reason())).append('\n');
            }
            sb.append('\n');
        }
        sb.append("Plans:\n\n");
        for (Candidate c : candidates) {
            sb.append("- ").append(c.name()).append(": ");
            for (int i = 0; i < c.stages().size(); i++) {
                sb.append(i == 0 ? "" : " -> ").append(c.stages().get(i).describe());
            }
            sb.append('\n');
        }
        return sb.toString();
    }

    /**
     * One CSV line per run, finished or failed, seed by seed (and per epoch of the finished runs in
     * {@link #curvesCsv()}). The last two columns are the status ({@code finished} or {@code failed})
     * and a failed run's reason; a failed run has only its wall time until it failed.
     *
     * @return the CSV text
     */
    public String csv() {
        record Line(long seed, String candidate, List<Object> values) {}
        List<Line> lines = new ArrayList<>();
        for (StrategyRun r : runs) {
            lines.add(new Line(r.seed(), r.candidate(), List.of(r.candidate(), r.seed(),
                    f6(r.bestValidationAccuracy()), f6(r.bestValidationMacroF1()), f6(r.testAccuracy()),
                    f6(r.testMacroF1()), f4(r.wallSeconds()), f4(r.secondsPerEpoch()), r.trainableParameters(),
                    r.peakResidentBytes(), r.peakHeapBytes(), String.format(Locale.ROOT, "%.2f", r.imagesPerSecond()),
                    "finished", "")));
        }
        for (FailedRun f : failures) {
            lines.add(new Line(f.seed(), f.candidate(), List.of(f.candidate(), f.seed(), "", "", "", "",
                    f4(f.wallSeconds()), "", "", "", "", "", "failed", oneLine(f.reason()))));
        }
        // seed by seed, in the candidates' order, as the comparison ran them
        List<Long> seeds = new ArrayList<>(seeds());
        List<String> names = candidates.stream().map(Candidate::name).toList();
        lines.sort(Comparator.comparingInt((Line l) -> seeds.indexOf(l.seed()))
                .thenComparingInt(l -> names.indexOf(l.candidate())));
        List<List<?>> rows = new ArrayList<>();
        for (Line l : lines) {
            rows.add(l.values());
        }
        return Csv.write(List.of("strategy", "seed", "val_accuracy", "val_macro_f1", "test_accuracy", "test_macro_f1",
                "wall_seconds", "seconds_per_epoch", "trainable_parameters", "peak_resident_bytes", "peak_heap_bytes",
                "images_per_second", "status", "failure"), rows);
    }

    /** @return the training curves: one CSV line per run and epoch */
    public String curvesCsv() {
        List<List<?>> rows = new ArrayList<>();
        for (StrategyRun r : runs) {
            for (var m : r.result().epochs()) {
                rows.add(List.of(r.candidate(), r.seed(), m.epoch(), m.stage() + 1, f6(m.trainLoss()),
                        f6(m.trainAccuracy()), f6(m.validationLoss()), f6(m.validationAccuracy()),
                        f6(m.validationMacroF1()), String.format(Locale.ROOT, "%.3e", m.learningRate())));
            }
        }
        return Csv.write(List.of("strategy", "seed", "epoch", "stage", "train_loss", "train_accuracy", "val_loss",
                "val_accuracy", "val_macro_f1", "learning_rate"), rows);
    }

    private static String f6(double v) {
        return String.format(Locale.ROOT, "%.6f", v);
    }

    private static String f4(double v) {
        return String.format(Locale.ROOT, "%.4f", v);
    }

    private static String oneLine(String s) {
        return s.replaceAll("\\s*\\R\\s*", " ");
    }

    /**
     * Writes {@code <name>.md}, {@code <name>.csv}, {@code <name>-curves.csv} and the charts
     * {@code <name>-accuracy-vs-cost.png} and {@code <name>-curves.png}.
     *
     * @param dir the directory, created if needed
     * @param name the file name prefix
     * @return the files written
     * @throws IOException if writing fails
     */
    public List<Path> write(Path dir, String name) throws IOException {
        Files.createDirectories(dir);
        List<Path> files = new ArrayList<>();
        files.add(Files.writeString(dir.resolve(name + ".md"), markdown(), StandardCharsets.UTF_8));
        files.add(Files.writeString(dir.resolve(name + ".csv"), csv(), StandardCharsets.UTF_8));
        files.add(Files.writeString(dir.resolve(name + "-curves.csv"), curvesCsv(), StandardCharsets.UTF_8));
        files.add(ComparisonCharts.accuracyVsCost(this, dir.resolve(name + "-accuracy-vs-cost.png")));
        files.add(ComparisonCharts.curves(this, dir.resolve(name + "-curves.png")));
        return files;
    }

    @Override
    public String toString() {
        return table();
    }
}
