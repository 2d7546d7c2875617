package dev.finetune.core.listeners;

import ai.djl.Model;
import ai.djl.ndarray.NDManager;
import dev.finetune.core.FineTuneListener;
import dev.finetune.core.FineTuner;
import dev.finetune.core.fixtures.FashionMnist;
import dev.finetune.core.fixtures.SourceModel;
import dev.finetune.core.fixtures.Weights;
import dev.finetune.core.plan.BatchNormPolicy;
import dev.finetune.core.plan.Schedule;
import dev.finetune.core.result.EpochMetrics;
import dev.finetune.core.result.FineTuneResult;
import dev.finetune.core.stage.Stage;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** Step budgets, early stopping and the learning-rate search, on the pretrained fixture and Fashion-MNIST. */
class BudgetsAndSearchTest {

    @TempDir
    Path dir;

    private static FineTuner tuner(Model model) {
        return FineTuner.from(model).replaceHead(SourceModel.TARGET.length).optProgress(false).optSeed(3)
                .optClassNames(FashionMnist.names(SourceModel.TARGET));
    }

    @Test
    void aStepBudgetRunsEnoughWholeEpochs() throws Exception {
        Stage head = Stage.headOnly().withSteps(12);
        assertThat(head.describe()).contains("steps=12");
        assertThat(head.epochsFor(5)).isEqualTo(3);
        assertThat(head.epochsFor(40)).isEqualTo(1);
        try (Model model = SourceModel.pretrained(); NDManager data = NDManager.newBaseManager()) {
            var sets = FashionMnist.trainVal(data, SourceModel.TARGET, 20, 10, 20, 5); // 100 images: 5 steps an epoch
            FineTuneResult r = tuner(model).stage(head).fit(sets.train(), sets.validation());
            assertThat(r.epochs()).hasSize(3);
            assertThat(r.epochs()).extracting(EpochMetrics::epochInStage).containsExactly(1, 2, 3);
        }
    }

    @Test
    void theSearchIsRepeatableSetsTheRateAndLeavesNoTrace() throws Exception {
        List<LearningRateFinder.Result> results = new ArrayList<>();
        List<FineTuneResult> fits = new ArrayList<>();
        Map<String, float[]>[] around = new Map[2];
        for (int run = 0; run < 2; run++) {
            LearningRateFinder finder = LearningRateFinder.forStage(0).optRange(1e-6, 1e4).optSteps(30)
                    .optPlot(dir.resolve("lr" + run + ".png"));
            int index = run;
            FineTuneListener before = new FineTuneListener() {
                @Override
                public void onStageStart(StageStart stage) {
                    around[0] = Weights.snapshot(stage.control().block());
                }
            };
            FineTuneListener after = new FineTuneListener() {
                @Override
                public void onStageStart(StageStart stage) {
                    around[1] = Weights.snapshot(stage.control().block());
                }
            };
            try (Model model = SourceModel.pretrained(); NDManager data = NDManager.newBaseManager()) {
                var sets = FashionMnist.trainVal(data, SourceModel.TARGET, 20, 10, 20, 5);
                // every group trains and BatchNorm updates its statistics: the search must put all of it back
                fits.add(tuner(model).addListener(before).addListener(finder).addListener(after)
                        .stage(Stage.full().withEpochs(1).withSchedule(Schedule.constant())
                                .withBatchNormPolicy(BatchNormPolicy.TRAIN))
                        .fit(sets.train(), sets.validation()));
            }
            results.add(finder.result());
            assertThat(around[1].keySet()).isEqualTo(around[0].keySet());
            for (String name : around[0].keySet()) {
                assertThat(around[1].get(name)).as("run %d: %s put back (running statistics included)", index, name)
                        .containsExactly(around[0].get(name));
            }
        }
        LearningRateFinder.Result r = results.get(0);
        assertThat(results.get(1).losses()).as("seeded: the same search twice").containsExactly(r.losses());
        assertThat(r.cut()).as("rates up to 1e4 diverge: the tail is cut").isLessThan(30);
        assertThat(r.suggestion()).isBetween(1e-6, 1e2).isLessThanOrEqualTo(r.minimumRate() / 10 * (1 + 1e-9));
        assertThat(r.explanation()).contains("one tenth of the rate at the smoothed minimum");
        // the stage trained at the suggested rate (constant schedule: the epoch's rate is the stage's)
        assertThat(fits.get(0).epochs().get(0).learningRate()).isCloseTo(r.suggestion(), within(r.suggestion() * 1e-9));
        assertThat(fits.get(1).epochs()).extracting(EpochMetrics::trainLoss)
                .containsExactlyElementsOf(fits.get(0).epochs().stream().map(EpochMetrics::trainLoss).toList());
        BufferedImage png = ImageIO.read(dir.resolve("lr0.png").toFile());
        assertThat(png.getWidth()).isEqualTo(800);
    }

    @Test
    void theRuleIgnoresNonFiniteLossesAndWhatFollowsThem() {
        double[] rates = {1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1, 10};
        double[] losses = {2.0, 1.9, 1.4, 0.9, 0.7, Double.NaN, 0.01};
        LearningRateFinder.Result r = LearningRateFinder.Result.of(rates, losses);
        assertThat(r.cut()).isEqualTo(5);
        assertThat(r.minimumRate()).isEqualTo(1e-1);
        assertThat(r.suggestion()).isCloseTo(1e-2, within(1e-12));
        assertThat(r.smoothed()[5]).isNaN();
    }

    @Test
    void earlyStoppingEndsTheStageAndPutsBackItsBestEpoch() throws Exception {
        List<Map<String, float[]>> perEpoch = new ArrayList<>();
        List<String> stopped = new ArrayList<>();
        FineTuneListener recorder = new FineTuneListener() {
            @Override
            public void onEpochEnd(EpochEnd end) {
                perEpoch.add(Weights.snapshot(end.control().block()));
            }

            @Override
            public void onStageEnd(StageEnd end) {
                stopped.add(end.stoppedEarly());
            }
        };
        EarlyStopping stopping = EarlyStopping.on(dev.finetune.core.result.CheckpointMetric.ACCURACY, 1);
        FineTuneResult r;
        Map<String, float[]> end;
        try (Model model = SourceModel.pretrained(); NDManager data = NDManager.newBaseManager()) {
            var sets = FashionMnist.trainVal(data, SourceModel.TARGET, 10, 10, 10, 9);
            r = tuner(model).optRestoreBest(false).addListener(recorder).addListener(stopping)
                    .stage(Stage.full().withEpochs(12).withLearningRate(3e-2).withSchedule(Schedule.constant()))
                    .fit(sets.train(), sets.validation());
            end = Weights.snapshot(model.getBlock());
        }
        assertThat(r.epochs().size()).as("stopped before its 12 epochs").isLessThan(12);
        assertThat(stopped.get(0)).contains("no better validation accuracy for 1 epochs");
        int best = 0;
        for (int i = 1; i < r.epochs().size(); i++) {
            if (r.epochs().get(i).validationAccuracy() > r.epochs().get(best).validationAccuracy()) {
                best = i;
            }
        }
        assertThat(best).isEqualTo(r.epochs().size() - 2);
        for (String name : end.keySet()) {
            assertThat(end.get(name)).as("%s is the best epoch's", name).containsExactly(perEpoch.get(best).get(name));
        }
        EarlyStopping copy = EarlyStopping.patience(2);
        copy.restoreState(stopping.saveState());
        assertThat(copy.saveState()).isEqualTo(stopping.saveState());
    }
}
