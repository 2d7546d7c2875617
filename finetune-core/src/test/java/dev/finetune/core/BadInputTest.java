package dev.finetune.core;

import ai.djl.Model;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.dataset.ArrayDataset;
import dev.finetune.core.fixtures.FashionMnist;
import dev.finetune.core.fixtures.SourceModel;
import dev.finetune.core.groups.LayerGroups;
import dev.finetune.core.plan.OptimizerSpec;
import dev.finetune.core.plan.Schedule;
import dev.finetune.core.stage.Stage;
import dev.finetune.core.strategy.Strategy;
import dev.finetune.core.TrainingDivergedException;
import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Each kind of bad input gets one exception whose message says what was wrong and what to do. */
class BadInputTest {

    @Test
    void badOptimizerSettingsAreNamedByTheirValues() {
        // issue 14, point 11: a NaN momentum printed "OptimizerSpec[kind=null, beta1=0.0, ...]"
        assertThatThrownBy(() -> OptimizerSpec.sgd(Double.NaN)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("momentum=NaN").hasMessageContaining("SGD").hasMessageNotContaining("kind=null");
        assertThatThrownBy(() -> new OptimizerSpec(OptimizerSpec.Kind.ADAMW, 1.0, 0.999, 0, 0))
                .hasMessageContaining("beta1=1.0").hasMessageContaining("epsilon=0.0")
                .hasMessageNotContaining("beta2=");
    }

    @Test
    void headWithTooFewClasses() {
        try (Model model = SourceModel.pretrained()) {
            assertThatThrownBy(() -> FineTuner.from(model).replaceHead(0))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("replaceHead(0)")
                    .hasMessageContaining("at least 2 classes");
            assertThatThrownBy(() -> FineTuner.from(model).replaceHead(-4))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("replaceHead(-4)");
        }
    }

    @Test
    void emptyDataset() {
        try (Model model = SourceModel.pretrained(); NDManager data = NDManager.newBaseManager()) {
            var sets = FashionMnist.trainVal(data, SourceModel.TARGET, 5, 5, 25, 51);
            ArrayDataset empty = new ArrayDataset.Builder()
                    .setData(data.zeros(new Shape(0, 1, 28, 28)))
                    .optLabels(data.zeros(new Shape(0)))
                    .setSampling(8, true)
                    .build();
            FineTuner tuner = FineTuner.from(model).replaceHead(3).optProgress(false).stage(Stage.headOnly());
            assertThatThrownBy(() -> tuner.fit(empty, sets.validation()))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("training dataset is empty");
            assertThatThrownBy(() -> tuner.fit(sets.train(), empty))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("validation dataset is empty");
        }
    }

    @Test
    void labelsOutsideTheHeadsRange() {
        int[] fourClasses = {4, 6, 9, 0};
        try (Model model = SourceModel.pretrained(); NDManager data = NDManager.newBaseManager()) {
            var sets = FashionMnist.trainVal(data, fourClasses, 10, 5, 40, 52);
            FineTuner tuner = FineTuner.from(model).replaceHead(3).optProgress(false).stage(Stage.headOnly());
            assertThatThrownBy(() -> tuner.fit(sets.train(), sets.validation()))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("Label 3")
                    .hasMessageContaining("outside the head's range 0..2");
        }
    }

    @Test
    void planThatTrainsNothing() {
        try (Model model = SourceModel.pretrained(); NDManager data = NDManager.newBaseManager()) {
            var sets = FashionMnist.trainVal(data, SourceModel.TARGET, 5, 5, 25, 53);
            assertThatThrownBy(() -> FineTuner.from(model).replaceHead(3).fit(sets.train(), sets.validation()))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("no stage");
            Strategy nothing = new Strategy() {
                @Override
                public double[] multipliers(int groupCount, int epochInStage) {
                    return new double[groupCount];
                }

                @Override
                public String describe() {
                    return "nothing";
                }
            };
            FineTuner frozen = FineTuner.from(model).replaceHead(3).optProgress(false).stage(Stage.of(nothing));
            assertThatThrownBy(() -> frozen.fit(sets.train(), sets.validation()))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("trains nothing");
            assertThatThrownBy(() -> Stage.headOnly().withEpochs(0))
                    .hasMessageContaining("at least 1 epoch");
            assertThatThrownBy(() -> Stage.full().withLearningRate(-1))
                    .hasMessageContaining("learning rate must be a positive");
            FineTuner tooDeep = FineTuner.from(model).replaceHead(3).optProgress(false).stage(Stage.partial(9));
            assertThatThrownBy(() -> tooDeep.fit(sets.train(), sets.validation()))
                    .hasMessageContaining("partial(9)")
                    .hasMessageContaining("only 4");
        }
    }

    @Test
    void layerGroupPatternThatMatchesNothing() {
        try (Model model = SourceModel.pretrained()) {
            Map<String, String> patterns = new LinkedHashMap<>();
            patterns.put("body", "^0[1-4]");
            patterns.put("classifier", "^layer4");
            patterns.put("head", "^05");
            assertThatThrownBy(() -> LayerGroups.byPatterns(model.getBlock(), patterns))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("'^layer4'")
                    .hasMessageContaining("'classifier' matches no parameter")
                    .hasMessageContaining("01SequentialBlock_01Conv2d_weight");
            patterns.remove("classifier");
            LayerGroups groups = LayerGroups.byPatterns(model.getBlock(), patterns);
            assertThat(groups.size()).isEqualTo(2);
            assertThat(groups.head().name()).isEqualTo("head");
        }
    }

    @Test
    void userGroupsDriveTheStrategy() throws Exception {
        try (Model model = SourceModel.pretrained(); NDManager data = NDManager.newBaseManager()) {
            var sets = FashionMnist.trainVal(data, SourceModel.TARGET, 5, 5, 25, 55);
            Map<String, String> patterns = new LinkedHashMap<>();
            patterns.put("features", "^0[1-4]");
            patterns.put("head", "^05");
            var result = FineTuner.from(model).replaceHead(SourceModel.TARGET.length).optProgress(false)
                    .optLayerGroups(block -> LayerGroups.byPatterns(block, patterns))
                    .stage(Stage.partial(1))
                    .fit(sets.train(), sets.validation());
            // partial(1) over two groups trains everything: 60,576 backbone values + 325 head values
            assertThat(result.trainableParameters(0)).isEqualTo(60_576 + 325);
        }
    }

    @Test
    void blockWithoutWeights() {
        assertThatThrownBy(() -> FineTuner.from(SourceModel.architecture(3)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("no initialised parameters")
                .hasMessageContaining("load its pretrained weights first");
    }

    @Test
    void divergingLossStopsWithTheStepAndAdvice() {
        try (Model model = SourceModel.pretrained(); NDManager data = NDManager.newBaseManager()) {
            var sets = FashionMnist.trainVal(data, SourceModel.TARGET, 4, 2, 10, 54);
            FineTuner tuner = FineTuner.from(model).replaceHead(SourceModel.TARGET.length).optProgress(false)
                    .optDivergenceCheckInterval(2)
                    .stage(Stage.full().withEpochs(2).withLearningRate(1e12)
                            .withOptimizer(OptimizerSpec.sgd(0.9)).withSchedule(Schedule.constant()));
            assertThatThrownBy(() -> tuner.fit(sets.train(), sets.validation()))
                    .isInstanceOf(TrainingDivergedException.class)
                    .hasMessageMatching("(?s).*NaN or infinite at step \\d+ of stage 1/1 'full'.*")
                    .hasMessageContaining("learning rate")
                    .satisfies(e -> assertThat(((TrainingDivergedException) e).step()).isBetween(1L, 4L));
        }
    }
}
