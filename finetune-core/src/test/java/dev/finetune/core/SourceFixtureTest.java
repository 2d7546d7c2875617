package dev.finetune.core;

import ai.djl.Model;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.training.ParameterStore;
import ai.djl.training.dataset.ArrayDataset;
import ai.djl.training.dataset.Batch;
import dev.finetune.core.fixtures.FashionMnist;
import dev.finetune.core.fixtures.SourceModel;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The committed source model is what the fine-tuning tests take it for: the committed file (its
 * hash is checked on every load), and a model pretrained on the source classes, measured here by
 * plain DJL inference on the Fashion-MNIST test split, which its training never saw, without the
 * library's training or evaluation code.
 */
class SourceFixtureTest {

    @Test
    void theCommittedSourceModelClassifiesHeldOutSourceImages() throws Exception {
        FashionMnist.Split test = FashionMnist.test();
        List<Integer> picked = FashionMnist.pick(test, SourceModel.SOURCE, 200, 0, 5);
        try (Model model = SourceModel.pretrained(); NDManager data = NDManager.newBaseManager()) {
            ArrayDataset set = FashionMnist.dataset(data, test, picked, SourceModel.SOURCE, picked.size(), false);
            try (Batch b = set.getData(data).iterator().next()) {
                NDList out = model.getBlock().forward(new ParameterStore(model.getNDManager(), false),
                        new NDList(b.getData().head()), false);
                NDArray predicted = out.head().argMax(1).toType(ai.djl.ndarray.types.DataType.INT64, false);
                NDArray truth = b.getLabels().head().toType(ai.djl.ndarray.types.DataType.INT64, false);
                double accuracy = predicted.eq(truth).sum().getLong() / (double) picked.size();
                System.out.printf("source fixture: accuracy %.4f on %d held-out test images of the source classes%n",
                        accuracy, picked.size());
                // chance is 0.2; the five source classes are easy apart (a CNN reaches about 0.95)
                assertThat(accuracy).isGreaterThan(0.85);
            }
        }
    }
}
