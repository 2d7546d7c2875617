package dev.finetune.core.reliability;

import ai.djl.Model;
import ai.djl.ndarray.NDManager;
import dev.finetune.core.FineTuneListener;
import dev.finetune.core.FineTuner;
import dev.finetune.core.fixtures.FashionMnist;
import dev.finetune.core.fixtures.SourceModel;
import dev.finetune.core.plan.BatchNormPolicy;
import dev.finetune.core.plan.MixUp;
import dev.finetune.core.stage.Stage;
import dev.finetune.core.testing.MemoryProbe;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The step's manager discipline with every regularisation on (MixUp and CutMix, accumulation, label
 * smoothing with class weights, the weight average with its swaps, both checkpoints): the native
 * arrays alive at the start of every epoch after the first are exactly as many, and at every
 * optimizer step, and the fit leaves none behind. A leak of one array per step or per epoch fails
 * it, and so does a batch's arrays kept beyond its backward pass.
 */
class RegularisationMemoryTest {

    private static List<MemoryProbe.Sample> fit(Model model, FineTuner tuner, FashionMnist.TrainVal sets, Path dir,
            List<Long> atSteps) throws Exception {
        MemoryProbe train = new MemoryProbe(sets.train());
        tuner.addListener(new FineTuneListener() {
            @Override
            public void onStep(Step step) {
                if (step.epoch().epoch() > 1) {
                    atSteps.add(MemoryProbe.nativeArrays());
                }
            }
        });
        tuner.optProgress(false).optEma(0.99).optLabelSmoothing(0.1).optClassWeights(new float[] {1, 2, 1, 1, 0.5f})
                .optCheckpoint(dir.resolve("best.ckpt")).optLastCheckpoint(dir.resolve("last.ckpt"))
                .stage(Stage.full().withEpochs(8).withLearningRate(1e-4)
                        .withBatchNormPolicy(BatchNormPolicy.TRAIN).withAccumulation(2)
                        .withMixUp(MixUp.builder().optMixUpAlpha(0.4).optCutMixAlpha(1.0).build()))
                .fit(train, sets.validation());
        return train.samples();
    }

    @Test
    void everyRegularisationTogetherKeepsTheLiveArraysExactlyFlat(@TempDir Path dir) throws Exception {
        try (Model model = SourceModel.pretrained(); NDManager data = NDManager.newBaseManager()) {
            var sets = FashionMnist.trainVal(data, SourceModel.TARGET, 8, 4, 8, 5); // 40 images: 5 batches
            List<Long> atSteps = new ArrayList<>();
            List<MemoryProbe.Sample> samples = fit(model,
                    FineTuner.from(model).replaceHead(SourceModel.TARGET.length), sets, dir, atSteps);
            long afterFirst = MemoryProbe.nativeArrays();
            // sample 0 is the first-batch peek, sample k the start of epoch k
            assertThat(samples).hasSize(9);
            List<Long> arrays = samples.subList(2, 9).stream().map(MemoryProbe.Sample::nativeArrays).toList();
            fit(model, FineTuner.from(model).optNumClasses(SourceModel.TARGET.length), sets, dir, new ArrayList<>());
            long afterSecond = MemoryProbe.nativeArrays();
            System.out.println("RELIABILITY regularisation: live native arrays at the start of epochs 2-8: " + arrays
                    + ", at their 21 steps " + new java.util.TreeSet<>(atSteps) + "; after a fit " + afterFirst
                    + ", after a second fit on the same model " + afterSecond);
            assertThat(arrays).as("live native arrays at each epoch start").containsOnly(arrays.get(0));
            // 5 batches in groups of 2, 2 and 1: a batch's arrays are gone after its backward pass, so every
            // step (a full group or the shorter last one) holds as many
            assertThat(atSteps).as("live native arrays at each step of epochs 2-8").hasSize(21)
                    .containsOnly(atSteps.get(0));
            assertThat(afterSecond).as("a fit leaves no array behind").isEqualTo(afterFirst);
        }
    }
}
