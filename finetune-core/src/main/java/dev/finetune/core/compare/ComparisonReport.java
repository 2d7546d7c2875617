package dev.finetune.core.compare;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.ToDoubleFunction;

/**
 * The runs of a {@link Comparison} with a summary per candidate (mean and standard deviation over
 * seeds), printable as a console table, Markdown and CSV, and drawn as PNG charts.
 */
public final class ComparisonReport {

    private final List<Candidate> candidates;
    private final List<StrategyRun> runs;

    /**
     * @param candidates the candidates in order
     * @param runs every run
     */
    public ComparisonReport(List<Candidate> candidates, List<StrategyRun> runs) {
        this.candidates = List.copyOf(candidates);
        this.runs = List.copyOf(runs);
    }

    /**
     * Mean and sample standard deviation of one measure over seeds.
     *
     * @param mean the mean
     * @param sd the standard deviation (0 for one seed)
     */
    public record Spread(double mean, double sd) {
        static Spread of(List<StrategyRun> runs, ToDoubleFunction<StrategyRun> f) {
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
     * One candidate over its seeds.
     *
     * @param candidate the candidate
     * @param seeds runs
     * @param validationAccuracy best-epoch validation accuracy
     * @param validationMacroF1 best-epoch validation macro-F1
     * @param testAccuracy test accuracy
     * @param wallSeconds wall time per run
     * @param secondsPerEpoch wall time per epoch
     * @param trainableParameters most values trained in an epoch
     * @param peakResidentMegabytes peak resident memory (MB)
     * @param imagesPerSecond training throughput
     */
    public record Summary(Candidate candidate, int seeds, Spread validationAccuracy, Spread validationMacroF1,
            Spread testAccuracy, Spread wallSeconds, Spread secondsPerEpoch, long trainableParameters,
            Spread peakResidentMegabytes, Spread imagesPerSecond) {}

    /** @return the candidates in order */
    public List<Candidate> candidates() {
        return candidates;
    }

    /** @return every run, seed by seed */
    public List<StrategyRun> runs() {
        return runs;
    }

    /**
     * @param candidate a candidate's name
     * @return its runs
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
            out.add(new Summary(c, rs.size(), Spread.of(rs, StrategyRun::bestValidationAccuracy),
                    Spread.of(rs, StrategyRun::bestValidationMacroF1), Spread.of(rs, StrategyRun::testAccuracy),
                    Spread.of(rs, StrategyRun::wallSeconds), Spread.of(rs, StrategyRun::secondsPerEpoch), trainable,
                    Spread.of(rs, r -> r.peakResidentBytes() / 1e6), Spread.of(rs, StrategyRun::imagesPerSecond)));
        }
        return out;
    }

    /**
     * The winner as a user should pick it: by mean validation accuracy (the test set is only read).
     *
     * @return the summary of the candidate with the best mean validation accuracy
     */
    public Summary bestByValidation() {
        Summary best = null;
        for (Summary s : summaries()) {
            if (best == null || s.validationAccuracy().mean() > best.validationAccuracy().mean()) {
                best = s;
            }
        }
        return best;
    }

    private static final String[] HEADER = {
        "strategy", "val acc", "val macro-F1", "test acc", "wall s", "s/epoch", "trainable", "peak RSS MB", "images/s"};

    private List<String[]> rows() {
        List<String[]> rows = new ArrayList<>();
        for (Summary s : summaries()) {
            rows.add(new String[] {
                s.candidate().name(),
                s.validationAccuracy().format("%.3f"),
                s.validationMacroF1().format("%.3f"),
                s.testAccuracy().format("%.3f"),
                s.wallSeconds().format("%.1f"),
                s.secondsPerEpoch().format("%.2f"),
                String.valueOf(s.trainableParameters()),
                s.peakResidentMegabytes().mean() < 0 ? "-" : s.peakResidentMegabytes().format("%.0f"),
                s.imagesPerSecond().format("%.0f")});
        }
        return rows;
    }

    /** @return the summary as an aligned console table (mean ± sd over seeds) */
    public String table() {
        List<String[]> rows = rows();
        int[] width = new int[HEADER.length];
        for (int i = 0; i < HEADER.length; i++) {
            width[i] = HEADER[i].length();
            for (String[] r : rows) {
                width[i] = Math.max(width[i], r[i].length());
            }
        }
        StringBuilder sb = new StringBuilder();
        appendRow(sb, HEADER, width);
        for (String[] r : rows) {
            appendRow(sb, r, width);
        }
        sb.append(String.format(Locale.ROOT, "%d seed(s) per strategy; best by validation: %s%n",
                runs.size() / Math.max(1, candidates.size()), bestByValidation().candidate().name()));
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
        sb.append("| ").append(String.join(" | ", HEADER)).append(" |\n");
        sb.append("|---".repeat(HEADER.length)).append("|\n");
        for (String[] r : rows()) {
            sb.append("| ").append(String.join(" | ", r)).append(" |\n");
        }
        sb.append("\nMean ± standard deviation over ").append(runs.size() / Math.max(1, candidates.size()))
                .append(" seed(s). Best by validation accuracy: **").append(bestByValidation().candidate().name())
                .append("**. The test set was evaluated once per run, after training.\n\nPlans:\n\n");
        for (Candidate c : candidates) {
            sb.append("- ").append(c.name()).append(": ");
            for (int i = 0; i < c.stages().size(); i++) {
                sb.append(i == 0 ? "" : " -> ").append(c.stages().get(i).describe());
            }
            sb.append('\n');
        }
        return sb.toString();
    }

    /** @return one CSV line per run (and per epoch in {@link #curvesCsv()}) */
    public String csv() {
        StringBuilder sb = new StringBuilder("strategy,seed,val_accuracy,val_macro_f1,test_accuracy,test_macro_f1,"
                + "wall_seconds,seconds_per_epoch,trainable_parameters,peak_resident_bytes,peak_heap_bytes,images_per_second\n");
        for (StrategyRun r : runs) {
            sb.append(String.format(Locale.ROOT, "%s,%d,%.6f,%.6f,%.6f,%.6f,%.4f,%.4f,%d,%d,%d,%.2f%n", quote(r.candidate()),
                    r.seed(), r.bestValidationAccuracy(), r.bestValidationMacroF1(), r.testAccuracy(), r.testMacroF1(),
                    r.wallSeconds(), r.secondsPerEpoch(), r.trainableParameters(), r.peakResidentBytes(),
                    r.peakHeapBytes(), r.imagesPerSecond()));
        }
        return sb.toString();
    }

    /** @return the training curves: one CSV line per run and epoch */
    public String curvesCsv() {
        StringBuilder sb = new StringBuilder(
                "strategy,seed,epoch,stage,train_loss,train_accuracy,val_loss,val_accuracy,val_macro_f1,learning_rate\n");
        for (StrategyRun r : runs) {
            for (var m : r.result().epochs()) {
                sb.append(String.format(Locale.ROOT, "%s,%d,%d,%d,%.6f,%.6f,%.6f,%.6f,%.6f,%.3e%n", quote(r.candidate()),
                        r.seed(), m.epoch(), m.stage() + 1, m.trainLoss(), m.trainAccuracy(), m.validationLoss(),
                        m.validationAccuracy(), m.validationMacroF1(), m.learningRate()));
            }
        }
        return sb.toString();
    }

    private static String quote(String s) {
        return s.contains(",") || s.contains("\"") ? '"' + s.replace("\"", "\"\"") + '"' : s;
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
