package dev.finetune.core;

import ai.djl.Model;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;
import ai.djl.training.dataset.ArrayDataset;
import ai.djl.training.dataset.Batch;
import ai.djl.training.loss.Loss;
import dev.finetune.core.checkpoint.Checkpoint;
import dev.finetune.core.fixtures.FashionMnist;
import dev.finetune.core.fixtures.InterruptingDataset;
import dev.finetune.core.fixtures.ResumableFit;
import dev.finetune.core.fixtures.SourceModel;
import dev.finetune.core.fixtures.Weights;
import dev.finetune.core.internal.BatchMixing;
import dev.finetune.core.internal.SeededSampling;
import dev.finetune.core.loss.ClassWeightedCrossEntropy;
import dev.finetune.core.loss.CrossEntropy;
import dev.finetune.core.plan.BatchNormPolicy;
import dev.finetune.core.plan.MixUp;
import dev.finetune.core.result.EpochMetrics;
import dev.finetune.core.result.FineTuneResult;
import dev.finetune.core.stage.Stage;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;
import static org.assertj.core.api.Assertions.within;

/**
 * Label smoothing, MixUp/CutMix and the weight average in whole fits of the pretrained CNN on
 * Fashion-MNIST: seeded, composed with class weights, measured as documented, and resumed exactly.
 */
class RegularisationTest {

    private static final MixUp BOTH = MixUp.builder().optMixUpAlpha(0.8).optCutMixAlpha(1.0).build();

    @TempDir
    Path dir;

    @AfterEach
    void clearInterrupt() {
        Thread.interrupted();
    }

    private static FineTuner tuner(Model model) {
        return FineTuner.from(model).replaceHead(SourceModel.TARGET.length).optProgress(false).optSeed(7)
                .optClassNames(FashionMnist.names(SourceModel.TARGET));
    }

    private static List<Double> trainLosses(FineTuneResult r) {
        return r.epochs().stream().map(EpochMetrics::trainLoss).toList();
    }

    /** Every epoch's figures but the times. */
    private static List<String> figures(FineTuneResult r) {
        return r.epochs().stream().map(m -> m.trainLoss() + " " + m.trainAccuracy() + " " + m.validationLoss() + " "
                + m.validationAccuracy() + " " + m.validationMacroF1() + " " + m.learningRate()).toList();
    }

    private static FineTuneResult mixedFit(long seed, MixUp mix) throws Exception {
        try (Model model = SourceModel.pretrained(); NDManager data = NDManager.newBaseManager()) {
            var sets = FashionMnist.trainVal(data, SourceModel.TARGET, 20, 10, 20, 41);
            return tuner(model).optSeed(seed)
                    .stage(Stage.partial(1).withEpochs(2).withLearningRate(3e-3).withMixUp(mix))
                    .fit(sets.train(), sets.validation());
        }
    }

    @Test
    void mixingIsSeededByTheFitsSeedAndChangesWhatTrains() throws Exception {
        FineTuneResult first = mixedFit(7, BOTH);
        FineTuneResult again = mixedFit(7, BOTH);
        FineTuneResult otherSeed = mixedFit(8, BOTH);
        FineTuneResult unmixed = mixedFit(7, MixUp.none());
        assertThat(figures(again)).as("the same seed mixes alike").containsExactlyElementsOf(figures(first));
        assertThat(trainLosses(otherSeed)).isNotEqualTo(trainLosses(first));
        // mixed targets are harder to fit: the mixed training loss lies well above the plain one
        assertThat(first.epochs().get(1).trainLoss()).isGreaterThan(unmixed.epochs().get(1).trainLoss() + 0.1);
        assertThat(first.epochs().get(0).trainAccuracy()).as("counted against the dominant label").isBetween(0.0, 1.0);
    }

    @Test
    void everyTrainingBatchIsMixedByTheDrawOfItsSeedEpochAndPosition() throws Exception {
        try (NDManager m = NDManager.newBaseManager()) {
            // 4 batches of 4 samples read in order; the first layer records what the network is given
            float[] values = new float[16 * 3];
            for (int i = 0; i < values.length; i++) {
                values[i] = (float) Math.sin(i + 1.0);
            }
            NDArray x = m.create(values, new Shape(16, 3));
            ArrayDataset data = new ArrayDataset.Builder().setData(x)
                    .optLabels(m.create(new float[] {0, 1, 0, 1, 1, 0, 1, 0, 0, 0, 1, 1, 1, 1, 0, 0}))
                    .setSampling(4, false).build();
            List<float[]> seen = new ArrayList<>();
            SequentialBlock recording = new SequentialBlock();
            recording.add(new ai.djl.nn.AbstractBlock() {
                @Override
                protected NDList forwardInternal(ParameterStore ps, NDList in, boolean training,
                        ai.djl.util.PairList<String, Object> params) {
                    if (training) {
                        seen.add(in.head().toFloatArray());
                    }
                    return in;
                }

                @Override
                public Shape[] getOutputShapes(Shape[] inputs) {
                    return inputs;
                }
            });
            recording.add(Linear.builder().setUnits(2).build());
            recording.initialize(m, ai.djl.ndarray.types.DataType.FLOAT32, new Shape(1, 3));
            MixUp mix = MixUp.of(0.4);
            FineTuner.from(recording).optNumClasses(2).optProgress(false).optSeed(5)
                    .stage(Stage.full().withEpochs(2).withMixUp(mix)).fit(data, data);
            assertThat(seen).hasSize(8);
            List<Double> lambdas = new ArrayList<>();
            for (int epoch = 1; epoch <= 2; epoch++) {
                for (int batch = 0; batch < 4; batch++) {
                    float[] mixed = seen.get((epoch - 1) * 4 + batch);
                    BatchMixing.Draw draw = BatchMixing.draw(mix,
                            SeededSampling.batchSeed(SeededSampling.epochSeed(5, epoch), batch), new Shape(4, 3));
                    for (int i = 0; i < 4; i++) {
                        for (int j = 0; j < 3; j++) {
                            double own = values[(batch * 4 + i) * 3 + j];
                            double partner = values[(batch * 4 + 3 - i) * 3 + j];
                            assertThat((double) mixed[i * 3 + j]).as("epoch %d batch %d", epoch, batch)
                                    .isCloseTo(draw.lambda() * own + (1 - draw.lambda()) * partner, within(1e-6));
                        }
                    }
                    lambdas.add(draw.lambda());
                }
            }
            assertThat(lambdas).doesNotHaveDuplicates();
        }
    }

    @Test
    void smoothingComposesWithClassWeightsInEitherOrderAndValidationIsMeasuredWithoutIt() throws Exception {
        float[] w = {1f, 2f, 0.5f, 1f, 3f};
        List<FineTuneResult> results = new ArrayList<>();
        double[] recomputed = new double[2];
        double[] smoothedOnValidation = new double[1];
        for (int order = 0; order < 2; order++) {
            try (Model model = SourceModel.pretrained(); NDManager data = NDManager.newBaseManager()) {
                var sets = FashionMnist.trainVal(data, SourceModel.TARGET, 20, 10, 20, 41);
                FineTuner t = tuner(model).optRestoreBest(false)
                        .stage(Stage.headOnly().withEpochs(2).withLearningRate(1e-2));
                if (order == 0) {
                    t.optClassWeights(w).optLabelSmoothing(0.2);
                } else {
                    t.optLabelSmoothing(0.2).optClassWeights(w);
                }
                results.add(t.fit(sets.train(), sets.validation()));
                // the last epoch's weights: the validation loss again, by the class-weighted loss without smoothing
                recomputed[order] = meanLoss(model.getBlock(), sets.validation(), new ClassWeightedCrossEntropy(w), data);
                if (order == 0) {
                    smoothedOnValidation[0] = meanLoss(model.getBlock(), sets.validation(),
                            CrossEntropy.builder().optClassWeights(w).optLabelSmoothing(0.2).build(), data);
                }
            }
        }
        assertThat(figures(results.get(1))).containsExactlyElementsOf(figures(results.get(0)));
        double reported = results.get(0).epochs().get(1).validationLoss();
        assertThat(reported).isCloseTo(recomputed[0], within(1e-5));
        assertThat(smoothedOnValidation[0]).as("smoothing would have raised it").isGreaterThan(reported + 0.05);
    }

    private static double meanLoss(Block block, ArrayDataset data, Loss loss, NDManager manager) throws Exception {
        ParameterStore ps = new ParameterStore(manager, false);
        double sum = 0;
        long n = 0;
        for (Batch b : data.getData(manager)) {
            try (b) {
                NDList out = block.forward(ps, b.getData(), false);
                sum += loss.evaluate(b.getLabels(), out).getFloat() * b.getSize();
                n += b.getSize();
            }
        }
        return sum / n;
    }

    @Test
    void settingsThatCannotHoldAreRefusedBeforeTraining() throws Exception {
        try (Model model = SourceModel.pretrained(); NDManager data = NDManager.newBaseManager()) {
            var sets = FashionMnist.trainVal(data, SourceModel.TARGET, 4, 2, 10, 41);
            assertThatThrownBy(() -> tuner(model).optLoss(Loss.softmaxCrossEntropyLoss()).optLabelSmoothing(0.1)
                    .stage(Stage.headOnly()).fit(sets.train(), sets.validation()))
                    .isInstanceOf(IllegalStateException.class).hasMessageContaining("nothing to apply to")
                    .hasMessageContaining("CrossEntropy.builder()");
            assertThatThrownBy(() -> tuner(model).optLoss(Loss.softmaxCrossEntropyLoss())
                    .stage(Stage.headOnly().withMixUp(MixUp.of(0.2))).fit(sets.train(), sets.validation()))
                    .isInstanceOf(IllegalStateException.class).hasMessageContaining("soft targets")
                    .hasMessageContaining("MixUp.none()");
            assertThatThrownBy(() -> tuner(model).optClassWeights(new float[] {1, 1, 1})
                    .stage(Stage.headOnly()).fit(sets.train(), sets.validation()))
                    .hasMessageContaining("3 class weights were given for 5 classes");
        }
        try (NDManager m = NDManager.newBaseManager()) {
            SequentialBlock mlp = new SequentialBlock().add(Linear.builder().setUnits(4).build())
                    .add(Linear.builder().setUnits(2).build());
            mlp.initialize(m, ai.djl.ndarray.types.DataType.FLOAT32, new Shape(1, 6));
            ArrayDataset flat = new ArrayDataset.Builder().setData(m.randomNormal(new Shape(8, 6)))
                    .optLabels(m.create(new float[] {0, 1, 0, 1, 0, 1, 0, 1})).setSampling(4, false).build();
            List<String> events = new ArrayList<>();
            assertThatThrownBy(() -> FineTuner.from(mlp).optNumClasses(2).optProgress(false)
                    .addListener(new FineTuneListener() {
                        @Override
                        public void onFitStart(FitStart start) {
                            events.add("started");
                        }
                    })
                    .stage(Stage.full().withMixUp(MixUp.cutMix(1.0)).withName("cut")).fit(flat, flat))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("Stage 'cut'")
                    .hasMessageContaining("(N, C, H, W)").hasMessageContaining("(4, 6)");
            assertThat(events).as("refused before the fit started").isEmpty();
            // MixUp alone mixes any input
            FineTuner.from(mlp).optNumClasses(2).optProgress(false).stage(Stage.full().withMixUp(MixUp.of(0.4)))
                    .fit(flat, flat);
        }
    }

    /** Records every weight before training and after every step (the training weights). */
    private static final class WeightRecorder implements FineTuneListener {
        private final FineTuner tuner;
        final List<Map<String, float[]>> afterSteps = new ArrayList<>();
        Map<String, float[]> initial;

        WeightRecorder(FineTuner tuner) {
            this.tuner = tuner;
        }

        @Override
        public void onEpochStart(EpochStart epoch) {
            if (initial == null) {
                initial = Weights.snapshot(tuner.block());
            }
        }

        @Override
        public void onStep(Step step) {
            afterSteps.add(Weights.snapshot(tuner.block()));
        }
    }

    /** The average of the recorded weights, by hand in doubles: avg = d avg + (1 - d) w, d = min(decay, (1+t)/(10+t)). */
    private static Map<String, double[]> averageByHand(WeightRecorder rec, double decay) {
        Map<String, double[]> avg = new LinkedHashMap<>();
        rec.initial.forEach((k, v) -> {
            double[] d = new double[v.length];
            for (int i = 0; i < v.length; i++) {
                d[i] = v[i];
            }
            avg.put(k, d);
        });
        for (int t = 0; t < rec.afterSteps.size(); t++) {
            double d = Math.min(decay, (1.0 + t) / (10.0 + t));
            for (Map.Entry<String, float[]> e : rec.afterSteps.get(t).entrySet()) {
                double[] a = avg.get(e.getKey());
                for (int i = 0; i < a.length; i++) {
                    a[i] = d * a[i] + (1 - d) * e.getValue()[i];
                }
            }
        }
        return avg;
    }

    @Test
    void theAverageIsWhatValidationMeasuresAndWhatTheModelEndsWith() throws Exception {
        double decay = 0.3; // the warm-up gives way to the decay at the fourth update
        try (Model model = SourceModel.pretrained(); NDManager data = NDManager.newBaseManager()) {
            var sets = FashionMnist.trainVal(data, SourceModel.TARGET, 20, 10, 20, 41);
            FineTuner t = tuner(model).optEma(decay).optRestoreBest(false)
                    .stage(Stage.headOnly().withEpochs(2).withLearningRate(1e-2));
            WeightRecorder rec = new WeightRecorder(t);
            FineTuneResult r = t.addListener(rec).fit(sets.train(), sets.validation());
            assertThat(rec.afterSteps).hasSize(10);
            Map<String, double[]> byHand = averageByHand(rec, decay);
            Map<String, float[]> now = Weights.snapshot(model.getBlock());
            for (String name : byHand.keySet()) {
                double[] expected = byHand.get(name);
                float[] actual = now.get(name);
                for (int i = 0; i < expected.length; i++) {
                    assertThat((double) actual[i]).as("%s[%d]", name, i)
                            .isCloseTo(expected[i], within(1e-6 + 1e-5 * Math.abs(expected[i])));
                }
            }
            String head = "05Linear_weight";
            assertThat(byHand).containsKey(head);
            assertThat(Weights.distance(now.get(head), rec.afterSteps.get(9).get(head)))
                    .as("the model is the average, not the last weights").isGreaterThan(1e-3);
            // validation measured the average: the model now gives the last epoch's figures again
            var again = t.evaluate(sets.validation());
            assertThat(again.loss()).isCloseTo(r.epochs().get(1).validationLoss(), within(1e-6));
            assertThat(again.confusion().accuracy()).isEqualTo(r.epochs().get(1).validationAccuracy());
        }
    }

    @Test
    void theBestCheckpointHoldsTheAverageAndTheModelEndsWithIt() throws Exception {
        Path best = dir.resolve("best.ckpt");
        Map<String, float[]> end;
        FineTuneResult r;
        try (Model model = SourceModel.pretrained(); NDManager data = NDManager.newBaseManager()) {
            var sets = FashionMnist.trainVal(data, SourceModel.TARGET, 20, 10, 20, 41);
            FineTuner t = tuner(model).optEma(0.9).optCheckpoint(best)
                    .stage(Stage.headOnly().withEpochs(2).withLearningRate(1e-2));
            r = t.fit(sets.train(), sets.validation());
            end = Weights.snapshot(model.getBlock());
            var again = t.evaluate(sets.validation());
            assertThat(again.confusion().accuracy()).isEqualTo(r.bestEpoch().validationAccuracy());
            assertThat(again.loss()).isCloseTo(r.bestEpoch().validationLoss(), within(1e-6));
        }
        try (Model fresh = SourceModel.pretrained()) {
            Block block = tuner(fresh).block(); // a new head, to be given the checkpoint's values
            block.initialize(fresh.getNDManager(), ai.djl.ndarray.types.DataType.FLOAT32, new Shape(1, 1, 28, 28));
            Checkpoint.load(best).restoreInto(block, fresh.getNDManager());
            Map<String, float[]> saved = Weights.snapshot(fresh.getBlock());
            for (String name : end.keySet()) {
                assertThat(saved.get(name)).as(name).containsExactly(end.get(name));
            }
        }
    }

    private FineTuner everything(Model model, String name) {
        return tuner(model).optEma(0.9).optLabelSmoothing(0.1).optClassWeights(new float[] {1f, 2f, 1f, 0.5f, 1f})
                .optCheckpoint(dir.resolve(name + "-best.ckpt")).optLastCheckpoint(dir.resolve(name + "-last.ckpt"))
                .stage(Stage.headOnly().withEpochs(2).withLearningRate(1e-2))
                .stage(Stage.partial(1).withEpochs(2).withLearningRate(3e-3).withMixUp(BOTH).withAccumulation(2)
                        .withBatchNormPolicy(BatchNormPolicy.TRAIN));
    }

    @Test
    void aRunWithEverythingInterruptedInsideAnAccumulationGroupResumesToTheUninterruptedRun() throws Exception {
        String expected;
        try (Model model = SourceModel.pretrained(); NDManager data = NDManager.newBaseManager()) {
            var sets = FashionMnist.trainVal(data, SourceModel.TARGET, 20, 10, 20, 41);
            FineTuneResult r = everything(model, "whole").fit(sets.train(), sets.validation());
            expected = ResumableFit.summary(r, model.getBlock());
        }
        try (Model model = SourceModel.pretrained(); NDManager data = NDManager.newBaseManager()) {
            var sets = FashionMnist.trainVal(data, SourceModel.TARGET, 20, 10, 20, 41);
            // reads: the peek (20), stage 1 (200); read 270 falls in batch 3 of epoch 3: the loop stops
            // before batch 4, with the second group of 2 batches half accumulated
            var train = new InterruptingDataset(sets.train(), 20, Thread.currentThread(), 270);
            TrainingInterruptedException stopped = catchThrowableOfType(
                    () -> everything(model, "cut").fit(train, sets.validation()), TrainingInterruptedException.class);
            assertThat(stopped).isNotNull();
            assertThat(stopped.step()).as("one optimizer step of epoch 3 done").isEqualTo(1);
        }
        assertThat(Thread.interrupted()).isTrue();
        try (Model model = SourceModel.pretrained(); NDManager data = NDManager.newBaseManager()) {
            var sets = FashionMnist.trainVal(data, SourceModel.TARGET, 20, 10, 20, 41);
            FineTuneResult r = everything(model, "cut").optResumeFrom(dir.resolve("cut-last.ckpt"))
                    .fit(sets.train(), sets.validation());
            assertThat(ResumableFit.summary(r, model.getBlock())).isEqualTo(expected);
        }
        // a last checkpoint of a run with an average is refused by a fine-tuner without one, and the other way round
        try (Model model = SourceModel.pretrained(); NDManager data = NDManager.newBaseManager()) {
            var sets = FashionMnist.trainVal(data, SourceModel.TARGET, 20, 10, 20, 41);
            FineTuner withoutAverage = tuner(model).optLabelSmoothing(0.1)
                    .optClassWeights(new float[] {1f, 2f, 1f, 0.5f, 1f})
                    .optCheckpoint(dir.resolve("x-best.ckpt")).optResumeFrom(dir.resolve("cut-last.ckpt"))
                    .stage(Stage.headOnly().withEpochs(2).withLearningRate(1e-2))
                    .stage(Stage.partial(1).withEpochs(2).withLearningRate(3e-3).withMixUp(BOTH).withAccumulation(2)
                            .withBatchNormPolicy(BatchNormPolicy.TRAIN));
            assertThatThrownBy(() -> withoutAverage.fit(sets.train(), sets.validation()))
                    .hasMessageContaining("with optEma(0.9)").hasMessageContaining("keeps none");
        }
    }
}
