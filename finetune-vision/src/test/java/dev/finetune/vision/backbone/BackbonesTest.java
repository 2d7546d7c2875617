package dev.finetune.vision.backbone;

import ai.djl.Application;
import ai.djl.MalformedModelException;
import ai.djl.Model;
import ai.djl.modality.Classifications;
import ai.djl.modality.cv.Image;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.core.Linear;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ModelNotFoundException;
import ai.djl.training.ParameterStore;
import ai.djl.training.dataset.ArrayDataset;
import ai.djl.training.dataset.Batch;
import ai.djl.util.Pair;
import dev.finetune.core.FineTuner;
import dev.finetune.core.fixtures.FashionMnist;
import dev.finetune.core.fixtures.Weights;
import dev.finetune.core.groups.LayerGroup;
import dev.finetune.core.groups.LayerGroups;
import dev.finetune.core.result.FineTuneResult;
import dev.finetune.core.plan.BatchNormPolicy;
import dev.finetune.core.stage.Stage;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.FileNotFoundException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** DJL-built ResNet and MobileNetV2 as backbones: groups, head replacement, loading, fine-tuning. */
class BackbonesTest {

    private static final Shape IMAGE = new Shape(1, 28, 28);
    /** Source classes of the small "pretrained" ResNet: T-shirt/top, Trouser, Dress, Sandal, Bag. */
    private static final int[] SOURCE = {0, 1, 3, 5, 8};
    /** Target classes: Pullover, Coat, Shirt, Sneaker, Ankle boot. */
    private static final int[] TARGET = {2, 4, 6, 7, 9};

    @TempDir
    static Path shared;

    @TempDir
    Path dir;

    /** A ResNet-8 trained briefly on the source classes, saved as a DJL model directory. */
    private static Path pretrained;

    @BeforeAll
    static void pretrain() throws Exception {
        pretrained = shared.resolve("resnet8");
        try (Model model = Model.newInstance("resnet8", "PyTorch"); NDManager data = NDManager.newBaseManager()) {
            model.setBlock(Backbones.resnet(8, IMAGE, SOURCE.length));
            var sets = FashionMnist.trainVal(data, SOURCE, 80, 20, 40, 5);
            FineTuner.from(model).optNumClasses(SOURCE.length).optProgress(false).optSeed(5)
                    .stage(Stage.full().withEpochs(1).withLearningRate(3e-3).withBatchNormPolicy(BatchNormPolicy.TRAIN))
                    .fit(sets.train(), sets.validation());
            model.save(pretrained, "resnet8");
        }
    }

    private static List<String> names(LayerGroups groups) {
        return groups.asList().stream().map(LayerGroup::name).collect(Collectors.toList());
    }

    private static long learnableValues(Block block) {
        long n = 0;
        for (Pair<String, Parameter> p : block.getParameters()) {
            if (LayerGroup.isLearnable(p.getValue())) {
                n += p.getValue().getArray().getShape().size();
            }
        }
        return n;
    }

    /** The groups hold every parameter of the block exactly once, under the block's names. */
    private static void assertCoversBlock(LayerGroups groups, Block block) {
        Map<String, Parameter> fromGroups = new java.util.LinkedHashMap<>();
        for (LayerGroup g : groups.asList()) {
            for (Pair<String, Parameter> p : g.parameters()) {
                assertThat(fromGroups.put(p.getKey(), p.getValue())).as("%s in one group", p.getKey()).isNull();
            }
        }
        assertThat(fromGroups.keySet()).containsExactlyElementsOf(block.getParameters().keys());
        for (Pair<String, Parameter> p : block.getParameters()) {
            assertThat(fromGroups.get(p.getKey())).isSameAs(p.getValue());
        }
        assertThat(groups.parameterCount()).isEqualTo(learnableValues(block));
    }

    private static long valuesUnder(Block block, String... childKeys) {
        long n = 0;
        for (Pair<String, Parameter> p : block.getParameters()) {
            for (String key : childKeys) {
                if (p.getKey().startsWith(key + "_") && LayerGroup.isLearnable(p.getValue())) {
                    n += p.getValue().getArray().getShape().size();
                }
            }
        }
        return n;
    }

    @Test
    void resnetGroupsAreStemStagesAndHead() {
        try (NDManager m = NDManager.newBaseManager()) {
            // CIFAR-style ResNet-20: 3x3 stem, three stages of three residual units, head
            SequentialBlock resnet20 = Backbones.resnet(20, IMAGE, 10);
            resnet20.initialize(m, DataType.FLOAT32, new Shape(1, 1, 28, 28));
            LayerGroups groups = Backbones.resnetGroups().apply(resnet20);
            assertThat(names(groups)).containsExactly("stem", "stage1", "stage2", "stage3", "head");
            assertCoversBlock(groups, resnet20);
            assertThat(groups.get(0).parameterCount()).as("stem: 3x3 conv 1->16, no bias").isEqualTo(9 * 16);
            // stage1: 3 units of two 3x3 16->16 convs + 2 BatchNorms, the first with a 1x1 projection + BatchNorm
            assertThat(groups.get(1).parameterCount()).isEqualTo(3 * (2 * 9 * 16 * 16 + 4 * 16) + 16 * 16 + 2 * 16);
            assertThat(groups.get(2).parameterCount()).isEqualTo(valuesUnder(resnet20, "05ParallelBlock", "06ParallelBlock", "07ParallelBlock"));
            assertThat(groups.get(3).parameterCount()).isEqualTo(valuesUnder(resnet20, "08ParallelBlock", "09ParallelBlock", "10ParallelBlock"));
            assertThat(groups.head().parameterCount()).as("Linear 64 -> 10").isEqualTo(64 * 10 + 10);

            // ImageNet layout above 32 pixels: conv/bn/relu/pool stem and four stages
            SequentialBlock resnet18 = Backbones.resnet(18, new Shape(3, 64, 64), 7);
            resnet18.initialize(m, DataType.FLOAT32, new Shape(1, 3, 64, 64));
            LayerGroups groups18 = Backbones.resnetGroups().apply(resnet18);
            assertThat(names(groups18)).containsExactly("stem", "stage1", "stage2", "stage3", "stage4", "head");
            assertCoversBlock(groups18, resnet18);
            assertThat(groups18.get(0).parameterCount()).as("7x7 conv 3->64 + BatchNorm").isEqualTo(7 * 7 * 3 * 64 + 2 * 64);
            assertThat(groups18.head().parameterCount()).isEqualTo(512 * 7 + 7);
        }
        assertThatThrownBy(() -> Backbones.resnet(19, IMAGE, 10))
                .hasMessageContaining("no 19-layer variant")
                .hasMessageContaining("6n+2");
        assertThatThrownBy(() -> Backbones.resnetGroups().apply(Backbones.mobileNetV2(3)))
                .hasMessageContaining("not a ResNetV1");
    }

    @Test
    void mobileNetV2GroupsAndAutoHeadGiveTheNewClassCount() throws Exception {
        try (Model model = Model.newInstance("mobilenet", "PyTorch"); NDManager data = NDManager.newBaseManager()) {
            SequentialBlock net = Backbones.mobileNetV2(10);
            model.setBlock(net);
            net.initialize(model.getNDManager(), DataType.FLOAT32, new Shape(1, 1, 28, 28));
            LayerGroups groups = Backbones.mobileNetV2Groups().apply(net);
            assertThat(names(groups)).containsExactly(
                    "stem", "stage1", "stage2", "stage3", "stage4", "stage5", "stage6", "stage7", "lastconv", "head");
            assertCoversBlock(groups, net);
            assertThat(groups.get(8).parameterCount()).as("1x1 conv 320->1280 + BatchNorm").isEqualTo(320 * 1280 + 2 * 1280);
            assertThat(groups.head().parameterCount()).as("1x1 conv classifier 1280->10").isEqualTo(1280 * 10 + 10);
            Map<String, float[]> before = Weights.snapshot(net);

            FineTuner tuner = FineTuner.from(model).optHeadReplacer(Heads.auto()).replaceHead(3);
            tuner.block().initialize(model.getNDManager(), DataType.FLOAT32, new Shape(1, 1, 28, 28));
            LayerGroups replaced = Backbones.mobileNetV2Groups().apply(tuner.block());
            assertThat(replaced.head().parameterCount()).as("Linear 1280->3").isEqualTo(1280 * 3 + 3);
            assertThat(replaced.get(8).parameters().get(0).getValue()).isSameAs(groups.get(8).parameters().get(0).getValue());

            ArrayDataset images = FashionMnist.dataset(data, FashionMnist.test(),
                    FashionMnist.pick(FashionMnist.test(), TARGET, 2, 0, 3), TARGET, 10, false);
            try (Batch b = images.getData(data).iterator().next()) {
                NDArray out = tuner.block().forward(new ParameterStore(model.getNDManager(), false),
                        new NDList(b.getData().head()), false).head();
                assertThat(out.getShape()).isEqualTo(new Shape(10, 3));
            }
            Map<String, float[]> after = Weights.snapshot(tuner.block());
            for (String name : before.keySet()) {
                if (!name.startsWith("12Conv2d")) {
                    assertThat(after.get(name)).as(name).isEqualTo(before.get(name));
                }
            }
        }
    }

    @Test
    void replacingTheHeadOfALoadedResnetKeepsTheBackboneBitIdentical() throws Exception {
        try (Model model = Backbones.load(pretrained, "resnet8", Backbones.resnet(8, IMAGE, SOURCE.length))) {
            Map<String, float[]> before = Weights.snapshot(model.getBlock());
            String headKey = Backbones.resnetGroups().apply(model.getBlock()).head().parameters().get(0).getKey();
            FineTuner tuner = FineTuner.from(model).optHeadReplacer(Heads.auto()).replaceHead(3);
            tuner.block().initialize(model.getNDManager(), DataType.FLOAT32, new Shape(1, 1, 28, 28));
            assertThat(model.getBlock()).isSameAs(tuner.block());
            Map<String, float[]> after = Weights.snapshot(tuner.block());
            assertThat(after.keySet()).containsExactlyElementsOf(before.keySet());
            for (String name : before.keySet()) {
                if (name.equals(headKey)) {
                    assertThat(after.get(name)).as("new head weight").hasSize(64 * 3);
                } else if (!name.startsWith(headKey.substring(0, headKey.indexOf('_')))) {
                    assertThat(after.get(name)).as("%s kept", name).isEqualTo(before.get(name));
                }
            }
            LayerGroups groups = Backbones.resnetGroups().apply(tuner.block());
            assertThat(names(groups)).containsExactly("stem", "stage1", "stage2", "stage3", "head");
            Block head = tuner.block().getChildren().get(tuner.block().getChildren().size() - 2).getValue();
            assertThat(head).isInstanceOf(Linear.class);
            assertThat(groups.head().parameterCount()).isEqualTo(64 * 3 + 3);
        }
    }

    @Test
    void headOnlyFineTuneOnFashionMnistMovesOnlyTheHead() throws Exception {
        try (Model model = Backbones.load(pretrained, "resnet8", Backbones.resnet(8, IMAGE, SOURCE.length));
                NDManager data = NDManager.newBaseManager()) {
            var sets = FashionMnist.trainVal(data, TARGET, 60, 20, 30, 11);
            Map<String, float[]> backbone = Weights.snapshot(model.getBlock());
            FineTuner tuner = FineTuner.from(model).optHeadReplacer(Heads.auto()).replaceHead(TARGET.length)
                    .optLayerGroups(Backbones.resnetGroups()).optProgress(false)
                    .stage(Stage.headOnly().withEpochs(5).withLearningRate(5e-2));
            assertThat(tuner.describeGroups(Stage.headOnly())).contains("stage3").contains("frozen");
            LayerGroups groups = Backbones.resnetGroups().apply(tuner.block());
            Set<String> headNames = groups.head().parameters().stream().map(Pair::getKey).collect(Collectors.toSet());
            FineTuneResult r = tuner.fit(sets.train(), sets.validation());

            Map<String, float[]> after = Weights.snapshot(tuner.block());
            for (Map.Entry<String, float[]> e : backbone.entrySet()) {
                if (!headNames.contains(e.getKey())) {
                    assertThat(after.get(e.getKey())).as("%s frozen", e.getKey()).isEqualTo(e.getValue());
                }
            }
            assertThat(r.epochs().get(0).trainableParameters()).isEqualTo(64 * TARGET.length + TARGET.length);
            assertThat(r.lastEpoch().trainLoss()).isLessThan(r.epochs().get(0).trainLoss());
            assertThat(r.bestEpoch().validationAccuracy()).as("better than chance (0.2)").isGreaterThan(0.3);
        }
    }

    @Test
    void loadingGivesOneLineErrorsNamingTheFile() throws Exception {
        Block block = Backbones.resnet(8, IMAGE, SOURCE.length);
        assertThatThrownBy(() -> Backbones.load(dir.resolve("absent"), "resnet8", block))
                .isInstanceOf(FileNotFoundException.class)
                .hasMessageContaining("DJL model directory not found")
                .hasMessageContaining("absent");

        Path other = dir.resolve("other");
        Files.createDirectories(other);
        Files.copy(pretrained.resolve("resnet8-0000.params"), other.resolve("mynet-0000.params"));
        assertThatThrownBy(() -> Backbones.load(other, "resnet8", block))
                .isInstanceOf(FileNotFoundException.class)
                .hasMessageContaining("No parameter file resnet8-NNNN.params")
                .hasMessageContaining("mynet-0000.params");

        Path text = dir.resolve("text");
        Files.createDirectories(text);
        Files.writeString(text.resolve("resnet8-0000.params"), "these are not weights");
        assertThatThrownBy(() -> Backbones.load(text, "resnet8", Backbones.resnet(8, IMAGE, SOURCE.length)))
                .isInstanceOf(MalformedModelException.class)
                .hasMessageContaining("resnet8-0000.params is not a DJL parameter file");

        Path torchscript = dir.resolve("ts");
        Files.createDirectories(torchscript);
        Files.copy(Paths.get("src/test/resources/torchscript/tiny-cnn.pt"), torchscript.resolve("tiny-0000.params"));
        assertThatThrownBy(() -> Backbones.load(torchscript, "tiny", Backbones.resnet(8, IMAGE, SOURCE.length)))
                .hasMessageContaining("tiny-0000.params is not a DJL parameter file")
                .hasMessageContaining("TorchScriptBackbone.load");

        assertThatThrownBy(() -> Backbones.load(pretrained, "resnet8", Backbones.resnet(14, IMAGE, SOURCE.length)))
                .isInstanceOf(MalformedModelException.class)
                .hasMessageContaining("resnet8-0000.params does not fit")
                .hasMessageContaining("saved from another architecture");

        assertThatThrownBy(() -> Backbones.load(pretrained, "resnet8", Backbones.resnet(8, IMAGE, 3)))
                .isInstanceOf(MalformedModelException.class)
                .hasMessageContaining("resnet8-0000.params holds a head for 5 classes but the block was built for 3")
                .hasMessageContaining("replaceHead(3)");
    }

    @Test
    void loadingRestoresTheSavedWeightsAndOutputs() throws Exception {
        try (Model a = Backbones.load(pretrained, "resnet8", Backbones.resnet(8, IMAGE, SOURCE.length));
                Model b = Backbones.load(pretrained, "resnet8", Backbones.resnet(8, IMAGE, SOURCE.length));
                NDManager data = NDManager.newBaseManager()) {
            Map<String, float[]> wa = Weights.snapshot(a.getBlock());
            Map<String, float[]> wb = Weights.snapshot(b.getBlock());
            assertThat(wa.keySet()).containsExactlyElementsOf(wb.keySet());
            for (String k : wa.keySet()) {
                assertThat(wb.get(k)).as(k).isEqualTo(wa.get(k));
            }
            ArrayDataset images = FashionMnist.dataset(data, FashionMnist.test(),
                    FashionMnist.pick(FashionMnist.test(), SOURCE, 20, 0, 4), SOURCE, 100, false);
            try (Batch batch = images.getData(data).iterator().next()) {
                NDArray out = a.getBlock().forward(new ParameterStore(a.getNDManager(), false),
                        new NDList(batch.getData().head()), false).head();
                long correct = out.argMax(1).toType(DataType.FLOAT32, false)
                        .eq(batch.getLabels().head()).sum().getLong();
                assertThat(correct).as("the loaded source model classifies its source classes").isGreaterThan(40);
            }
        }
    }

    @Test
    void fromCriteriaExplainsThatModelZoosNeedADownload() throws Exception {
        Criteria<Image, Classifications> zoo = Criteria.builder()
                .setTypes(Image.class, Classifications.class)
                .optApplication(Application.CV.IMAGE_CLASSIFICATION)
                .optGroupId("ai.djl.pytorch") // DJL's PyTorch zoo: not on the class path, never contacted
                .optArtifactId("resnet")
                .optEngine("PyTorch")
                .build();
        assertThatThrownBy(() -> Backbones.fromCriteria(zoo))
                .isInstanceOf(ModelNotFoundException.class)
                .hasMessageContaining("group ai.djl.pytorch, artifact resnet")
                .hasMessageContaining("pytorch-model-zoo")
                .hasMessageContaining("ai.djl.offline=true")
                .hasMessageContaining("Backbones.load(dir, name, block)");

        // a local TorchScript file through Criteria loads with trainable, named parameters
        Criteria<NDList, NDList> local = Criteria.builder()
                .setTypes(NDList.class, NDList.class)
                .optModelPath(Paths.get("src/test/resources/torchscript/tiny-cnn-embedding.pt"))
                .optEngine("PyTorch")
                .build();
        try (var model = Backbones.fromCriteria(local)) {
            Set<Parameter> params = Collections.newSetFromMap(new IdentityHashMap<>());
            List<String> names = new java.util.ArrayList<>();
            for (Pair<String, Parameter> p : model.getBlock().getParameters()) {
                params.add(p.getValue());
                names.add(p.getKey());
                assertThat(p.getValue().requiresGradient()).as("%s trainable", p.getKey()).isTrue();
            }
            assertThat(names).contains("conv1.weight", "layer2.0.weight");
        }
    }
}
