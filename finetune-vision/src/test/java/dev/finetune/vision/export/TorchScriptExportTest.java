package dev.finetune.vision.export;

import ai.djl.Model;
import ai.djl.inference.Predictor;
import ai.djl.modality.Classifications;
import ai.djl.modality.cv.Image;
import ai.djl.modality.cv.ImageFactory;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.core.Linear;
import ai.djl.pytorch.engine.PtSymbolBlock;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ZooModel;
import ai.djl.training.dataset.ArrayDataset;
import ai.djl.training.dataset.Batch;
import ai.djl.util.Pair;
import dev.finetune.core.FineTuner;
import dev.finetune.core.fixtures.FashionMnist;
import dev.finetune.core.plan.BatchNormPolicy;
import dev.finetune.core.stage.Stage;
import dev.finetune.vision.backbone.Heads;
import dev.finetune.vision.backbone.TorchScriptBackbone;
import dev.finetune.vision.data.IdxImages;
import dev.finetune.vision.fixtures.TorchScriptFixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/** A fine-tuned TorchScript backbone with a new head, exported and served from its directory alone. */
class TorchScriptExportTest {

    private static final Path FIXTURES = TorchScriptFixtures.DIR;
    private static final Path PHOTOS = Paths.get("/usr/lib/python3/dist-packages/skimage/data");
    private static final int[] CLASSES = {0, 1, 5, 7, 8};

    @TempDir
    Path dir;

    private static float[] parameter(ai.djl.nn.Block block, String name) {
        for (Pair<String, Parameter> p : block.getParameters()) {
            if (p.getKey().endsWith(name)) {
                return p.getValue().getArray().toFloatArray();
            }
        }
        throw new AssertionError("no parameter " + name);
    }

    @Test
    void fineTunedTorchScriptClassifierReloadsFromItsDirectoryWithTheSamePredictions() throws Exception {
        IdxImages fashion = IdxImages.readSplit(Paths.get("/usr/share/datasets/fashion-mnist"), true);
        List<String> names = List.of("T-shirt/top", "Trouser", "Sandal", "Sneaker", "Bag");
        Path export = dir.resolve("fashion-ts");

        // real photos and Fashion-MNIST test items, as PNG files
        List<Path> pngs = new ArrayList<>();
        for (String photo : new String[] {"astronaut.png", "coffee.png", "chelsea.png", "camera.png"}) {
            pngs.add(PHOTOS.resolve(photo));
        }
        FashionMnist.Split test = FashionMnist.test();
        List<Integer> items = FashionMnist.pick(test, CLASSES, 1, 0, 9);
        for (int k = 0; k < items.size(); k++) {
            pngs.add(writeGreyPng(test.images()[items.get(k)], dir.resolve("item-" + k + ".png")));
        }

        Map<String, Object> serving;
        float[][] expected = new float[pngs.size()][];
        float[] trainedConv;
        float[] originalConv;
        try (Model model = TorchScriptBackbone.load(FIXTURES.resolve("tiny-cnn-embedding.pt"));
                NDManager m = NDManager.newBaseManager()) {
            originalConv = parameter(model.getBlock(), "conv1.weight");
            FineTuner.from(model).optHeadReplacer(Heads.auto()).replaceHead(names.size()).optClassNames(names)
                    .optProgress(false)
                    // the whole module trains and updates its BatchNorm statistics: the export must hold them
                    .stage(Stage.full().withEpochs(2).withLearningRate(3e-3).withBatchNormPolicy(BatchNormPolicy.TRAIN))
                    .fit(TorchScriptFixtures.rgb32(fashion, m, fashion.sample(CLASSES, 30, 0, 8), CLASSES, 25, true),
                            TorchScriptFixtures.rgb32(fashion, m, fashion.sample(CLASSES, 10, 30, 8), CLASSES, 50, false));
            assertThat(model.getBlock()).isInstanceOf(SequentialBlock.class);
            trainedConv = parameter(model.getBlock(), "conv1.weight");
            assertThat(trainedConv).as("the fine-tune moved the backbone").isNotEqualTo(originalConv);

            ClassifierExport.save(model, export, "fashion-ts", names,
                    new ClassifierExport.Preprocessing(32, 32, false, false, null, null));
            serving = servingArguments(export);
            try (Predictor<Image, Classifications> inMemory =
                    model.newPredictor(ClassifierExport.translator(
                            ClassifierExport.Preprocessing.fromArguments(serving), names))) {
                for (int k = 0; k < pngs.size(); k++) {
                    Classifications c = inMemory.predict(ImageFactory.getInstance().fromFile(pngs.get(k)));
                    expected[k] = new float[names.size()];
                    for (int i = 0; i < names.size(); i++) {
                        expected[k][i] = (float) c.get(names.get(i)).getProbability();
                    }
                }
            }
        }
        assertThat(serving).containsEntry("blockFactory", TorchScriptClassifierBlockFactory.class.getName());
        double spread = 0;
        for (int i = 0; i < names.size(); i++) {
            spread = Math.max(spread, Math.abs(expected[0][i] - expected[pngs.size() - 1][i]));
        }
        assertThat(spread).as("a photo and a Fashion-MNIST item get different predictions").isGreaterThan(1e-3);

        // a fresh model from the directory alone, through DJL's Criteria with the library's translator
        Criteria<Image, Classifications> criteria = ClassifierExport.criteria(export).build();
        try (ZooModel<Image, Classifications> served = criteria.loadModel();
                Predictor<Image, Classifications> predictor = served.newPredictor()) {
            assertThat(served.getBlock().getChildren().get(0).getValue()).isInstanceOf(PtSymbolBlock.class);
            assertThat(served.getBlock().getChildren().get(1).getValue()).isInstanceOf(Linear.class);
            assertThat(parameter(served.getBlock(), "conv1.weight")).as("trained weights exported").isEqualTo(trainedConv);
            for (int k = 0; k < pngs.size(); k++) {
                Classifications c = predictor.predict(ImageFactory.getInstance().fromFile(pngs.get(k)));
                int best = 0;
                for (int i = 1; i < names.size(); i++) {
                    best = expected[k][i] > expected[k][best] ? i : best;
                }
                assertThat(c.best().getClassName()).as(pngs.get(k).getFileName().toString()).isEqualTo(names.get(best));
                for (int i = 0; i < names.size(); i++) {
                    assertThat(c.get(names.get(i)).getProbability()).as("%s %s", pngs.get(k).getFileName(), names.get(i))
                            .isCloseTo(expected[k][i], within(1e-4));
                }
            }
        }
        // the helper gives the same model
        try (ZooModel<Image, Classifications> served = ClassifierExport.load(export);
                Predictor<Image, Classifications> predictor = served.newPredictor()) {
            Classifications c = predictor.predict(ImageFactory.getInstance().fromFile(pngs.get(0)));
            assertThat(c.get(names.get(0)).getProbability()).isCloseTo(expected[0][0], within(1e-4));
        }
    }

    @Test
    void aTorchScriptClassifierThatKeptItsHeadReloadsAsOneModule() throws Exception {
        List<String> names = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            names.add("class" + i);
        }
        Path export = dir.resolve("tiny-cnn");
        Path photo = PHOTOS.resolve("coffee.png");
        float[] expected = new float[names.size()];
        try (Model model = TorchScriptBackbone.load(FIXTURES.resolve("tiny-cnn.pt"))) {
            FineTuner.from(model).optHeadReplacer(Heads.auto()).replaceHead(names.size());
            ClassifierExport.save(model, export, "tiny-cnn", names,
                    new ClassifierExport.Preprocessing(32, 32, false, false, null, null));
            try (Predictor<Image, Classifications> inMemory = model.newPredictor(
                    ClassifierExport.translator(ClassifierExport.Preprocessing.fromArguments(servingArguments(export)),
                            names))) {
                Classifications c = inMemory.predict(ImageFactory.getInstance().fromFile(photo));
                for (int i = 0; i < names.size(); i++) {
                    expected[i] = (float) c.get(names.get(i)).getProbability();
                }
            }
        }
        assertThat(servingArguments(export)).containsEntry(TorchScriptClassifierBlockFactory.LAYOUT,
                TorchScriptClassifierBlockFactory.TORCHSCRIPT);
        try (ZooModel<Image, Classifications> served = ClassifierExport.criteria(export).build().loadModel();
                Predictor<Image, Classifications> predictor = served.newPredictor()) {
            assertThat(served.getBlock()).isInstanceOf(PtSymbolBlock.class);
            Classifications c = predictor.predict(ImageFactory.getInstance().fromFile(photo));
            for (int i = 0; i < names.size(); i++) {
                assertThat(c.get(names.get(i)).getProbability()).isCloseTo(expected[i], within(1e-4));
            }
        }
    }

    @Test
    void loadingADjlBlockExportWithoutItsArchitectureSaysToGiveTheBlock() throws Exception {
        Path export = dir.resolve("djl");
        try (Model model = Model.newInstance("djl", "PyTorch")) {
            // runs on what the preprocessing gives (1x1x2x2), as save checks
            SequentialBlock block = new SequentialBlock().add(ai.djl.nn.Blocks.batchFlattenBlock())
                    .add(Linear.builder().setUnits(2).build());
            model.setBlock(block);
            block.initialize(model.getNDManager(), ai.djl.ndarray.types.DataType.FLOAT32, new Shape(1, 1, 2, 2));
            ClassifierExport.save(model, export, "djl", List.of("a", "b"), ClassifierExport.Preprocessing.grey(2));
        }
        assertThat(servingArguments(export)).doesNotContainKey("blockFactory");
        assertThatThrownBy(() -> ClassifierExport.load(export))
                .hasMessageContaining("serving.properties names no block factory")
                .hasMessageContaining("optBlock(block)");
        assertThatThrownBy(() -> ClassifierExport.load(dir.resolve("absent")))
                .hasMessageContaining("No serving.properties in")
                .hasMessageContaining("absent");
    }

    private static Map<String, Object> servingArguments(Path export) throws Exception {
        Properties p = new Properties();
        try (Reader r = Files.newBufferedReader(export.resolve("serving.properties"))) {
            p.load(r);
        }
        Map<String, Object> out = new HashMap<>();
        for (String key : p.stringPropertyNames()) {
            out.put(key, p.getProperty(key));
        }
        return out;
    }

    private static Path writeGreyPng(byte[] pixels, Path file) throws Exception {
        BufferedImage img = new BufferedImage(28, 28, BufferedImage.TYPE_BYTE_GRAY);
        img.getRaster().setDataElements(0, 0, 28, 28, pixels);
        ImageIO.write(img, "png", file.toFile());
        return file;
    }
}
