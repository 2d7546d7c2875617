package dev.finetune.examples;

import ai.djl.Model;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.finetune.core.FineTuner;
import dev.finetune.core.advice.Diagnosis;
import dev.finetune.core.result.FineTuneResult;
import dev.finetune.core.stage.Stage;
import dev.finetune.vision.backbone.Heads;
import dev.finetune.vision.backbone.TorchScriptBackbone;
import dev.finetune.vision.data.IdxImages;
import org.junit.jupiter.api.Test;

import static dev.finetune.examples.assertions.FineTuneAssertions.assertThat;

/**
 * How a host application tests its fine-tune with JUnit 5 and AssertJ: the committed backbone,
 * 40 images per class of five Fashion-MNIST classes it never saw, two stages, custom assertions.
 */
class HostApplicationTest {

    @Test
    void theShippedRecipeLearnsTheNewClasses() throws Exception {
        IdxImages fashion = IdxImages.readSplit(StudyData.FASHION, true);
        int[] classes = FashionTransfer.TARGET;
        try (Model model = TorchScriptBackbone.load(FolderFineTune.sourceBackbone());
                NDManager data = NDManager.newBaseManager()) {
            FineTuneResult result = FineTuner.from(model)
                    .optHeadReplacer(Heads.auto(new Shape(1, 3, 32, 32)))
                    .replaceHead(classes.length)
                    .optProgress(false)
                    .stage(Stage.headOnly().withEpochs(2).withLearningRate(1e-2))
                    .stage(Stage.discriminative(2.6).withEpochs(3).withLearningRate(3e-3))
                    .fit(StudyData.dataset(fashion, fashion.sample(classes, 40, 0, 3), classes, data, 25, true),
                            StudyData.dataset(fashion, fashion.sample(classes, 40, 2000, 3), classes, data, 200, false));

            assertThat(result)
                    .reachedValidationAccuracy(0.5) // chance is 0.2
                    .improvedOnItsFirstEpoch()
                    .trainedAtMost(0, 64 * 5 + 5) // the head alone in stage 1
                    .hasNoFinding(Diagnosis.Kind.DIVERGED, Diagnosis.Kind.NOT_LEARNING);
        }
    }
}
