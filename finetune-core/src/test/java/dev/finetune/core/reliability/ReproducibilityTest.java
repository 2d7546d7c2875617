package dev.finetune.core.reliability;

import ai.djl.Model;
import ai.djl.ndarray.NDManager;
import dev.finetune.core.FineTuner;
import dev.finetune.core.checkpoint.Checkpoint;
import dev.finetune.core.fixtures.FashionMnist;
import dev.finetune.core.fixtures.ResumableFit;
import dev.finetune.core.fixtures.SourceModel;
import dev.finetune.core.result.FineTuneResult;
import dev.finetune.core.stage.Stage;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The same seed, data and plan give the same result, recorded with its seed and plan; two fits in
 * two threads of one JVM give exactly what they give one after the other.
 */
class ReproducibilityTest {

    private static final List<Stage> PLAN = List.of(Stage.headOnly().withEpochs(2).withLearningRate(1e-2),
            Stage.discriminative(2.6).withEpochs(2).withLearningRate(3e-3));

    /** One fit: a summary of every epoch's metrics and a hash of the final weights. */
    private static String fit(int[] classes, long dataSeed, long seed, Path checkpoint) throws Exception {
        try (Model model = SourceModel.pretrained(); NDManager data = NDManager.newBaseManager()) {
            var sets = FashionMnist.trainVal(data, classes, 20, 10, 20, dataSeed);
            FineTuner t = FineTuner.from(model).replaceHead(classes.length).optProgress(false).optSeed(seed);
            if (checkpoint != null) {
                t.optCheckpoint(checkpoint);
            }
            for (Stage s : PLAN) {
                t.stage(s);
            }
            FineTuneResult r = t.fit(sets.train(), sets.validation());
            return ResumableFit.summary(r, t.block());
        }
    }

    @Test
    void theSameSeedGivesTheSameResultAndTheSeedAndPlanAreRecorded(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("best.ckpt");
        String first = fit(SourceModel.TARGET, 3, 11, file);
        String second = fit(SourceModel.TARGET, 3, 11, null);
        String otherSeed = fit(SourceModel.TARGET, 3, 12, null);
        assertThat(second).isEqualTo(first);
        assertThat(otherSeed).isNotEqualTo(first);
        Checkpoint.Metadata meta = Checkpoint.load(file).metadata();
        assertThat(meta.seed()).isEqualTo(11);
        assertThat(meta.stagePlan()).hasSize(2);
        assertThat(meta.stagePlan().get(0)).contains("head-only").contains("lr=0.01");
        assertThat(meta.stagePlan().get(1)).contains("discriminative");
    }

    @Test
    void twoFitsInTwoThreadsEqualTheSameFitsRunOneAfterTheOther() throws Exception {
        SourceModel.pretrained().close();
        int[] other = {0, 1, 3, 5, 8};
        Callable<String> a = () -> fit(SourceModel.TARGET, 5, 21, null);
        Callable<String> b = () -> fit(other, 6, 22, null);
        String sequentialA = a.call();
        String sequentialB = b.call();
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            List<String> concurrentA = new ArrayList<>();
            List<String> concurrentB = new ArrayList<>();
            for (int round = 0; round < 2; round++) {
                Future<String> fa = pool.submit(a);
                Future<String> fb = pool.submit(b);
                concurrentA.add(fa.get());
                concurrentB.add(fb.get());
            }
            assertThat(concurrentA).containsOnly(sequentialA);
            assertThat(concurrentB).containsOnly(sequentialB);
        } finally {
            pool.shutdownNow();
        }
        System.out.println("RELIABILITY concurrency: 2 rounds of 2 concurrent fits equal their sequential runs bit for bit");
    }
}
