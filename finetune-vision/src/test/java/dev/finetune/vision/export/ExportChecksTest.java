package dev.finetune.vision.export;

import ai.djl.Model;
import dev.finetune.core.FineTuner;
import dev.finetune.core.head.HeadReplacer;
import dev.finetune.vision.backbone.TorchScriptBackbone;
import dev.finetune.vision.bottleneck.LinearClassifier;
import dev.finetune.vision.fixtures.TorchScriptFixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Issue 14, points 10 and 11: an export that cannot serve is refused when it is saved, not at the
 * first prediction: a grey preprocessing for an RGB backbone, and a head that was never fitted
 * (which surfaced a raw DJL error).
 */
class ExportChecksTest {

    @TempDir
    Path dir;

    @Test
    void aGreyPreprocessingForAnRgbBackboneIsRefusedAtSave() throws Exception {
        LinearClassifier head = ExportClassNamesTest.threeClassHead();
        ClassifierExport.Preprocessing rgb = new ClassifierExport.Preprocessing(32, 32, false, false, null, null);
        ClassifierExport.Preprocessing grey = new ClassifierExport.Preprocessing(32, 32, true, false, null, null);
        try (Model model = TorchScriptBackbone.load(TorchScriptFixtures.EMBEDDING)) {
            BottleneckHead.attach(model, head, rgb);
            assertThatThrownBy(() -> ClassifierExport.save(model, dir.resolve("grey"), "m", List.of("a", "b", "c"), grey))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("cannot run on the input the preprocessing gives, (1, 1, 32, 32) (grey)")
                    .hasMessageContaining("3 channels");
            assertThat(dir.resolve("grey")).doesNotExist();
            ClassifierExport.save(model, dir.resolve("rgb"), "m", List.of("a", "b", "c"), rgb);
            assertThat(dir.resolve("rgb").resolve("synset.txt")).exists();
        }
    }

    @Test
    void aHeadThatWasNeverFittedIsRefusedAtSave() throws Exception {
        ClassifierExport.Preprocessing rgb = new ClassifierExport.Preprocessing(32, 32, false, false, null, null);
        try (Model model = TorchScriptBackbone.load(TorchScriptFixtures.EMBEDDING)) {
            // a head appended to the headless backbone has no values before fit
            FineTuner.from(model).replaceHead(3, HeadReplacer.append()).block();
            assertThatThrownBy(() -> ClassifierExport.save(model, dir.resolve("unfitted"), "m", List.of("a", "b", "c"), rgb))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("has no value yet")
                    .hasMessageContaining("fit the model");
            assertThat(dir.resolve("unfitted")).doesNotExist();
        }
    }
}
