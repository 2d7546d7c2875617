package dev.finetune.core.advice;

import ai.djl.Model;
import ai.djl.ndarray.NDManager;
import dev.finetune.core.FineTuner;
import dev.finetune.core.fixtures.FashionMnist;
import dev.finetune.core.fixtures.SourceModel;
import dev.finetune.core.result.CheckpointMetric;
import dev.finetune.core.result.ConfusionMatrix;
import dev.finetune.core.result.EpochMetrics;
import dev.finetune.core.result.FineTuneResult;
import dev.finetune.core.stage.Stage;
import dev.finetune.core.TrainingDivergedException;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

/** The monitoring table in words: real runs for NaN and not learning, written histories for the rest. */
class DiagnosisTest {

    private static FineTuneResult history(long validationImages, double[][] rows) {
        List<EpochMetrics> epochs = new ArrayList<>();
        int best = 0;
        for (int i = 0; i < rows.length; i++) {
            double[] r = rows[i]; // train loss, train acc, val loss, val acc
            epochs.add(new EpochMetrics(new EpochMetrics.Position(i + 1, 0, "full", i + 1),
                    new EpochMetrics.Training(r[0], r[1], 1e-3, 100, 0.5), new EpochMetrics.Validation(r[2], r[3], r[3]),
                    new EpochMetrics.Cost(1, 100, 3)));
            if (r[3] > rows[best][3]) {
                best = i;
            }
        }
        long half = validationImages / 2;
        ConfusionMatrix cm = new ConfusionMatrix(new long[][] {{half, 0}, {0, validationImages - half}}, List.of("a", "b"));
        return new FineTuneResult(epochs, List.of("full"), CheckpointMetric.ACCURACY, best, cm, null, 1);
    }

    private static List<Diagnosis.Kind> kinds(FineTuneResult r) {
        return Diagnosis.of(r).stream().map(Diagnosis.Finding::kind).toList();
    }

    @Test
    void healthyCurvesGiveNoFinding() {
        assertThat(kinds(history(500, new double[][] {
            {0.9, 0.6, 0.8, 0.65}, {0.6, 0.75, 0.6, 0.74}, {0.45, 0.82, 0.5, 0.79}, {0.4, 0.85, 0.48, 0.8}}))).isEmpty();
    }

    @Test
    void overfittingErraticAndNonFiniteHistoriesAreNamed() {
        FineTuneResult overfit = history(500, new double[][] {
            {0.9, 0.6, 0.7, 0.7}, {0.5, 0.8, 0.6, 0.75}, {0.3, 0.9, 0.7, 0.74}, {0.1, 0.98, 0.9, 0.72}});
        assertThat(kinds(overfit)).containsExactly(Diagnosis.Kind.OVERFITTING);
        assertThat(Diagnosis.of(overfit).get(0).words()).contains("validation loss rose");

        FineTuneResult erratic = history(40, new double[][] {
            {0.9, 0.6, 0.7, 0.60}, {0.7, 0.7, 0.6, 0.80}, {0.6, 0.75, 0.65, 0.58}, {0.5, 0.8, 0.55, 0.82},
            {0.45, 0.82, 0.6, 0.6}});
        assertThat(kinds(erratic)).contains(Diagnosis.Kind.ERRATIC_VALIDATION);
        assertThat(Diagnosis.of(erratic).stream().filter(f -> f.kind() == Diagnosis.Kind.ERRATIC_VALIDATION)
                .findFirst().orElseThrow().words()).contains("40 validation images");
        // the same jumps on 100000 images are still erratic; small wiggles on a large set are not
        FineTuneResult wiggle = history(100000, new double[][] {
            {0.9, 0.6, 0.7, 0.800}, {0.7, 0.7, 0.6, 0.805}, {0.6, 0.75, 0.58, 0.801}, {0.5, 0.8, 0.57, 0.806}});
        assertThat(kinds(wiggle)).doesNotContain(Diagnosis.Kind.ERRATIC_VALIDATION);

        FineTuneResult nan = history(100, new double[][] {{0.9, 0.6, 0.7, 0.6}, {Double.NaN, 0.5, Double.NaN, 0.5}});
        assertThat(kinds(nan)).containsExactly(Diagnosis.Kind.DIVERGED);
    }

    @Test
    void aRateFarTooLowIsNotLearningAndFarTooHighDiverges() throws Exception {
        try (Model model = SourceModel.pretrained(); NDManager data = NDManager.newBaseManager()) {
            var sets = FashionMnist.trainVal(data, SourceModel.TARGET, 20, 20, 20, 9);
            FineTuneResult frozenRate = FineTuner.from(model).replaceHead(SourceModel.TARGET.length).optProgress(false)
                    .stage(Stage.headOnly().withEpochs(3).withLearningRate(1e-9)).fit(sets.train(), sets.validation());
            List<Diagnosis.Finding> findings = Diagnosis.of(frozenRate);
            assertThat(findings).extracting(Diagnosis.Finding::kind).contains(Diagnosis.Kind.NOT_LEARNING);
            assertThat(findings.get(0).words()).contains("learning rate").contains("chance 0.200");
        }
        try (Model model = SourceModel.pretrained(); NDManager data = NDManager.newBaseManager()) {
            var sets = FashionMnist.trainVal(data, SourceModel.TARGET, 20, 20, 20, 9);
            TrainingDivergedException e = catchThrowableOfType(() -> FineTuner.from(model)
                    .replaceHead(SourceModel.TARGET.length).optProgress(false).optDivergenceCheckInterval(1)
                    .stage(Stage.full().withEpochs(2).withLearningRate(1e8)
                            .withSchedule(dev.finetune.core.plan.Schedule.constant()))
                    .fit(sets.train(), sets.validation()), TrainingDivergedException.class);
            assertThat(e).isNotNull();
            assertThat(Diagnosis.of(e).kind()).isEqualTo(Diagnosis.Kind.DIVERGED);
            assertThat(Diagnosis.of(e).words()).contains("step " + e.step()).contains("rate is too high");
        }
    }
}
