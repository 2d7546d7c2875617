package dev.finetune.core;

import ai.djl.Model;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Block;
import ai.djl.nn.SequentialBlock;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import dev.finetune.core.fixtures.FashionMnist;
import dev.finetune.core.fixtures.SourceModel;
import dev.finetune.core.groups.LayerGroups;
import dev.finetune.core.result.FineTuneResult;
import dev.finetune.core.stage.Stage;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** Head-only stages on cached backbone outputs: same head, no backbone passes after the first. */
class FeatureCacheTest {

    /** Passes inputs through and counts forward passes (not shape inference). */
    private static final class Counter extends AbstractBlock {
        int forwards;

        @Override
        protected NDList forwardInternal(ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
            forwards++;
            return inputs;
        }

        @Override
        public Shape[] getOutputShapes(Shape[] inputShapes) {
            return inputShapes;
        }
    }

    private record Run(FineTuneResult result, float[] headWeight, int backbonePasses) {}

    private static Run run(boolean cache) throws Exception {
        try (Model model = SourceModel.pretrained(); NDManager data = NDManager.newBaseManager()) {
            Counter counter = new Counter();
            SequentialBlock net = new SequentialBlock().add(counter);
            for (Block child : model.getBlock().getChildren().values()) {
                net.add(child);
            }
            var sets = FashionMnist.trainVal(data, SourceModel.TARGET, 20, 10, 20, 61);
            FineTuneResult r = FineTuner.from(net).replaceHead(SourceModel.TARGET.length).optProgress(false)
                    .optFeatureCache(cache)
                    .stage(Stage.headOnly().withEpochs(3).withLearningRate(1e-2))
                    .fit(sets.train(), sets.validation());
            float[] head = LayerGroups.of(net).head().parameters().get(0).getValue().getArray().toFloatArray();
            return new Run(r, head, counter.forwards);
        }
    }

    @Test
    void cachedHeadOnlyTrainsTheSameHeadWithoutRunningTheBackboneEachEpoch() throws Exception {
        Run plain = run(false);
        Run cached = run(true);
        // 100 training images in 5 batches and 50 validation images in 1 batch, 3 epochs
        assertThat(plain.backbonePasses()).isEqualTo(3 * (5 + 1));
        assertThat(cached.backbonePasses()).as("one pass per 256-sample chunk, before the first epoch").isEqualTo(2);
        assertThat(cached.headWeight()).hasSameSizeAs(plain.headWeight());
        for (int i = 0; i < plain.headWeight().length; i++) {
            assertThat((double) cached.headWeight()[i]).isCloseTo(plain.headWeight()[i], within(1e-5));
        }
        for (int e = 0; e < 3; e++) {
            assertThat(cached.result().epochs().get(e).validationAccuracy())
                    .isEqualTo(plain.result().epochs().get(e).validationAccuracy());
            assertThat(cached.result().epochs().get(e).trainLoss())
                    .isCloseTo(plain.result().epochs().get(e).trainLoss(), within(1e-5));
        }
    }
}
