package dev.finetune.vision.backbone;

import ai.djl.Model;
import ai.djl.ndarray.NDManager;
import ai.djl.training.dataset.ArrayDataset;
import dev.finetune.core.FineTuner;
import dev.finetune.core.head.HeadReplacer;
import dev.finetune.core.plan.BatchNormPolicy;
import dev.finetune.core.result.FineTuneResult;
import dev.finetune.core.stage.Stage;
import dev.finetune.vision.data.IdxImages;
import dev.finetune.vision.fixtures.TorchScriptFixtures;
import org.junit.jupiter.api.Test;

import java.nio.file.Paths;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Issue 13, point 3: a setting that cannot hold was only logged (and lost without an SLF4J
 * binding); it is now in {@link FineTuneResult#warnings()} too.
 */
class FitWarningsTest {

    private static final int[] CLASSES = {0, 1, 5};

    private static FineTuneResult fit(Stage stage) throws Exception {
        IdxImages fashion = IdxImages.readSplit(Paths.get("/usr/share/datasets/fashion-mnist"), true);
        try (Model model = TorchScriptBackbone.load(TorchScriptFixtures.DIR.resolve("tiny-cnn-embedding.pt"));
                NDManager m = NDManager.newBaseManager()) {
            ArrayDataset train = TorchScriptFixtures.rgb32(fashion, m, fashion.sample(CLASSES, 10, 0, 4), CLASSES, 10, true);
            ArrayDataset val = TorchScriptFixtures.rgb32(fashion, m, fashion.sample(CLASSES, 10, 10, 4), CLASSES, 30, false);
            return FineTuner.from(model).optHeadReplacer(HeadReplacer.append()).replaceHead(CLASSES.length)
                    .optProgress(false).stage(stage).fit(train, val);
        }
    }

    @Test
    void keptStatisticsThatCannotHoldAreInTheResultsWarnings() throws Exception {
        FineTuneResult full = fit(Stage.full().withEpochs(1).withLearningRate(1e-3)
                .withBatchNormPolicy(BatchNormPolicy.KEEP_STATISTICS));
        assertThat(full.warnings()).filteredOn(w -> w.startsWith("KEEP_STATISTICS cannot hold for the imported module"))
                .singleElement().asString().contains("torch.jit.trace");

        FineTuneResult headOnly = fit(Stage.headOnly().withEpochs(1).withBatchNormPolicy(BatchNormPolicy.KEEP_STATISTICS));
        assertThat(headOnly.warnings()).noneMatch(w -> w.contains("KEEP_STATISTICS"));
    }
}
