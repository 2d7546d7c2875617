package dev.finetune.vision.export;

import ai.djl.Model;
import ai.djl.nn.Block;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The block layouts an export writes are the ones its block factory rebuilds, and a broken one is named. */
class BlockLayoutTest {

    private static final Path DIR = Path.of("export-dir");

    @Test
    void everyLayoutRebuildsToTheSameLayout() {
        TorchScriptClassifierBlockFactory factory = new TorchScriptClassifierBlockFactory();
        try (Model model = Model.newInstance("layout", "PyTorch")) {
            for (String layout : new String[] {"torchscript", "torchscript+linear", "torchscript+sqrt-l2+linear",
                    "mirror(torchscript)+linear", "mirror(torchscript+sqrt-l2)+linear", "tta[identity](torchscript)",
                    "tta[mirror](torchscript+linear)", "tta[crops=0.5](torchscript+linear)",
                    "tta[mirror,crops=0.875](mirror(torchscript+sqrt-l2)+linear)"}) {
                Block block = factory.newBlock(model, DIR, Map.of(TorchScriptClassifierBlockFactory.LAYOUT, layout));
                assertThat(TorchScriptClassifierBlockFactory.layoutOf(block)).as(layout).isEqualTo(layout);
            }
        }
    }

    @Test
    void aBrokenOrUnknownLayoutIsNamedInTheError() {
        TorchScriptClassifierBlockFactory factory = new TorchScriptClassifierBlockFactory();
        try (Model model = Model.newInstance("layout", "PyTorch")) {
            for (String layout : new String[] {"mirror(torchscript+linear", "torchscript+softmax", "", "torchscript)+linear",
                    "tta[flip](torchscript)", "tta[crops=1.5](torchscript)", "tta[mirror,mirror](torchscript)",
                    "tta[mirror](torchscript", "tta[](torchscript)", "tta[crops=x](torchscript)"}) {
                assertThatThrownBy(() -> factory.newBlock(model, DIR,
                        Map.of(TorchScriptClassifierBlockFactory.LAYOUT, layout)))
                        .as(layout).isInstanceOf(IllegalArgumentException.class)
                        .hasMessageContaining("finetune.layout=" + layout).hasMessageContaining("torchscript+linear");
            }
        }
    }
}
