package dev.finetune.vision.data;

import ai.djl.Model;
import ai.djl.modality.cv.Image;
import ai.djl.ndarray.NDManager;
import ai.djl.translate.Transform;
import dev.finetune.core.FineTuner;
import dev.finetune.core.fixtures.SourceModel;
import dev.finetune.core.fixtures.Weights;
import dev.finetune.core.result.EpochMetrics;
import dev.finetune.core.result.FineTuneResult;
import dev.finetune.core.stage.Stage;
import dev.finetune.core.internal.DataLoaderPool;
import dev.finetune.vision.transform.ImagePipeline;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Image folders read on data loader threads while the model trains, and the pipeline measured alone. */
class DataLoaderThreadsTest {

    @TempDir
    Path dir;

    /** Names of the threads that transformed images. */
    private final Set<String> transformThreads = ConcurrentHashMap.newKeySet();

    private ImageDataset images(Path root, int batchSize, boolean shuffle) throws IOException {
        ImagePipeline pipeline = ImagePipeline.builder().setSize(28).optEvalResize(28).optGrey(true).build();
        Transform recordThread = array -> {
            transformThreads.add(Thread.currentThread().getName());
            return array;
        };
        return ImageDataset.builder().setCatalog(ImageCatalog.scan(root)).optFlag(Image.Flag.GRAYSCALE)
                .optPipeline(pipeline.evaluation().add(recordThread)).setSampling(batchSize, shuffle).build();
    }

    /** Real Fashion-MNIST items of the fixture's five target classes as PNG class folders. */
    private Path folder(String name, int perClass, long seed) throws IOException {
        Path root = dir.resolve(name);
        int[] counts = new int[SourceModel.TARGET.length];
        java.util.Arrays.fill(counts, perClass);
        ImageFolders.fashion(root, SourceModel.TARGET, counts, seed);
        return root;
    }

    private static FineTuner plan(Model model, int threads) {
        return FineTuner.from(model).replaceHead(SourceModel.TARGET.length).optProgress(false)
                .optDataLoaderThreads(threads)
                .stage(Stage.headOnly().withEpochs(2).withLearningRate(1e-2))
                .stage(Stage.partial(1).withEpochs(1));
    }

    /** Arrays held by every open manager (children of DJL's system manager). */
    private static long liveArrays() {
        try (NDManager probe = NDManager.newBaseManager()) {
            return probe.getParentManager().getManagedArrays().size();
        }
    }

    private static long loaderThreads() {
        return Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.getName().startsWith(DataLoaderPool.THREAD_NAME_PREFIX) && t.isAlive())
                .count();
    }

    @Test
    @Timeout(value = 3, unit = TimeUnit.MINUTES)
    void twoLoaderThreadsTrainExactlyLikeTheCallingThreadWithoutAugmentation() throws Exception {
        Path train = folder("train", 16, 1);
        Path validation = folder("validation", 8, 2);
        FineTuneResult[] results = new FineTuneResult[2];
        List<Map<String, float[]>> weights = new java.util.ArrayList<>();
        long[] arraysLeft = new long[2];
        int[] threads = {0, 2};
        for (int i = 0; i < 2; i++) {
            transformThreads.clear();
            try (Model model = SourceModel.pretrained()) {
                FineTuner tuner = plan(model, threads[i]);
                long before = liveArrays();
                results[i] = tuner.fit(images(train, 16, true), images(validation, 20, false));
                arraysLeft[i] = liveArrays() - before;
                weights.add(Weights.snapshot(model.getBlock()));
            }
            if (threads[i] == 0) {
                assertThat(transformThreads).containsExactly(Thread.currentThread().getName());
            } else { // decoding and transforming ran on the workers (the first-batch peek aside)
                assertThat(transformThreads).filteredOn(n -> n.startsWith(DataLoaderPool.THREAD_NAME_PREFIX))
                        .hasSize(2);
            }
            assertThat(loaderThreads()).as("loader threads after fit returned (%d threads)", threads[i]).isZero();
        }
        List<EpochMetrics> serial = results[0].epochs();
        List<EpochMetrics> parallel = results[1].epochs();
        assertThat(parallel).hasSize(3).hasSameSizeAs(serial);
        for (int e = 0; e < serial.size(); e++) {
            assertThat(parallel.get(e).trainLoss()).as("train loss, epoch %d", e + 1).isEqualTo(serial.get(e).trainLoss());
            assertThat(parallel.get(e).trainAccuracy()).isEqualTo(serial.get(e).trainAccuracy());
            assertThat(parallel.get(e).validationLoss()).as("val loss, epoch %d", e + 1)
                    .isEqualTo(serial.get(e).validationLoss());
            assertThat(parallel.get(e).validationAccuracy()).isEqualTo(serial.get(e).validationAccuracy());
        }
        assertThat(results[1].bestEpoch().epoch()).isEqualTo(results[0].bestEpoch().epoch());
        assertThat(weights.get(1).keySet()).isEqualTo(weights.get(0).keySet());
        for (String name : weights.get(0).keySet()) {
            assertThat(weights.get(1).get(name)).as(name).containsExactly(weights.get(0).get(name));
        }
        // batches read ahead are all released: the fit leaves as many native arrays (the new head) either way
        assertThat(arraysLeft[1]).as("arrays left by a fit with loader threads").isEqualTo(arraysLeft[0]);
        // the fine-tune learnt something (so equal results are not two failures to train)
        assertThat(results[0].bestEpoch().validationAccuracy()).isGreaterThan(0.4);
    }

    @Test
    @Timeout(value = 2, unit = TimeUnit.MINUTES)
    void aCorruptFileFoundByAWorkerFailsTheFitNamingItAndStopsTheThreads() throws Exception {
        Path train = folder("train", 8, 3);
        Path validation = folder("validation", 4, 4);
        ImageDataset trainData = images(train, 8, true); // scanned while the file was good
        Path broken;
        try (var files = Files.walk(train)) {
            broken = files.filter(p -> p.toString().endsWith(".png")).sorted().skip(17).findFirst().orElseThrow();
        }
        byte[] bytes = Files.readAllBytes(broken);
        Files.write(broken, java.util.Arrays.copyOf(bytes, bytes.length / 3)); // truncated after the header

        try (Model model = SourceModel.pretrained()) {
            assertThatThrownBy(() -> plan(model, 2).fit(trainData, images(validation, 20, false)))
                    .hasMessageContaining(broken.getFileName().toString());
        }
        assertThat(loaderThreads()).as("loader threads after fit threw").isZero();

        // the pipeline measured alone reports the same file
        assertThatThrownBy(() -> PipelineThroughput.measure(trainData, 2, 20))
                .isInstanceOf(IOException.class)
                .hasMessageContaining(broken.getFileName().toString());
        assertThat(loaderThreads()).isZero();
    }

    @Test
    void pipelineThroughputReadsBatchesWithoutAModel() throws Exception {
        ImageDataset data = images(folder("train", 8, 5), 8, true);
        // 12 batches: more than one pass over the 5 batches of 40 images, and a pass left unfinished
        double serial = PipelineThroughput.measure(data, 0, 12);
        double parallel = PipelineThroughput.measure(data, 2, 12);
        assertThat(serial).isPositive().isFinite();
        assertThat(parallel).isPositive().isFinite();
        assertThat(loaderThreads()).isZero();
        assertThatThrownBy(() -> PipelineThroughput.measure(data, 2, 0))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("at least 1 batch");
    }
}
