package dev.finetune.core.compare;

import dev.finetune.core.TrainingDivergedException;
import dev.finetune.core.result.CheckpointMetric;
import dev.finetune.core.result.EpochMetrics;
import dev.finetune.core.result.FineTuneResult;
import dev.finetune.core.stage.Stage;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/** The report's figures and outputs on made-up runs, finished and failed: no training, so exact. */
class ComparisonReportTest {

    private static final Candidate NEVER = Candidate.of("never", Stage.full());
    private static final Candidate STEADY = Candidate.of("steady", Stage.headOnly());
    private static final Candidate LUCKY = Candidate.of("lucky", Stage.partial(1));
    private static final Candidate SOMETIMES = Candidate.of("sometimes", Stage.partial(2));

    private static StrategyRun run(Candidate c, long seed, double val, double test, double wall) {
        EpochMetrics m = new EpochMetrics(new EpochMetrics.Position(1, 0, "s", 1),
                new EpochMetrics.Training(1.0 - val, val, 1e-3, 100, wall / 2),
                new EpochMetrics.Validation(1.0 - val, val, val - 0.01), new EpochMetrics.Cost(wall, 325, 1));
        FineTuneResult result = new FineTuneResult(List.of(m), List.of("s"), CheckpointMetric.ACCURACY, 0, null, null, seed);
        return new StrategyRun(c.name(), seed, new StrategyRun.Scores(val, val - 0.01, test, test - 0.01),
                new StrategyRun.Cost(wall, wall, 325, 100_000_000, 50_000_000, 200 / wall), result);
    }

    private static FailedRun failed(Candidate c, long seed, String message) {
        return FailedRun.of(c.name(), seed, new TrainingDivergedException(message, 3), 0.5);
    }

    /**
     * "never" (listed first) fails on every seed; "steady" is middling on every seed; "lucky" has the
     * single best run but the lower mean; "sometimes" fails once and has the best mean over the
     * runs that finished.
     */
    private static ComparisonReport mixed() {
        List<StrategyRun> runs = new ArrayList<>();
        List<FailedRun> failures = new ArrayList<>();
        double[] steady = {0.60, 0.62, 0.64};
        double[] lucky = {0.95, 0.30, 0.35};
        for (int i = 0; i < 3; i++) {
            long seed = i + 1;
            failures.add(failed(NEVER, seed, "The loss became NaN at step 3 of stage 1/1 'full' epoch 1/1."));
            runs.add(run(STEADY, seed, steady[i], steady[i] - 0.05, 1 + i));
            runs.add(run(LUCKY, seed, lucky[i], lucky[i] - 0.05, 2 + i));
            if (seed == 2) {
                failures.add(failed(SOMETIMES, seed, "Out of memory,\nsecond line"));
            } else {
                runs.add(run(SOMETIMES, seed, 0.70, 0.66, 3));
            }
        }
        return new ComparisonReport(List.of(NEVER, STEADY, LUCKY, SOMETIMES), runs, failures);
    }

    private static ComparisonReport.Summary summary(ComparisonReport r, String name) {
        return r.summaries().stream().filter(s -> s.candidate().name().equals(name)).findFirst().orElseThrow();
    }

    @Test
    void meanAndSampleStandardDeviationAreOverTheFinishedRunsOnly() {
        ComparisonReport r = mixed();
        ComparisonReport.Summary steady = summary(r, "steady");
        assertThat(steady.seeds()).isEqualTo(3);
        assertThat(steady.failedRuns()).isZero();
        assertThat(steady.validationAccuracy().mean()).isCloseTo(0.62, within(1e-12));
        // sample sd: sqrt(((-0.02)^2 + 0 + 0.02^2) / (3 - 1)) = 0.02 (the population sd would be 0.0163)
        assertThat(steady.validationAccuracy().sd()).isCloseTo(0.02, within(1e-12));
        assertThat(steady.testAccuracy().mean()).isCloseTo(0.57, within(1e-12));
        assertThat(steady.wallSeconds().mean()).isCloseTo(2, within(1e-12));
        assertThat(steady.wallSeconds().sd()).isCloseTo(1, within(1e-12));

        ComparisonReport.Summary lucky = summary(r, "lucky");
        double mean = (0.95 + 0.30 + 0.35) / 3;
        double ss = Math.pow(0.95 - mean, 2) + Math.pow(0.30 - mean, 2) + Math.pow(0.35 - mean, 2);
        assertThat(lucky.validationAccuracy().mean()).isCloseTo(mean, within(1e-12));
        assertThat(lucky.validationAccuracy().sd()).isCloseTo(Math.sqrt(ss / 2), within(1e-12));

        ComparisonReport.Summary sometimes = summary(r, "sometimes");
        assertThat(sometimes.seeds()).isEqualTo(2);
        assertThat(sometimes.failedRuns()).isEqualTo(1);
        assertThat(sometimes.allFailed()).isFalse();
        assertThat(sometimes.validationAccuracy().mean()).isCloseTo(0.70, within(1e-12));
        assertThat(sometimes.validationAccuracy().sd()).isZero();

        ComparisonReport.Summary never = summary(r, "never");
        assertThat(never.allFailed()).isTrue();
        assertThat(never.seeds()).isZero();
        assertThat(never.failedRuns()).isEqualTo(3);
        assertThat(never.validationAccuracy().mean()).isNaN();
        assertThat(r.runsOf("never")).isEmpty();
        assertThat(r.failuresOf("never")).hasSize(3);
        assertThat(r.failuresOf("steady")).isEmpty();
    }

    @Test
    void theBestIsTheHighestMeanValidationAccuracyAndNeverACandidateWhoseEveryRunFailed() {
        ComparisonReport r = mixed();
        assertThat(r.bestByValidation().candidate().name()).isEqualTo("sometimes");

        // without "sometimes": the steadier mean beats the single best run, and "never" (first) is skipped
        List<StrategyRun> runs = r.runs().stream().filter(x -> !x.candidate().equals("sometimes")).toList();
        ComparisonReport r2 = new ComparisonReport(List.of(NEVER, STEADY, LUCKY), runs, r.failuresOf("never"));
        assertThat(r2.bestByValidation().candidate().name()).isEqualTo("steady");
        assertThat(r2.table()).contains("best by validation: steady" + System.lineSeparator());

        // a tie goes to the earlier candidate
        ComparisonReport tie = new ComparisonReport(List.of(LUCKY, STEADY),
                List.of(run(LUCKY, 1, 0.5, 0.5, 1), run(STEADY, 1, 0.5, 0.9, 1)));
        assertThat(tie.bestByValidation().candidate().name()).isEqualTo("lucky");
    }

    @Test
    void failedRunsAreListedWithTheirReasonInTheTableMarkdownAndCsv(@TempDir Path dir) throws Exception {
        ComparisonReport r = mixed();
        String table = r.table();
        assertThat(table).contains("failed runs", "3 seed(s) per strategy",
                "best by validation: sometimes (over 2 finished runs; 1 failed)", "4 failed run(s)",
                "Candidate 'never' with seed 3 failed: TrainingDivergedException: The loss became NaN at step 3",
                "Candidate 'sometimes' with seed 2 failed: TrainingDivergedException: Out of memory, second line");
        List<String> lines = table.lines().toList();
        assertThat(lines.get(1)).startsWith("never").contains("failed").endsWith("3 of 3");
        assertThat(lines.get(2)).startsWith("steady").contains("0.620 ±0.020").endsWith("0 of 3");
        assertThat(lines.get(4)).startsWith("sometimes").contains("0.700").endsWith("1 of 3");

        String md = r.markdown();
        assertThat(md).contains("| failed runs |", "| never | failed |", "finished runs only",
                "**sometimes (over 2 finished runs; 1 failed)**", "Failed runs (left out of the figures):",
                "- Candidate 'never' with seed 1 failed:");

        List<String> csv = r.csv().lines().toList();
        assertThat(csv.get(0)).endsWith(",images_per_second,status,failure");
        assertThat(csv).hasSize(1 + 12);
        // seed by seed, in the candidates' order, failed runs in their place
        assertThat(csv.subList(1, 5)).extracting(l -> l.substring(0, l.indexOf(',', l.indexOf(',') + 1)))
                .containsExactly("never,1", "steady,1", "lucky,1", "sometimes,1");
        assertThat(csv.get(8)).isEqualTo("sometimes,2,,,,,0.5000,,,,,,failed,"
                + "\"Candidate 'sometimes' with seed 2 failed: TrainingDivergedException: Out of memory, second line\"");
        assertThat(csv.get(2)).startsWith("steady,1,0.600000,0.590000,0.550000,").endsWith(",finished,");

        assertThat(r.write(dir, "mixed")).hasSize(5).allSatisfy(f -> assertThat(f).exists());
        assertThat(Files.readAllLines(dir.resolve("mixed-curves.csv"))).hasSize(1 + 8);
    }

    @Test
    void whenEveryRunFailedTheReportSaysSoAndThereIsNoBest(@TempDir Path dir) throws Exception {
        ComparisonReport r = new ComparisonReport(List.of(NEVER, STEADY),
                List.of(), List.of(failed(NEVER, 1, "diverged"), failed(STEADY, 1, "diverged too")));
        assertThatThrownBy(r::bestByValidation).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("Every run of the comparison failed")
                .hasMessageContaining("Candidate 'never' with seed 1 failed: TrainingDivergedException: diverged");
        assertThat(r.summaries()).allMatch(ComparisonReport.Summary::allFailed);
        assertThat(r.table()).contains("best by validation: none (every run failed)", "2 failed run(s)");
        assertThat(r.markdown()).contains("**none (every run failed)**");
        assertThat(r.write(dir, "none")).hasSize(5).allSatisfy(f -> assertThat(f).exists());
        assertThat(Files.readAllLines(dir.resolve("none.csv"))).hasSize(1 + 2);
    }
}
