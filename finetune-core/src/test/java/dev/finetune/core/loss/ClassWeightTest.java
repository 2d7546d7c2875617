package dev.finetune.core.loss;

import ai.djl.Model;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.training.dataset.ArrayDataset;
import ai.djl.training.loss.Loss;
import dev.finetune.core.FineTuner;
import dev.finetune.core.fixtures.FashionMnist;
import dev.finetune.core.fixtures.SourceModel;
import dev.finetune.core.result.CheckpointMetric;
import dev.finetune.core.result.ConfusionMatrix;
import dev.finetune.core.result.FineTuneResult;
import dev.finetune.core.stage.Stage;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/** Class counts, balanced weights and the class-weighted loss, on hand values and imbalanced real data. */
class ClassWeightTest {

    @Test
    void weightedLossMatchesHandValuesAndEqualsThePlainLossWithEqualWeights() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray logits = m.create(new float[] {2f, 0f, 0f, 0f, 1f, 0f}, new ai.djl.ndarray.types.Shape(2, 3));
            NDArray labels = m.create(new float[] {0f, 1f});
            double l0 = -Math.log(Math.exp(2) / (Math.exp(2) + 2));
            double l1 = -Math.log(Math.exp(1) / (Math.exp(1) + 2));
            float weighted = new ClassWeightedCrossEntropy(new float[] {1f, 3f, 1f})
                    .evaluate(new NDList(labels), new NDList(logits)).getFloat();
            assertThat((double) weighted).isCloseTo((1 * l0 + 3 * l1) / 4, within(1e-5));
            float equal = new ClassWeightedCrossEntropy(new float[] {2f, 2f, 2f})
                    .evaluate(new NDList(labels), new NDList(logits)).getFloat();
            float plain = Loss.softmaxCrossEntropyLoss().evaluate(new NDList(labels), new NDList(logits)).getFloat();
            assertThat(equal).isCloseTo(plain, within(1e-5f));
        }
    }

    @Test
    void countsGiveBalancedWeightsAndNameRareAndEmptyClasses() {
        ClassCounts c = ClassCounts.of(List.of("a", "b", "c"), new int[] {0, 0, 0, 0, 0, 0, 1, 1, 2, 2});
        assertThat(c.counts()).containsExactly(6, 2, 2);
        assertThat(c.imbalanceRatio()).isEqualTo(3.0);
        float[] w = c.balancedWeights();
        assertThat(w[0]).isCloseTo(10f / 18, within(1e-6f));
        assertThat(w[1]).isCloseTo(10f / 6, within(1e-6f));
        assertThat(c.rareClasses()).isEmpty();
        assertThat(c.describe()).contains("imbalance (largest/smallest): 3.0");
        ClassCounts empty = new ClassCounts(List.of("cat", "dog"), new long[] {5, 0});
        assertThatThrownBy(empty::balancedWeights).hasMessageContaining("'dog' has no training samples");
        assertThatThrownBy(() -> new ClassWeightedCrossEntropy(new float[] {1f, 0f}))
                .hasMessageContaining("Class weight 1 is 0.0");
    }

    /** Shirt (rare: 8 images) among Pullover, Coat, Sneaker, Ankle boot (80 each); balanced validation. */
    private static ConfusionMatrix fit(boolean weighted, long seed) throws Exception {
        int[] common = {2, 4, 7, 9};
        int[] rare = {6};
        int[] classes = SourceModel.TARGET; // 2, 4, 6, 7, 9: label 2 is Shirt
        try (Model model = SourceModel.pretrained(); NDManager data = NDManager.newBaseManager()) {
            FashionMnist.Split split = FashionMnist.train();
            List<Integer> train = new ArrayList<>(FashionMnist.pick(split, common, 80, 0, seed));
            train.addAll(FashionMnist.pick(split, rare, 8, 0, seed));
            ArrayDataset trainSet = FashionMnist.dataset(data, split, train, classes, 32, true);
            ArrayDataset validation = FashionMnist.dataset(data, split,
                    FashionMnist.pick(split, classes, 60, 80, seed), classes, 250, false);
            int[] labels = new int[train.size()];
            for (int i = 0; i < labels.length; i++) {
                int original = split.labels()[train.get(i)];
                labels[i] = original == 6 ? 2 : original == 7 ? 3 : original == 9 ? 4 : original == 4 ? 1 : 0;
            }
            ClassCounts counts = ClassCounts.of(FashionMnist.names(classes), labels);
            assertThat(counts.rareClasses()).containsExactly("Shirt");
            FineTuner tuner = FineTuner.from(model).replaceHead(classes.length).optProgress(false).optSeed(seed)
                    .optClassNames(FashionMnist.names(classes))
                    .optCheckpointMetric(CheckpointMetric.MACRO_F1)
                    .stage(Stage.headOnly().withEpochs(8).withLearningRate(3e-2));
            if (weighted) {
                tuner.optClassWeights(counts.balancedWeights());
            }
            tuner.fit(trainSet, validation);
            return tuner.evaluate(validation).confusion();
        }
    }

    private static double recall(ConfusionMatrix cm, int c) {
        long row = 0;
        for (int p = 0; p < cm.classCount(); p++) {
            row += cm.count(c, p);
        }
        return (double) cm.count(c, c) / row;
    }

    @Test
    void balancedWeightsRaiseTheRareClassRecallOnImbalancedFashionMnist() throws Exception {
        double plainRecall = 0;
        double weightedRecall = 0;
        double plainF1 = 0;
        double weightedF1 = 0;
        for (long seed : new long[] {3, 4}) {
            ConfusionMatrix plain = fit(false, seed);
            ConfusionMatrix weighted = fit(true, seed);
            plainRecall += recall(plain, 2) / 2;
            weightedRecall += recall(weighted, 2) / 2;
            plainF1 += plain.macroF1() / 2;
            weightedF1 += weighted.macroF1() / 2;
        }
        System.out.printf("Shirt recall %.3f -> %.3f, macro-F1 %.3f -> %.3f%n", plainRecall, weightedRecall, plainF1,
                weightedF1);
        assertThat(weightedRecall).isGreaterThan(plainRecall + 0.15);
        assertThat(weightedF1).isGreaterThan(plainF1);
    }
}
