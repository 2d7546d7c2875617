package dev.finetune.vision.bottleneck;

import ai.djl.Model;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Block;
import ai.djl.nn.SequentialBlock;
import dev.finetune.core.FineTuner;
import dev.finetune.core.fixtures.FashionMnist;
import dev.finetune.core.fixtures.SourceModel;
import dev.finetune.core.plan.Schedule;
import dev.finetune.core.stage.Stage;
import dev.finetune.core.features.FeatureCache;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** Linear classifiers on the pretrained CNN's bottleneck features, small target data. */
class BottleneckTest {

    @Test
    void crossValidatedLinearModelsOnBottleneckFeatures() throws Exception {
        int classes = SourceModel.TARGET.length;
        double headOnly;
        try (Model model = SourceModel.pretrained(); NDManager data = NDManager.newBaseManager()) {
            var sets = FashionMnist.trainVal(data, SourceModel.TARGET, 20, 100, 20, 71);
            headOnly = FineTuner.from(model).replaceHead(classes).optProgress(false)
                    .stage(Stage.headOnly().withEpochs(10).withLearningRate(3e-2).withSchedule(Schedule.constant()))
                    .fit(sets.train(), sets.validation()).lastEpoch().validationAccuracy();
        }
        try (Model model = SourceModel.pretrained(); NDManager data = NDManager.newBaseManager()) {
            var sets = FashionMnist.trainVal(data, SourceModel.TARGET, 20, 100, 20, 71);
            SequentialBlock backbone = new SequentialBlock();
            List<Block> children = model.getBlock().getChildren().values();
            for (Block child : children.subList(0, children.size() - 1)) {
                backbone.add(child);
            }
            try (FeatureCache train = FeatureCache.compute(backbone, model.getNDManager(), sets.train(), 256);
                    FeatureCache val = FeatureCache.compute(backbone, model.getNDManager(), sets.validation(), 256)) {
                float[][] x = train.rows();
                int[] y = train.labels();
                assertThat(x).hasNumberOfRows(100);
                assertThat(x[0]).hasSize(64);
                // the default search: 1e-4..1e4, extended at an edge, stratified 5 folds
                CrossValidation.Selection lr = CrossValidation.builder().build().select(x, y, classes);
                CrossValidation.Selection svm = CrossValidation.builder().optTrainer(LinearModels.linearSvm()).build()
                        .select(x, y, classes);
                double lrAcc = lr.classifier().accuracy(val.rows(), val.labels());
                double svmAcc = svm.classifier().accuracy(val.rows(), val.labels());
                System.out.printf("BOTTLENECK head-only %.4f | %s -> val %.4f | %s -> val %.4f%n", headOnly, lr, lrAcc, svm, svmAcc);
                assertThat(lr.scores()).containsKeys(1e-4, 1.0, 1e4);
                assertThat(lr.atEdge()).isEqualTo(!lr.warnings().isEmpty());
                assertThat(svm.atEdge()).isEqualTo(!svm.warnings().isEmpty());
                assertThat(lr.accuracy()).isEqualTo(lr.scores().get(lr.c()));
                assertThat(lr.scores().values()).allMatch(v -> v <= lr.accuracy());
                // the small-data path is at least as good as fine-tuning the head on the same 100 images
                assertThat(lrAcc).isGreaterThanOrEqualTo(headOnly - 0.02);
                assertThat(svmAcc).isGreaterThanOrEqualTo(headOnly - 0.05);
                assertThat(lrAcc).isGreaterThan(0.5);
            }
        }
    }
}
