package dev.finetune.examples;

import ai.djl.Model;
import ai.djl.ndarray.NDManager;
import ai.djl.training.dataset.ArrayDataset;
import dev.finetune.core.advice.Advice;
import dev.finetune.core.advice.Recommendation;
import dev.finetune.core.advice.TransferAdvisor;
import dev.finetune.core.compare.ComparisonReport;
import dev.finetune.vision.backbone.TorchScriptBackbone;
import dev.finetune.vision.data.IdxImages;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** The main job on small settings, and the paper's distance on real near and far targets. */
class TransferStudyTest {

    @Test
    void mnistDigitsAreFartherFromTheFashionSourceThanTheOtherFashionClasses() throws Exception {
        IdxImages fashion = IdxImages.readSplit(StudyData.FASHION, true);
        IdxImages mnist = IdxImages.readSplit(StudyData.mnist(), true);
        try (Model backbone = TorchScriptBackbone.load(FolderFineTune.sourceBackbone());
                NDManager data = NDManager.newBaseManager()) {
            ArrayDataset source = StudyData.dataset(fashion, fashion.sample(FashionTransfer.SOURCE, 50, 0, 1),
                    FashionTransfer.SOURCE, data, 250, false);
            ArrayDataset sourceAgain = StudyData.dataset(fashion, fashion.sample(FashionTransfer.SOURCE, 50, 50, 1),
                    FashionTransfer.SOURCE, data, 250, false);
            ArrayDataset near = StudyData.dataset(fashion, fashion.sample(FashionTransfer.TARGET, 50, 0, 1),
                    FashionTransfer.TARGET, data, 250, false);
            ArrayDataset far = StudyData.dataset(mnist, mnist.sample(TransferStudy.DIGITS, 50, 0, 1),
                    TransferStudy.DIGITS, data, 250, false);
            Advice self = TransferAdvisor.measure(backbone.getBlock(), backbone.getNDManager(), source, sourceAgain, 5);
            Advice nearAdvice = TransferAdvisor.measure(backbone.getBlock(), backbone.getNDManager(), source, near, 5);
            Advice farAdvice = TransferAdvisor.measure(backbone.getBlock(), backbone.getNDManager(), source, far, 5);
            System.out.printf("cosine distance: source vs source %.4f, Fashion target %.4f, MNIST %.4f%n",
                    self.distance(), nearAdvice.distance(), farAdvice.distance());
            assertThat(self.distance()).isLessThan(nearAdvice.distance());
            assertThat(farAdvice.distance()).isGreaterThan(5 * nearAdvice.distance());
            assertThat(nearAdvice.imagesPerClass()).isEqualTo(50);
        }
    }

    @Test
    void oneSmallSettingGivesAdviceAComparisonAndItsFiles(@TempDir Path out) throws Exception {
        IdxImages fashion = IdxImages.readSplit(StudyData.FASHION, true);
        IdxImages fashionTest = IdxImages.readSplit(StudyData.FASHION, false);
        TransferStudy.Settings s = TransferStudy.parse(new String[] {"--seeds", "1", "--epochs", "3", "--out", out.toString()});
        try (NDManager data = NDManager.newBaseManager()) {
            ArrayDataset source = StudyData.dataset(fashion, fashion.sample(FashionTransfer.SOURCE, 40, 0, 5),
                    FashionTransfer.SOURCE, data, 200, false);
            TransferStudy.Finding f = TransferStudy.run("fashion", fashion, fashionTest, FashionTransfer.TARGET, 10,
                    source, s, List.of("a", "b", "c", "d", "e"));
            assertThat(f.advice().recommendation()).isEqualTo(Recommendation.FREEZE);
            ComparisonReport r = f.report();
            assertThat(r.summaries()).hasSize(5);
            assertThat(r.summaries().get(0).trainableParameters()).isEqualTo(325);
            assertThat(r.summaries().get(2).trainableParameters()).isGreaterThan(100_000);
            assertThat(out.resolve("fashion-10.md")).exists();
            assertThat(out.resolve("fashion-10-accuracy-vs-cost.png")).exists();
        }
    }
}
