package dev.finetune.vision.export;

import ai.djl.Model;
import dev.finetune.vision.backbone.TorchScriptBackbone;
import dev.finetune.vision.fixtures.TorchScriptFixtures;
import dev.finetune.vision.bottleneck.LinearClassifier;
import dev.finetune.vision.bottleneck.LinearModels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Class names that do not match the head are refused at export (issue 14, point 4): two names for
 * three classes used to serve predictions that dropped the third class, four failed only at predict.
 */
class ExportClassNamesTest {

    private static final Path EMBEDDING = TorchScriptFixtures.EMBEDDING;
    private static final ClassifierExport.Preprocessing PREPROCESSING =
            new ClassifierExport.Preprocessing(32, 32, false, false, null, null);

    @TempDir
    Path dir;

    /** A three-class linear head on the 64 features of the embedding; its weights do not matter to these tests. */
    static LinearClassifier threeClassHead() {
        Random random = new Random(1);
        float[][] x = new float[30][64];
        int[] y = new int[30];
        for (int i = 0; i < x.length; i++) {
            y[i] = i % 3;
            for (int j = 0; j < 64; j++) {
                x[i][j] = random.nextFloat() + (j == y[i] ? 2 : 0);
            }
        }
        return LinearModels.logisticRegression().train(x, y, 3, 1);
    }

    @Test
    void classNamesMustMatchTheHeadsOutputs() throws Exception {
        LinearClassifier head = threeClassHead();
        try (Model model = TorchScriptBackbone.load(EMBEDDING)) {
            BottleneckHead.attach(model, head, PREPROCESSING);
            for (List<String> names : List.of(List.of("a", "b"), List.of("a", "b", "c", "d"))) {
                assertThatThrownBy(() -> ClassifierExport.save(model, dir.resolve("x" + names.size()), "m", names, PREPROCESSING))
                        .isInstanceOf(IllegalArgumentException.class)
                        .hasMessageContaining("outputs 3 classes but " + names.size() + " class names");
                assertThat(dir.resolve("x" + names.size()).resolve("m-0000.params")).doesNotExist();
            }
            ClassifierExport.save(model, dir.resolve("ok"), "m", List.of("a", "b", "c"), PREPROCESSING);
            assertThat(dir.resolve("ok").resolve("synset.txt")).hasContent("a\nb\nc");
        }
    }
}
