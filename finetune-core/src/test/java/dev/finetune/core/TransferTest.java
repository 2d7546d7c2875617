package dev.finetune.core;

import ai.djl.Model;
import ai.djl.ndarray.NDManager;
import dev.finetune.core.fixtures.FashionMnist;
import dev.finetune.core.fixtures.SourceModel;
import dev.finetune.core.plan.BatchNormPolicy;
import dev.finetune.core.plan.Schedule;
import dev.finetune.core.stage.Stage;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A real transfer effect: on a small subset of the five target classes, head-only fine-tuning of the
 * net pretrained on the five source classes beats the same architecture trained from scratch (all
 * layers, the best of three learning rates) for the same number of steps.
 */
class TransferTest {

    private static final int PER_CLASS = 20;
    private static final int EPOCHS = 2; // 100 images, batch 20: 10 steps

    @Test
    void headOnlyOnPretrainedFeaturesBeatsTrainingFromScratch() throws Exception {
        // tiny-data results are noisy (scratch training is unstable on 100 images): judge over seeds
        int seeds = 8;
        double pretrainedSum = 0;
        double scratchSum = 0;
        int wins = 0;
        for (long seed = 1; seed <= seeds; seed++) {
            double pretrained;
            try (Model model = SourceModel.pretrained(); NDManager data = NDManager.newBaseManager()) {
                var sets = FashionMnist.trainVal(data, SourceModel.TARGET, PER_CLASS, 100, PER_CLASS, seed);
                pretrained = FineTuner.from(model).replaceHead(SourceModel.TARGET.length).optProgress(false).optSeed(seed)
                        .stage(Stage.headOnly().withEpochs(EPOCHS).withLearningRate(3e-2).withSchedule(Schedule.constant()))
                        .fit(sets.train(), sets.validation())
                        .lastEpoch().validationAccuracy();
            }
            double scratch = 0; // the best of three rates, chosen on the validation set: generous to scratch
            for (double lr : new double[] {1e-3, 3e-3, 1e-2}) {
                try (Model model = Model.newInstance("scratch"); NDManager data = NDManager.newBaseManager()) {
                    model.setBlock(SourceModel.architecture(SourceModel.TARGET.length));
                    var sets = FashionMnist.trainVal(data, SourceModel.TARGET, PER_CLASS, 100, PER_CLASS, seed);
                    double acc = FineTuner.from(model).optNumClasses(SourceModel.TARGET.length).optProgress(false)
                            .optSeed(seed)
                            .stage(Stage.full().withEpochs(EPOCHS).withLearningRate(lr)
                                    .withSchedule(Schedule.constant()).withBatchNormPolicy(BatchNormPolicy.TRAIN))
                            .fit(sets.train(), sets.validation())
                            .lastEpoch().validationAccuracy();
                    scratch = Math.max(scratch, acc);
                }
            }
            System.out.printf("TRANSFER seed %d pretrained %.3f scratch %.3f%n", seed, pretrained, scratch);
            wins += pretrained > scratch ? 1 : 0;
            pretrainedSum += pretrained;
            scratchSum += scratch;
        }
        assertThat(wins).as("seeds where transfer wins").isGreaterThanOrEqualTo(5);
        assertThat(pretrainedSum / seeds - scratchSum / seeds)
                .as("mean validation-accuracy gain of transfer over %d seeds", seeds)
                .isGreaterThan(0.03);
    }
}
