package dev.finetune.core.compare;

import ai.djl.Model;
import ai.djl.ndarray.NDManager;
import ai.djl.training.dataset.ArrayDataset;
import dev.finetune.core.FineTuner;
import dev.finetune.core.TrainingDivergedException;
import dev.finetune.core.TrainingInterruptedException;
import dev.finetune.core.fixtures.FashionMnist;
import dev.finetune.core.fixtures.InterruptingDataset;
import dev.finetune.core.fixtures.SourceModel;
import dev.finetune.core.result.EpochMetrics;
import dev.finetune.core.result.Evaluation;
import dev.finetune.core.result.FineTuneResult;
import dev.finetune.core.stage.Stage;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.function.ToDoubleFunction;
import java.util.function.UnaryOperator;
import javax.imageio.ImageIO;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;
import static org.assertj.core.api.Assertions.within;

/**
 * Three strategies, two seeds, real Fashion-MNIST: accuracy and cost columns checked against the
 * runs, files and charts; a diverging candidate is reported as failed and changes no other run.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ComparisonTest {

    private static final UnaryOperator<FineTuner> CONFIGURE = t -> t.replaceHead(SourceModel.TARGET.length)
            .optClassNames(FashionMnist.names(SourceModel.TARGET));
    private static final Candidate HEAD_ONLY = Candidate.of("head-only", Stage.headOnly().withEpochs(2).withLearningRate(1e-2));
    private static final Candidate PARTIAL = Candidate.of("partial", Stage.partial(1).withEpochs(2).withLearningRate(3e-3));
    private static final Candidate FULL = Candidate.of("full", Stage.full().withEpochs(2).withLearningRate(1e-3));

    private NDManager data;
    private FashionMnist.TrainVal sets;
    private ArrayDataset test;
    /** head-only, partial and full with seeds 1 and 2, run once for the tests below. */
    private ComparisonReport report;

    @BeforeAll
    void compareThreeStrategies() throws Exception {
        data = NDManager.newBaseManager();
        sets = FashionMnist.trainVal(data, SourceModel.TARGET, 20, 20, 20, 13);
        test = FashionMnist.dataset(data, FashionMnist.test(),
                FashionMnist.pick(FashionMnist.test(), SourceModel.TARGET, 20, 0, 13), SourceModel.TARGET, 100, false);
        SourceModel.pretrained().close(); // pretrain (or read the cache) before timing anything
        report = comparison(HEAD_ONLY, PARTIAL, FULL).run(sets.train(), sets.validation(), test);
    }

    @AfterAll
    void closeData() {
        data.close();
    }

    private static Comparison comparison(Candidate... candidates) {
        Comparison.Builder b = Comparison.builder().setModels(SourceModel::pretrained).optConfigure(CONFIGURE);
        for (Candidate c : candidates) {
            b.addCandidate(c);
        }
        return b.optSeeds(1, 2).build();
    }

    @Test
    void comparesStrategiesOnAccuracyAndCostAndWritesTablesAndCharts(@TempDir Path dir) throws Exception {
        assertThat(report.runs()).hasSize(6);
        assertThat(report.failures()).isEmpty();
        assertThat(report.runs()).extracting(r -> r.candidate() + "/" + r.seed()).containsExactly(
                "head-only/1", "partial/1", "full/1", "head-only/2", "partial/2", "full/2");
        List<ComparisonReport.Summary> s = report.summaries();
        assertThat(s).extracting(x -> x.candidate().name()).containsExactly("head-only", "partial", "full");
        assertThat(s.get(0).trainableParameters()).isEqualTo(5 * 64 + 5);
        assertThat(s.get(0).trainableParameters()).isLessThan(s.get(1).trainableParameters());
        assertThat(s.get(1).trainableParameters()).isLessThan(s.get(2).trainableParameters());
        for (StrategyRun r : report.runs()) {
            List<EpochMetrics> epochs = r.result().epochs();
            assertThat(epochs).hasSize(2);
            // the best epoch is the one with the highest validation accuracy (the default metric)
            double bestVal = epochs.stream().mapToDouble(EpochMetrics::validationAccuracy).max().orElseThrow();
            assertThat(r.bestValidationAccuracy()).isEqualTo(bestVal);
            assertThat(r.bestValidationMacroF1()).isEqualTo(r.result().bestEpoch().validationMacroF1());
            assertThat(r.result().bestEpoch().validationAccuracy()).isEqualTo(bestVal);
            // 100 test images: the accuracy is a count over 100
            assertThat(r.testAccuracy() * 100).isCloseTo(Math.rint(r.testAccuracy() * 100), within(1e-9));
            assertThat(r.wallSeconds()).isPositive();
            assertThat(r.secondsPerEpoch()).isCloseTo(r.wallSeconds() / 2, within(1e-12));
            double trainSeconds = epochs.stream().mapToDouble(EpochMetrics::trainSeconds).sum();
            assertThat(epochs).allSatisfy(m -> assertThat(m.trainSamples()).isEqualTo(100));
            assertThat(r.imagesPerSecond()).isCloseTo(200 / trainSeconds, within(1e-9));
            assertThat(r.trainableParameters()).isEqualTo(epochs.get(0).trainableParameters());
            assertThat(r.peakHeapBytes()).isPositive();
            assertThat(r.peakResidentBytes()).as("Linux VmHWM").isPositive();
        }
        // the seeds are applied: the two seeds of a candidate train differently
        assertThat(report.runsOf("head-only").get(0).result().epochs().get(0).trainLoss())
                .isNotEqualTo(report.runsOf("head-only").get(1).result().epochs().get(0).trainLoss());

        // mean and sample standard deviation (n - 1) of each measure, by hand from the two seeds
        for (ComparisonReport.Summary sum : s) {
            String name = sum.candidate().name();
            List<StrategyRun> rs = report.runs().stream().filter(r -> r.candidate().equals(name)).toList();
            assertThat(rs).hasSize(2);
            assertThat(sum.seeds()).isEqualTo(2);
            assertThat(sum.failedRuns()).isZero();
            assertSpread(sum.validationAccuracy(), rs, StrategyRun::bestValidationAccuracy);
            assertSpread(sum.validationMacroF1(), rs, StrategyRun::bestValidationMacroF1);
            assertSpread(sum.testAccuracy(), rs, StrategyRun::testAccuracy);
            assertSpread(sum.wallSeconds(), rs, StrategyRun::wallSeconds);
            assertSpread(sum.imagesPerSecond(), rs, StrategyRun::imagesPerSecond);
        }
        assertThat(s).as("two seeds give a spread somewhere").anyMatch(x -> x.validationAccuracy().sd() > 0);

        // the best by validation is the candidate with the highest mean validation accuracy
        String best = null;
        double bestMean = -1;
        for (String name : List.of("head-only", "partial", "full")) {
            double mean = report.runs().stream().filter(r -> r.candidate().equals(name))
                    .mapToDouble(StrategyRun::bestValidationAccuracy).sum() / 2;
            if (mean > bestMean) {
                best = name;
                bestMean = mean;
            }
        }
        assertThat(report.bestByValidation().candidate().name()).isEqualTo(best);
        assertThat(report.bestByValidation().validationAccuracy().mean()).isEqualTo(bestMean);
        assertThat(report.table()).contains("head-only").contains("±").contains("best by validation: " + best)
                .contains(String.format(Locale.ROOT, "%.3f", s.get(1).validationAccuracy().mean()))
                .doesNotContain("failed");

        List<Path> files = report.write(dir, "fashion");
        assertThat(files).hasSize(5).allSatisfy(f -> assertThat(f).exists());
        assertThat(Files.readString(dir.resolve("fashion.md"))).contains("| strategy |").contains("Plans:")
                .contains("**" + best + "**");
        List<String> csv = Files.readAllLines(dir.resolve("fashion.csv"));
        assertThat(csv).hasSize(1 + 6);
        StrategyRun partial2 = report.runsOf("partial").get(1);
        assertThat(csv.get(5)).startsWith(String.format(Locale.ROOT, "partial,2,%.6f,%.6f,%.6f,",
                partial2.bestValidationAccuracy(), partial2.bestValidationMacroF1(), partial2.testAccuracy()))
                .endsWith(",finished,");
        assertThat(Files.readAllLines(dir.resolve("fashion-curves.csv"))).hasSize(1 + 6 * 2);
        BufferedImage chart = ImageIO.read(dir.resolve("fashion-accuracy-vs-cost.png").toFile());
        assertThat(chart.getWidth()).isEqualTo(900);
        assertThat(chart.getHeight()).isEqualTo(600);
        assertThat(ImageIO.read(dir.resolve("fashion-curves.png").toFile()).getHeight()).isEqualTo(800);
    }

    private static void assertSpread(ComparisonReport.Spread spread, List<StrategyRun> rs, ToDoubleFunction<StrategyRun> f) {
        double a = f.applyAsDouble(rs.get(0));
        double b = f.applyAsDouble(rs.get(1));
        assertThat(spread.mean()).isCloseTo((a + b) / 2, within(1e-12));
        assertThat(spread.sd()).isCloseTo(Math.abs(a - b) / Math.sqrt(2), within(1e-12));
    }

    @Test
    void aRunOfTheComparisonIsTheFitAndTestOfAPlainFineTuneWithItsSeed() throws Exception {
        StrategyRun inComparison = report.runsOf("head-only").get(1);
        assertThat(inComparison.seed()).isEqualTo(2);
        try (Model model = SourceModel.pretrained()) {
            FineTuner tuner = CONFIGURE.apply(FineTuner.from(model)).optSeed(2).optProgress(false)
                    .stage(HEAD_ONLY.stages().get(0));
            FineTuneResult result = tuner.fit(sets.train(), sets.validation());
            Evaluation t = tuner.evaluate(test);
            assertThat(inComparison.scores()).isEqualTo(new StrategyRun.Scores(result.bestEpoch().validationAccuracy(),
                    result.bestEpoch().validationMacroF1(), t.accuracy(), t.macroF1()));
            assertThat(losses(inComparison.result())).isEqualTo(losses(result));
        }
    }

    @Test
    void aDivergingCandidateIsReportedAsFailedAndLeavesTheOtherRunsAsTheyWere(@TempDir Path dir) throws Exception {
        Candidate explode = Candidate.of("explode", Stage.full().withEpochs(2).withLearningRate(1e6));
        ComparisonReport withFailure = comparison(HEAD_ONLY, PARTIAL, explode)
                .run(sets.train(), sets.validation(), test);

        assertThat(withFailure.runs()).extracting(r -> r.candidate() + "/" + r.seed())
                .containsExactly("head-only/1", "partial/1", "head-only/2", "partial/2");
        assertThat(withFailure.failures()).extracting(f -> f.candidate() + "/" + f.seed())
                .containsExactly("explode/1", "explode/2");
        for (FailedRun f : withFailure.failures()) {
            assertThat(f.error()).isInstanceOf(TrainingDivergedException.class);
            assertThat(f.reason()).contains("Candidate 'explode' with seed " + f.seed(), "TrainingDivergedException",
                    "NaN or infinite", "stage 1/1 'full'", f.error().getMessage());
            assertThat(f.wallSeconds()).isPositive();
        }

        // the finished runs are bit for bit those of the comparison without the diverging candidate
        for (String name : List.of("head-only", "partial")) {
            for (int i = 0; i < 2; i++) {
                StrategyRun with = withFailure.runsOf(name).get(i);
                StrategyRun without = report.runsOf(name).get(i);
                assertThat(with.seed()).isEqualTo(without.seed());
                assertThat(with.scores()).as(name + " seed " + with.seed()).isEqualTo(without.scores());
                assertThat(losses(with.result())).isEqualTo(losses(without.result()));
            }
            ComparisonReport.Summary a = summary(withFailure, name);
            ComparisonReport.Summary b = summary(report, name);
            assertThat(a.validationAccuracy()).isEqualTo(b.validationAccuracy());
            assertThat(a.testAccuracy()).isEqualTo(b.testAccuracy());
        }

        ComparisonReport.Summary failed = summary(withFailure, "explode");
        assertThat(failed.allFailed()).isTrue();
        assertThat(failed.seeds()).isZero();
        assertThat(failed.failedRuns()).isEqualTo(2);
        assertThat(failed.validationAccuracy().mean()).isNaN();
        String best = summary(report, "head-only").validationAccuracy().mean()
                >= summary(report, "partial").validationAccuracy().mean() ? "head-only" : "partial";
        assertThat(withFailure.bestByValidation().candidate().name()).isEqualTo(best);

        String table = withFailure.table();
        assertThat(table).contains("failed runs", "best by validation: " + best, "2 failed run(s)",
                withFailure.failures().get(0).reason(), withFailure.failures().get(1).reason());
        assertThat(table.lines().filter(l -> l.startsWith("explode")).findFirst().orElseThrow())
                .contains("failed", "2 of 2");
        assertThat(table.lines().filter(l -> l.startsWith("partial")).findFirst().orElseThrow()).endsWith("0 of 2");

        withFailure.write(dir, "diverged");
        assertThat(Files.readString(dir.resolve("diverged.md"))).contains("Failed runs",
                "- " + withFailure.failures().get(1).reason());
        List<String> csv = Files.readAllLines(dir.resolve("diverged.csv"));
        assertThat(csv).hasSize(1 + 6);
        assertThat(csv.get(3)).startsWith("explode,1,,,,,").contains(",failed,").contains("Candidate 'explode' with seed 1 failed:");
        assertThat(csv.get(6)).startsWith("explode,2,,,,,");
        assertThat(csv.subList(1, 7)).filteredOn(l -> l.endsWith(",finished,")).hasSize(4);
        assertThat(Files.readAllLines(dir.resolve("diverged-curves.csv"))).hasSize(1 + 4 * 2);
        assertThat(ImageIO.read(dir.resolve("diverged-curves.png").toFile())).isNotNull();
    }

    @Test
    void aPlanThatDoesNotFitTheModelFailsAloneWithItsReason() throws Exception {
        ComparisonReport r = Comparison.builder().setModels(SourceModel::pretrained).optConfigure(CONFIGURE)
                .addCandidate(Candidate.of("too-deep", Stage.partial(9)))
                .addCandidate(Candidate.of("head", Stage.headOnly().withEpochs(1)))
                .optSeeds(5).build().run(sets.train(), sets.validation(), test);
        assertThat(r.runs()).extracting(StrategyRun::candidate).containsExactly("head");
        assertThat(r.failures()).singleElement().satisfies(f -> {
            assertThat(f.error()).isInstanceOf(IllegalArgumentException.class);
            assertThat(f.reason()).contains("Candidate 'too-deep' with seed 5 failed", "partial(9)");
        });
        assertThat(r.bestByValidation().candidate().name()).isEqualTo("head");
    }

    @Test
    void anInterruptStillStopsTheWholeComparison() throws Exception {
        // each one-epoch run reads 20 (peek) + 100 records: read 150 is in the second run's first step
        var train = new InterruptingDataset(sets.train(), 20, Thread.currentThread(), 150);
        Comparison c = Comparison.builder().setModels(SourceModel::pretrained).optConfigure(CONFIGURE)
                .addCandidate(Candidate.of("a", Stage.headOnly().withEpochs(1)))
                .addCandidate(Candidate.of("b", Stage.headOnly().withEpochs(1)))
                .addCandidate(Candidate.of("c", Stage.headOnly().withEpochs(1)))
                .build();
        TrainingInterruptedException stopped = catchThrowableOfType(
                () -> c.run(train, sets.validation(), test), TrainingInterruptedException.class);
        assertThat(Thread.interrupted()).as("interrupt flag kept (and cleared here)").isTrue();
        assertThat(stopped).as("run() threw TrainingInterruptedException").isNotNull();
    }

    @Test
    void aModelThatCannotBeLoadedStopsTheComparison() {
        Comparison c = Comparison.builder().setModels(() -> {
            throw new IOException("no such model file");
        }).addCandidate(Candidate.of("a", Stage.headOnly())).build();
        assertThatThrownBy(() -> c.run(sets.train(), sets.validation(), test))
                .isInstanceOf(IOException.class).hasMessage("no such model file");
    }

    private static ComparisonReport.Summary summary(ComparisonReport r, String name) {
        return r.summaries().stream().filter(s -> s.candidate().name().equals(name)).findFirst().orElseThrow();
    }

    private static List<List<Double>> losses(FineTuneResult r) {
        return r.epochs().stream().map(m -> List.of(m.trainLoss(), m.validationLoss(), m.validationAccuracy(),
                m.validationMacroF1())).toList();
    }

    @Test
    void badComparisonsAreRefusedWithTheirReason() {
        assertThatThrownBy(() -> Comparison.builder().addCandidate(Candidate.of("a", Stage.headOnly())).build())
                .hasMessageContaining("setModels");
        assertThatThrownBy(() -> Comparison.builder().setModels(SourceModel::pretrained).build())
                .hasMessageContaining("at least one candidate");
        assertThatThrownBy(() -> Comparison.builder().setModels(SourceModel::pretrained)
                .addCandidate(Candidate.of("a", Stage.headOnly())).addCandidate(Candidate.of("a", Stage.full())).build())
                .hasMessageContaining("Two candidates are named 'a'");
        assertThatThrownBy(() -> new Candidate("x", List.of())).hasMessageContaining("no stage");
    }
}
