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
import dev.finetune.core.features.FeatureCache;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** Stages on cached outputs of their frozen prefix: same training, no prefix passes after the first, in memory or mapped. */
class FeatureCacheTest {

    /** Passes inputs through and counts the samples that went through it (not shape inference). */
    private static final class Counter extends AbstractBlock {
        int forwards;

        @Override
        protected NDList forwardInternal(ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
            forwards += (int) inputs.head().getShape().get(0);
            return inputs;
        }

        @Override
        public Shape[] getOutputShapes(Shape[] inputShapes) {
            return inputShapes;
        }
    }

    private record Run(FineTuneResult result, float[][] trainedWeights, int prefixPasses) {}

    /**
     * Fine-tunes [counter, pretrained children...] with one stage. The counter sits before the
     * first child, or before child {@code counterBefore} of the pretrained net.
     */
    private static Run run(Stage stage, boolean cache, long memoryLimit, Path dir, int counterBefore) throws Exception {
        try (Model model = SourceModel.pretrained(); NDManager data = NDManager.newBaseManager()) {
            Counter counter = new Counter();
            SequentialBlock net = new SequentialBlock();
            var children = model.getBlock().getChildren().values();
            for (int c = 0; c < children.size(); c++) {
                if (c == counterBefore) {
                    net.add(counter);
                }
                net.add(children.get(c));
            }
            var sets = FashionMnist.trainVal(data, SourceModel.TARGET, 20, 10, 20, 61);
            FineTuner tuner = FineTuner.from(net).replaceHead(SourceModel.TARGET.length).optProgress(false)
                    .optFeatureCache(cache).optFeatureCacheMemoryLimit(memoryLimit).stage(stage);
            if (dir != null) {
                tuner.optFeatureCacheDirectory(dir);
            }
            FineTuneResult r = tuner.fit(sets.train(), sets.validation());
            LayerGroups groups = LayerGroups.of(net);
            float[][] trained = new float[2][];
            trained[0] = groups.head().parameters().get(0).getValue().getArray().toFloatArray();
            trained[1] = groups.get(groups.size() - 2).parameters().get(0).getValue().getArray().toFloatArray();
            return new Run(r, trained, counter.forwards);
        }
    }

    private static void assertSameTraining(Run cached, Run plain, int epochs) {
        for (int w = 0; w < 2; w++) {
            assertThat(cached.trainedWeights()[w]).hasSameSizeAs(plain.trainedWeights()[w]);
            for (int i = 0; i < plain.trainedWeights()[w].length; i++) {
                assertThat((double) cached.trainedWeights()[w][i]).isCloseTo(plain.trainedWeights()[w][i], within(1e-5));
            }
        }
        for (int e = 0; e < epochs; e++) {
            assertThat(cached.result().epochs().get(e).validationAccuracy())
                    .isEqualTo(plain.result().epochs().get(e).validationAccuracy());
            assertThat(cached.result().epochs().get(e).trainLoss())
                    .isCloseTo(plain.result().epochs().get(e).trainLoss(), within(1e-5));
        }
    }

    /** The pretrained source model without its head. */
    private static SequentialBlock backbone(Model model) {
        SequentialBlock backbone = new SequentialBlock();
        var children = model.getBlock().getChildren().values();
        for (int c = 0; c < children.size() - 1; c++) {
            backbone.add(children.get(c));
        }
        return backbone;
    }

    private static final Stage HEAD_ONLY = Stage.headOnly().withEpochs(3).withLearningRate(1e-2);

    @Test
    void cachedHeadOnlyTrainsTheSameHeadWithoutRunningTheBackboneEachEpoch() throws Exception {
        Run plain = run(HEAD_ONLY, false, Long.MAX_VALUE, null, 0);
        Run cached = run(HEAD_ONLY, true, Long.MAX_VALUE, null, 0);
        // 100 training images in 5 batches and 50 validation images in 1 batch, 3 epochs
        assertThat(plain.prefixPasses()).as("samples through the backbone").isEqualTo(3 * (100 + 50));
        assertThat(cached.prefixPasses()).as("each sample once, before the first epoch").isEqualTo(100 + 50);
        assertSameTraining(cached, plain, 3);
    }

    @Test
    void partialStageCachesUpToItsLastFrozenGroup() throws Exception {
        // partial(1): the last conv block and the head train; the counter sits after the three frozen blocks
        Stage partial = Stage.partial(1).withEpochs(3).withLearningRate(3e-3);
        Run plain = run(partial, false, Long.MAX_VALUE, null, 3);
        Run cached = run(partial, true, Long.MAX_VALUE, null, 3);
        assertThat(plain.prefixPasses()).isEqualTo(3 * (100 + 50));
        assertThat(cached.prefixPasses()).as("the frozen prefix saw each sample once; the counter is its last child")
                .isEqualTo(100 + 50);
        assertSameTraining(cached, plain, 3);
    }

    @Test
    void cacheOverTheMemoryLimitIsAMemoryMappedFileThatGivesTheSameTraining(@TempDir Path dir) throws Exception {
        Run memory = run(HEAD_ONLY, true, Long.MAX_VALUE, null, 0);
        Run mapped = run(HEAD_ONLY, true, 0, dir, 0);
        assertThat(mapped.prefixPasses()).isEqualTo(100 + 50);
        assertSameTraining(mapped, memory, 3);
        try (var files = Files.list(dir)) {
            assertThat(files).as("cache files are deleted at the end of the stage").isEmpty();
        }
        try (Model model = SourceModel.pretrained(); NDManager data = NDManager.newBaseManager()) {
            SequentialBlock backbone = backbone(model);
            var sets = FashionMnist.trainVal(data, SourceModel.TARGET, 20, 10, 20, 61);
            try (FeatureCache inMemory = FeatureCache.compute(backbone, model.getNDManager(), sets.train(), 64);
                    FeatureCache onDisk = FeatureCache.compute(backbone, model.getNDManager(), sets.train(), 64, 1000, dir)) {
                assertThat(inMemory.onDisk()).isFalse();
                assertThat(onDisk.onDisk()).isTrue();
                assertThat(onDisk.file()).exists().hasSize(100L * 64 * Float.BYTES);
                assertThat(onDisk.rows()).isDeepEqualTo(inMemory.rows());
                assertThat(onDisk.labels()).containsExactly(inMemory.labels());
                assertThat(onDisk.sampleShape()).isEqualTo(new Shape(64));
            }
            try (var files = Files.list(dir)) {
                assertThat(files).isEmpty();
            }
        }
    }

    @Test
    void bfloat16FeaturesTakeHalfTheBytesAndReadBackAsTheFloat32OnesRounded(@TempDir Path dir) throws Exception {
        try (Model model = SourceModel.pretrained(); NDManager data = NDManager.newBaseManager()) {
            SequentialBlock backbone = backbone(model);
            var sets = FashionMnist.trainVal(data, SourceModel.TARGET, 20, 10, 20, 61);
            try (FeatureCache fp32 = FeatureCache.compute(backbone, model.getNDManager(), sets.train(), 64);
                    FeatureCache heap = FeatureCache.compute(backbone, model.getNDManager(), sets.train(), 64,
                            Long.MAX_VALUE, null, true);
                    FeatureCache file = FeatureCache.compute(backbone, model.getNDManager(), sets.train(), 64, 1000,
                            dir, true)) {
                assertThat(heap.bytes()).isEqualTo(fp32.bytes() / 2);
                assertThat(heap.onDisk()).isFalse();
                assertThat(file.onDisk()).isTrue();
                assertThat(file.file()).hasSize(100L * 64 * 2);
                float[][] exact = fp32.rows();
                float[][] rounded = heap.rows();
                for (int i = 0; i < exact.length; i++) {
                    for (int j = 0; j < exact[i].length; j++) {
                        float expected = Float.intBitsToFloat(
                                dev.finetune.core.internal.TorchScriptCast.bfloat16(exact[i][j]) << 16);
                        if (rounded[i][j] != expected) {
                            throw new AssertionError("row " + i + " feature " + j + ": " + rounded[i][j]
                                    + " is not " + exact[i][j] + " rounded to bfloat16");
                        }
                    }
                }
                assertThat(file.rows()).isDeepEqualTo(rounded);
                assertThat(heap.labels()).containsExactly(fp32.labels());
                try (NDManager m = NDManager.newBaseManager()) {
                    var batch = heap.dataset(100, false).getData(m).iterator().next();
                    assertThat(batch.getData().head().getDataType()).isEqualTo(ai.djl.ndarray.types.DataType.FLOAT32);
                    assertThat(batch.getData().head().getShape()).isEqualTo(new Shape(100, 64));
                    batch.close();
                }
            }
        }
    }
}
