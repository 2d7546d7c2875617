package dev.finetune.examples.quality;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** Writes the quality benchmark's table, with the targets marked PASS or SHORT. */
final class QualityReport {

    private QualityReport() {}

    static void write(Path out, List<QualityBenchmark.Row> rows, List<String> notes, int seeds) throws IOException {
        StringBuilder md = new StringBuilder();
        md.append("# Quality benchmark: real small image sets\n\n");
        md.append(String.format(Locale.ROOT, "Run on %s, %s, %d cores; %d seeds per setting (mean and range of test"
                        + " accuracy; wall seconds per run, mean). Backbone: MobileNetV2 (ImageNet-initialised, from the"
                        + " npm package nsfwjs 4.4.0, converted by `finetune-examples/models/convert_nsfwjs_mobilenetv2.py`),"
                        + " input the whole image squashed to 224x224 over white. Training %s; %d validation and up to %d"
                        + " test images per class (emoji: trained on Google's drawings, tested on Apple's drawings of other"
                        + " emoji). Command: see README, Benchmarks.\n\n",
                LocalDate.now(), System.getProperty("os.arch"), Runtime.getRuntime().availableProcessors(), seeds,
                "10/20/50 images per class", QualityBenchmark.VALIDATION_PER_CLASS, QualityBenchmark.TEST_PER_CLASS));
        md.append("| set | images/class | method | test accuracy (mean) | range | wall s |\n|---|---|---|---|---|---|\n");
        for (QualityBenchmark.Row row : rows) {
            for (Map.Entry<String, List<double[]>> e : row.runs().entrySet()) {
                double[] s = stats(e.getValue());
                md.append(String.format(Locale.ROOT, "| %s | %d | %s | %.3f | %.3f-%.3f | %.1f |%n", row.set(),
                        row.perClass(), e.getKey(), s[0], s[1], s[2], s[3]));
            }
        }
        if (rows.stream().allMatch(r -> r.runs().containsKey("automatic plan"))) { // not in --strategies-only runs
            targets(md, rows);
        }
        if (!notes.isEmpty()) {
            md.append("\n## Not measured\n\n");
            for (String n : notes) {
                md.append("- ").append(n).append('\n');
            }
        }
        Files.createDirectories(out.toAbsolutePath().getParent());
        Files.writeString(out, md.toString());
    }

    /** The automatic plan's targets against the plain baseline and the best fixed method. */
    private static void targets(StringBuilder md, List<QualityBenchmark.Row> rows) {
        md.append("\n## Targets\n\n| set | images/class | auto - plain (points) | target +10 | auto - best fixed"
                + " (points) | target >= -2 | auto time / plain time | target <= 3 |\n|---|---|---|---|---|---|---|---|\n");
        for (QualityBenchmark.Row row : rows) {
            double[] auto = stats(row.runs().get("automatic plan"));
            double[] plain = stats(row.runs().get("plain DJL baseline"));
            double bestFixed = Double.NEGATIVE_INFINITY;
            for (Map.Entry<String, List<double[]>> e : row.runs().entrySet()) {
                if (!e.getKey().equals("automatic plan") && !e.getKey().equals("plain DJL baseline")) {
                    bestFixed = Math.max(bestFixed, stats(e.getValue())[0]);
                }
            }
            double gain = 100 * (auto[0] - plain[0]);
            double vsFixed = 100 * (auto[0] - bestFixed);
            double time = auto[3] / plain[3];
            md.append(String.format(Locale.ROOT, "| %s | %d | %+.1f | %s | %+.1f | %s | %.2f | %s |%n", row.set(),
                    row.perClass(), gain, gain >= 10 ? "PASS" : "SHORT", vsFixed, vsFixed >= -2 ? "PASS" : "SHORT", time,
                    time <= 3 ? "PASS" : "SHORT"));
        }
    }

    /** @return mean accuracy, min, max, mean wall seconds */
    private static double[] stats(List<double[]> runs) {
        double sum = 0;
        double wall = 0;
        double min = Double.POSITIVE_INFINITY;
        double max = Double.NEGATIVE_INFINITY;
        for (double[] r : runs) {
            sum += r[0];
            wall += r[1];
            min = Math.min(min, r[0]);
            max = Math.max(max, r[0]);
        }
        return new double[] {sum / runs.size(), min, max, wall / runs.size()};
    }
}
