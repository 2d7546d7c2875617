package dev.finetune.core.compare;

import ai.djl.ndarray.NDManager;
import dev.finetune.core.fixtures.FashionMnist;
import dev.finetune.core.fixtures.SourceModel;
import dev.finetune.core.stage.Stage;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Three strategies, two seeds, real Fashion-MNIST: accuracy and cost columns, files and charts. */
class ComparisonTest {

    @Test
    void comparesStrategiesOnAccuracyAndCostAndWritesTablesAndCharts(@TempDir Path dir) throws Exception {
        try (NDManager data = NDManager.newBaseManager()) {
            var sets = FashionMnist.trainVal(data, SourceModel.TARGET, 20, 20, 20, 13);
            var test = FashionMnist.dataset(data, FashionMnist.test(),
                    FashionMnist.pick(FashionMnist.test(), SourceModel.TARGET, 20, 0, 13), SourceModel.TARGET, 100, false);
            SourceModel.pretrained().close(); // pretrain (or read the cache) before timing anything
            ComparisonReport report = Comparison.builder()
                    .setModels(SourceModel::pretrained)
                    .optConfigure(t -> t.replaceHead(SourceModel.TARGET.length)
                            .optClassNames(FashionMnist.names(SourceModel.TARGET)))
                    .addCandidate(Candidate.of("head-only", Stage.headOnly().withEpochs(2).withLearningRate(1e-2)))
                    .addCandidate(Candidate.of("partial", Stage.partial(1).withEpochs(2).withLearningRate(3e-3)))
                    .addCandidate(Candidate.of("full", Stage.full().withEpochs(2).withLearningRate(1e-3)))
                    .optSeeds(1, 2)
                    .build()
                    .run(sets.train(), sets.validation(), test);

            assertThat(report.runs()).hasSize(6);
            List<ComparisonReport.Summary> s = report.summaries();
            assertThat(s).extracting(x -> x.candidate().name()).containsExactly("head-only", "partial", "full");
            assertThat(s.get(0).trainableParameters()).isEqualTo(5 * 64 + 5);
            assertThat(s.get(0).trainableParameters()).isLessThan(s.get(1).trainableParameters());
            assertThat(s.get(1).trainableParameters()).isLessThan(s.get(2).trainableParameters());
            for (StrategyRun r : report.runs()) {
                assertThat(r.wallSeconds()).isPositive();
                assertThat(r.secondsPerEpoch()).isPositive().isLessThan(r.wallSeconds());
                assertThat(r.imagesPerSecond()).isPositive();
                assertThat(r.peakHeapBytes()).isPositive();
                assertThat(r.peakResidentBytes()).as("Linux VmHWM").isPositive();
                assertThat(r.testAccuracy()).isBetween(0.0, 1.0);
                assertThat(r.bestValidationAccuracy()).isGreaterThan(0.2);
            }
            assertThat(s.get(0).validationAccuracy().sd()).as("two seeds give a spread").isGreaterThanOrEqualTo(0);
            assertThat(report.table()).contains("head-only").contains("±").contains("best by validation");

            List<Path> files = report.write(dir, "fashion");
            assertThat(files).hasSize(5).allSatisfy(f -> assertThat(f).exists());
            assertThat(Files.readString(dir.resolve("fashion.md"))).contains("| strategy |").contains("Plans:");
            assertThat(Files.readAllLines(dir.resolve("fashion.csv"))).hasSize(1 + 6);
            assertThat(Files.readAllLines(dir.resolve("fashion-curves.csv"))).hasSize(1 + 6 * 2);
            BufferedImage chart = ImageIO.read(dir.resolve("fashion-accuracy-vs-cost.png").toFile());
            assertThat(chart.getWidth()).isEqualTo(900);
            assertThat(chart.getHeight()).isEqualTo(600);
            assertThat(ImageIO.read(dir.resolve("fashion-curves.png").toFile()).getHeight()).isEqualTo(800);
        }
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
