package dev.finetune.core.groups;

import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.nn.ParameterList;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;

/** Groups derived from dotted parameter names, as TorchScript exports name them (shapes only). */
class LayerGroupsTest {

    private static ParameterList params(Object... nameShape) {
        ParameterList list = new ParameterList();
        for (int i = 0; i < nameShape.length; i += 2) {
            String name = (String) nameShape[i];
            list.add(name, Parameter.builder().setName(name).setType(Parameter.Type.OTHER)
                    .optShape((Shape) nameShape[i + 1]).build());
        }
        return list;
    }

    private static List<String> names(LayerGroups g) {
        return g.asList().stream().map(LayerGroup::name).collect(Collectors.toList());
    }

    @Test
    void resnetNamesGiveStemFourStagesAndHead() {
        ParameterList p = params(
                "conv1.weight", new Shape(64, 3, 7, 7), "bn1.weight", new Shape(64), "bn1.bias", new Shape(64),
                "layer1.0.conv1.weight", new Shape(64, 64, 3, 3), "layer1.1.conv1.weight", new Shape(64, 64, 3, 3),
                "layer2.0.conv1.weight", new Shape(128, 64, 3, 3), "layer2.1.conv1.weight", new Shape(128, 128, 3, 3),
                "layer3.0.conv1.weight", new Shape(256, 128, 3, 3), "layer3.1.conv1.weight", new Shape(256, 256, 3, 3),
                "layer4.0.conv1.weight", new Shape(512, 256, 3, 3), "layer4.1.conv1.weight", new Shape(512, 512, 3, 3),
                "fc.weight", new Shape(10, 512), "fc.bias", new Shape(10));
        LayerGroups g = LayerGroups.byParameterNames(p);
        assertThat(names(g)).containsExactly("stem", "layer1", "layer2", "layer3", "layer4", "head");
        assertThat(g.get(0).parameters()).hasSize(3);
        assertThat(g.head().parameters()).extracting(x -> x.getKey()).containsExactly("fc.weight", "fc.bias");
    }

    @Test
    void dominatingContainersAreSplitByTheirIndex() {
        // EfficientNet: almost everything sits under features.N
        ParameterList p = params(
                "features.0.0.weight", new Shape(32, 3, 3, 3),
                "features.1.0.block.0.0.weight", new Shape(32, 1, 3, 3),
                "features.2.0.block.0.0.weight", new Shape(96, 16, 1, 1),
                "features.3.0.block.0.0.weight", new Shape(144, 24, 1, 1),
                "features.4.0.block.0.0.weight", new Shape(480, 80, 3, 3),
                "classifier.1.weight", new Shape(10, 1280), "classifier.1.bias", new Shape(10));
        assertThat(names(LayerGroups.byParameterNames(p)))
                .containsExactly("features.0", "features.1", "features.2", "features.3", "features.4", "head");
        // ViT: encoder.layers.encoder_layer_N is two levels down
        ParameterList vit = params(
                "class_token", new Shape(1, 1, 768), "conv_proj.weight", new Shape(768, 3, 16, 16),
                "encoder.pos_embedding", new Shape(1, 197, 768),
                "encoder.layers.encoder_layer_0.mlp.0.weight", new Shape(3072, 768),
                "encoder.layers.encoder_layer_1.mlp.0.weight", new Shape(3072, 768),
                "encoder.layers.encoder_layer_2.mlp.0.weight", new Shape(3072, 768),
                "encoder.ln.weight", new Shape(768),
                "heads.head.weight", new Shape(10, 768), "heads.head.bias", new Shape(10));
        assertThat(names(LayerGroups.byParameterNames(vit))).containsExactly(
                "stem", "encoder.layers.encoder_layer_0",
                "encoder.layers.encoder_layer_1", "encoder.layers.encoder_layer_2", "encoder.ln", "head");
    }
}
