package dev.finetune.vision.export;

import ai.djl.Model;
import ai.djl.inference.Predictor;
import ai.djl.modality.Classifications;
import ai.djl.modality.cv.Image;
import ai.djl.modality.cv.ImageFactory;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.repository.zoo.ZooModel;
import ai.djl.training.ParameterStore;
import ai.djl.training.dataset.ArrayDataset;
import ai.djl.training.dataset.Batch;
import dev.finetune.core.FineTuner;
import dev.finetune.core.result.Evaluation;
import dev.finetune.core.stage.Stage;
import dev.finetune.vision.backbone.Heads;
import dev.finetune.vision.backbone.TorchScriptBackbone;
import dev.finetune.vision.data.IdxImages;
import dev.finetune.vision.fixtures.TorchScriptFixtures;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.List;
import java.util.Properties;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/**
 * Test-time augmentation of a fine-tuned TorchScript classifier (the tiny CNN fixture with a new
 * head, fitted on Fashion-MNIST): its views against hand-made ones, its averages against separate
 * forward passes, its evaluation against {@code FineTuner.evaluate}, and the exported model's
 * served probabilities against the in-memory averages.
 */
class TestTimeAugmentationTest {

    private static final int[] CLASSES = {0, 1, 5, 7, 8};
    private static final List<String> NAMES = List.of("T-shirt/top", "Trouser", "Sandal", "Sneaker", "Bag");
    private static final Path PHOTOS = Paths.get("/usr/lib/python3/dist-packages/skimage/data");

    private static Model model;
    private static FineTuner tuner;
    private static NDManager data;
    private static ArrayDataset validation;

    @TempDir
    Path dir;

    @BeforeAll
    static void fit() throws Exception {
        IdxImages fashion = IdxImages.readSplit(Paths.get("/usr/share/datasets/fashion-mnist"), true);
        model = TorchScriptBackbone.load(TorchScriptFixtures.DIR.resolve("tiny-cnn-embedding.pt"));
        data = NDManager.newBaseManager();
        tuner = FineTuner.from(model).optHeadReplacer(Heads.auto()).replaceHead(NAMES.size()).optClassNames(NAMES)
                .optProgress(false).stage(Stage.full().withEpochs(2).withLearningRate(3e-3));
        // 50 validation images in batches of 16: the last batch is smaller
        validation = TorchScriptFixtures.rgb32(fashion, data, fashion.sample(CLASSES, 10, 30, 8), CLASSES, 16, false);
        tuner.fit(TorchScriptFixtures.rgb32(fashion, data, fashion.sample(CLASSES, 30, 0, 8), CLASSES, 25, true),
                validation);
    }

    @AfterAll
    static void close() {
        model.close();
        data.close();
    }

    private static NDArray firstBatch(NDManager m) throws Exception {
        try (Batch b = validation.getData(m).iterator().next()) {
            NDArray x = b.getData().head().duplicate();
            x.attach(m);
            return x;
        }
    }

    private static NDArray softmax(Block block, NDArray x) {
        return block.forward(new ParameterStore(x.getManager(), false), new NDList(x), false).singletonOrThrow()
                .softmax(1);
    }

    @Test
    void viewsAreTheOriginalMirrorAndFiveCropsAndSayWhatTheyAre() {
        assertThat(TestTimeAugmentation.identity().views()).hasSize(1);
        assertThat(TestTimeAugmentation.mirror().views()).extracting(Object::toString).containsExactly("original", "mirror");
        assertThat(TestTimeAugmentation.crops(0.875).views()).hasSize(6);
        TestTimeAugmentation all = TestTimeAugmentation.mirrorAndCrops(0.875);
        assertThat(all.views()).hasSize(12).doesNotHaveDuplicates();
        assertThat(all.describe()).startsWith("softmax probabilities averaged over 12 views: original, mirror, centre crop,"
                + " mirrored centre crop, top-left crop").contains("crops 0.875 of each side");
        // torchvision's FiveCrop of 224 at 0.875: 196 x 196, the centre at 14
        assertThat(all.box(TestTimeAugmentation.Crop.CENTRE, 224, 224)).containsExactly(14, 14, 196, 196);
        assertThat(all.box(TestTimeAugmentation.Crop.BOTTOM_RIGHT, 224, 300)).containsExactly(28, 37, 196, 263);
        assertThat(all.box(TestTimeAugmentation.Crop.TOP_RIGHT, 224, 300)).containsExactly(0, 37, 196, 263);
        assertThat(all.box(TestTimeAugmentation.Crop.BOTTOM_LEFT, 224, 300)).containsExactly(28, 0, 196, 263);
        assertThat(TestTimeAugmentation.of(true, 0.875)).isEqualTo(all);
        assertThatThrownBy(() -> TestTimeAugmentation.crops(1)).hasMessageContaining("(0, 1)");
        assertThatThrownBy(() -> TestTimeAugmentation.of(false, -0.5)).hasMessageContaining("crop scale");
    }

    @Test
    void eachViewIsTheCropOfTheBatchResizedBilinearlyThenMirrored() {
        try (NDManager m = NDManager.newBaseManager()) {
            // two real photos as a 2 x 3 x 20 x 30 batch (not square, so that height and width cannot be swapped)
            NDArray batch = m.create(new Shape(2, 3, 20, 30), DataType.FLOAT32);
            int n = 0;
            for (String photo : new String[] {"chelsea.png", "coffee.png"}) {
                NDArray hwc = ImageFactory.getInstance().fromFile(PHOTOS.resolve(photo))
                        .toNDArray(m, Image.Flag.COLOR).get("100:120, 200:230, :").toType(DataType.FLOAT32, false);
                batch.set(new ai.djl.ndarray.index.NDIndex("{}", n++), hwc.transpose(2, 0, 1));
            }
            float[] x = batch.toFloatArray();
            TestTimeAugmentation tta = TestTimeAugmentation.mirrorAndCrops(0.75); // crops 15 x 23 (22.5 rounds up)
            for (TestTimeAugmentation.View view : tta.views()) {
                float[] got = tta.view(view, batch).toFloatArray();
                int[] box = tta.box(view.crop(), 20, 30);
                for (int i = 0; i < got.length; i++) {
                    int c = i / (20 * 30) % 3;
                    int b = i / (3 * 20 * 30);
                    int y = i / 30 % 20;
                    int xo = i % 30;
                    int xs = view.mirrored() ? 29 - xo : xo;
                    double expected = bilinear(x, b, c, box, y, xs);
                    assertThat((double) got[i]).as("%s at %d,%d,%d,%d", view, b, c, y, xo).isCloseTo(expected, within(1e-3));
                }
            }
            assertThat(tta.box(TestTimeAugmentation.Crop.TOP_RIGHT, 20, 30)).containsExactly(0, 7, 15, 23);
        } catch (java.io.IOException e) {
            throw new AssertionError(e);
        }
    }

    /** PyTorch's bilinear resize (corners not aligned) of a crop of image b, channel c, back to 20 x 30, by hand. */
    private static double bilinear(float[] x, int b, int c, int[] box, int y, int xo) {
        double sy = Math.max(0, (y + 0.5) * box[2] / 20.0 - 0.5);
        double sx = Math.max(0, (xo + 0.5) * box[3] / 30.0 - 0.5);
        int y0 = (int) Math.floor(sy);
        int x0 = (int) Math.floor(sx);
        int y1 = Math.min(y0 + 1, box[2] - 1);
        int x1 = Math.min(x0 + 1, box[3] - 1);
        double fy = sy - y0;
        double fx = sx - x0;
        double top = (1 - fx) * at(x, b, c, box[0] + y0, box[1] + x0) + fx * at(x, b, c, box[0] + y0, box[1] + x1);
        double bottom = (1 - fx) * at(x, b, c, box[0] + y1, box[1] + x0) + fx * at(x, b, c, box[0] + y1, box[1] + x1);
        return (1 - fy) * top + fy * bottom;
    }

    private static float at(float[] x, int b, int c, int y, int xi) {
        return x[((b * 3 + c) * 20 + y) * 30 + xi];
    }

    @Test
    void mirroringAveragesTheProbabilitiesOfTwoSeparateForwardPasses() throws Exception {
        Block block = tuner.block();
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray x = firstBatch(m);
            NDArray expected = softmax(block, x).add(softmax(block, x.flip(3))).div(2);
            NDArray got = TestTimeAugmentation.mirror().probabilities(block, x);
            assertThat(got.getShape()).isEqualTo(new Shape(16, 5));
            assertThat(got.sub(expected).abs().max().getFloat()).isLessThan(1e-6f);
            // the views disagree, so the average is not either view's
            assertThat(softmax(block, x).sub(expected).abs().max().getFloat()).isGreaterThan(1e-4f);

            TestTimeAugmentation twelve = TestTimeAugmentation.mirrorAndCrops(0.875);
            NDArray sum = null;
            for (TestTimeAugmentation.View view : twelve.views()) {
                NDArray p = softmax(block, twelve.view(view, x));
                sum = sum == null ? p : sum.add(p);
            }
            NDArray mean = sum.div(12);
            assertThat(twelve.probabilities(block, x).sub(mean).abs().max().getFloat()).isLessThan(1e-6f);
            assertThat(mean.sum(new int[] {1}).sub(1).abs().max().getFloat()).isLessThan(1e-5f);
        }
    }

    @Test
    void theOriginalViewAloneGivesFineTunerEvaluateNumbers() {
        Evaluation plain = tuner.evaluate(validation);
        TtaEvaluation tta = TestTimeAugmentation.identity().evaluate(tuner.block(), validation, NAMES);
        assertThat(tta.loss()).isCloseTo(plain.loss(), within(1e-6));
        assertThat(tta.confusion().total()).isEqualTo(50);
        for (int t = 0; t < NAMES.size(); t++) {
            for (int p = 0; p < NAMES.size(); p++) {
                assertThat(tta.confusion().count(t, p)).as("true %d predicted %d", t, p)
                        .isEqualTo(plain.confusion().count(t, p));
            }
        }
        assertThat(tta.accuracy()).isEqualTo(plain.accuracy());
        assertThat(tta.toString()).contains("averaged over 1 view: original");
    }

    @Test
    void theEvaluationIsTheMeanNegativeLogOfTheAveragedProbabilityOfTheTrueClass() throws Exception {
        TestTimeAugmentation tta = TestTimeAugmentation.mirrorAndCrops(0.875);
        Block block = tuner.block();
        double loss = 0;
        long[][] counts = new long[5][5];
        int samples = 0;
        try (NDManager m = NDManager.newBaseManager()) {
            for (Batch b : validation.getData(m)) {
                NDArray x = b.getData().head();
                float[] labels = b.getLabels().head().toFloatArray();
                NDArray sum = null;
                for (TestTimeAugmentation.View view : tta.views()) {
                    NDArray p = softmax(block, tta.view(view, x));
                    sum = sum == null ? p : sum.add(p);
                }
                float[] p = sum.div(tta.views().size()).toFloatArray();
                for (int i = 0; i < labels.length; i++) {
                    int y = (int) labels[i];
                    loss -= Math.log(p[i * 5 + y]);
                    int best = 0;
                    for (int k = 1; k < 5; k++) {
                        best = p[i * 5 + k] > p[i * 5 + best] ? k : best;
                    }
                    counts[y][best]++;
                    samples++;
                }
                b.close();
            }
        }
        TtaEvaluation got = tta.evaluate(block, validation, NAMES);
        assertThat(samples).isEqualTo(50);
        assertThat(got.loss()).isCloseTo(loss / samples, within(1e-5));
        for (int t = 0; t < 5; t++) {
            for (int p = 0; p < 5; p++) {
                assertThat(got.confusion().count(t, p)).isEqualTo(counts[t][p]);
            }
        }
        assertThat(got.augmentation()).isEqualTo(tta);
        assertThat(got.toString()).contains("12 views");
        // and it differs from the plain evaluation
        assertThat(got.loss()).isNotCloseTo(tuner.evaluate(validation).loss(), within(1e-4));

        assertThatThrownBy(() -> tta.evaluate(block, validation, NAMES.subList(0, 4)))
                .hasMessageContaining("4 class names");
    }

    @Test
    void theExportedModelServesTheAveragedProbabilitiesOfARealPhoto() throws Exception {
        TestTimeAugmentation tta = TestTimeAugmentation.mirrorAndCrops(0.875);
        ClassifierExport.Preprocessing pre = new ClassifierExport.Preprocessing(32, 32, false, false, null, null);
        Path export = dir.resolve("tta");
        Path plainExport = dir.resolve("plain");
        Block own = model.getBlock();
        ClassifierExport.save(model, export, "fashion-tta", NAMES, pre, tta);
        assertThat(model.getBlock()).as("the model keeps its block").isSameAs(own);
        ClassifierExport.save(model, plainExport, "fashion", NAMES, pre);

        Properties p = new Properties();
        try (Reader r = Files.newBufferedReader(export.resolve("serving.properties"))) {
            p.load(r);
        }
        assertThat(p.getProperty(TorchScriptClassifierBlockFactory.LAYOUT))
                .isEqualTo("tta[mirror,crops=0.875](torchscript+linear)");
        assertThat(p.getProperty(ClassifierExport.TTA_PROPERTY)).isEqualTo(tta.describe());

        Path photo = PHOTOS.resolve("chelsea.png");
        float[] expected;
        try (NDManager m = NDManager.newBaseManager()) {
            Image image = ImageFactory.getInstance().fromFile(photo);
            NDArray input = pre.pipeline().transform(new NDList(image.toNDArray(m, Image.Flag.COLOR)))
                    .singletonOrThrow().expandDims(0);
            expected = tta.probabilities(own, input).toFloatArray();
        }
        float[] served = new float[5];
        float[] plain = new float[5];
        try (ZooModel<Image, Classifications> loaded = ClassifierExport.load(export);
                Predictor<Image, Classifications> predictor = loaded.newPredictor();
                ZooModel<Image, Classifications> plainLoaded = ClassifierExport.load(plainExport);
                Predictor<Image, Classifications> plainPredictor = plainLoaded.newPredictor()) {
            assertThat(loaded.getBlock()).isInstanceOf(AverageOfViewsBlock.class);
            Classifications c = predictor.predict(ImageFactory.getInstance().fromFile(photo));
            Classifications d = plainPredictor.predict(ImageFactory.getInstance().fromFile(photo));
            for (int k = 0; k < 5; k++) {
                served[k] = (float) c.get(NAMES.get(k)).getProbability();
                plain[k] = (float) d.get(NAMES.get(k)).getProbability();
            }
        }
        double tta2plain = 0;
        for (int k = 0; k < 5; k++) {
            assertThat(served[k]).as(NAMES.get(k)).isCloseTo(expected[k], within(1e-5f));
            tta2plain = Math.max(tta2plain, Math.abs(served[k] - plain[k]));
        }
        assertThat(tta2plain).as("the augmentation changed the served probabilities").isGreaterThan(1e-3);
    }

    @Test
    void aDjlBuiltBlockExportedWithViewsLoadsWithTheWrappedArchitecture() throws Exception {
        Path export = dir.resolve("djl-tta");
        ClassifierExport.Preprocessing pre = ClassifierExport.Preprocessing.grey(4);
        TestTimeAugmentation tta = TestTimeAugmentation.mirrorAndCrops(0.5);
        Path photo = PHOTOS.resolve("camera.png");
        float[] expected;
        float[] plain;
        try (Model djl = Model.newInstance("djl", "PyTorch"); NDManager m = NDManager.newBaseManager()) {
            ai.djl.nn.SequentialBlock block = architecture();
            djl.setBlock(block);
            block.initialize(djl.getNDManager(), DataType.FLOAT32, new Shape(1, 1, 4, 4));
            ClassifierExport.save(djl, export, "djl", List.of("a", "b", "c"), pre, tta);
            NDArray input = pre.pipeline().transform(new NDList(ImageFactory.getInstance().fromFile(photo)
                    .toNDArray(m, Image.Flag.COLOR))).singletonOrThrow().expandDims(0);
            expected = tta.probabilities(block, input).toFloatArray();
            plain = softmax(block, input).toFloatArray();
        }
        Properties p = new Properties();
        try (Reader r = Files.newBufferedReader(export.resolve("serving.properties"))) {
            p.load(r);
        }
        assertThat(p.getProperty("blockFactory")).isNull();
        assertThat(p.getProperty(ClassifierExport.TTA_PROPERTY)).contains("12 views");
        try (ZooModel<Image, Classifications> served = ClassifierExport.criteria(export)
                .optBlock(tta.wrap(architecture())).build().loadModel();
                Predictor<Image, Classifications> predictor = served.newPredictor()) {
            Classifications c = predictor.predict(ImageFactory.getInstance().fromFile(photo));
            double apart = 0;
            for (int k = 0; k < 3; k++) {
                double got = c.get(List.of("a", "b", "c").get(k)).getProbability();
                assertThat(got).isCloseTo(expected[k], within(1e-5));
                apart = Math.max(apart, Math.abs(expected[k] - plain[k]));
            }
            assertThat(apart).as("the views changed the probabilities").isGreaterThan(1e-3);
        }
    }

    private static ai.djl.nn.SequentialBlock architecture() {
        return new ai.djl.nn.SequentialBlock().add(ai.djl.nn.Blocks.batchFlattenBlock())
                .add(ai.djl.nn.core.Linear.builder().setUnits(3).build());
    }

    @Test
    void aModelWithoutValuesIsRefusedBeforeAnythingIsWritten() throws Exception {
        try (Model fresh = TorchScriptBackbone.load(TorchScriptFixtures.DIR.resolve("tiny-cnn-embedding.pt"))) {
            FineTuner untrained = FineTuner.from(fresh).optHeadReplacer(Heads.auto()).replaceHead(3);
            Block block = untrained.block();
            assertThatThrownBy(() -> TestTimeAugmentation.mirror().evaluate(block, validation, List.of("a", "b", "c")))
                    .hasMessageContaining("has no value yet");
            assertThatThrownBy(() -> ClassifierExport.save(fresh, dir.resolve("x"), "x", List.of("a", "b", "c"),
                    ClassifierExport.Preprocessing.imageNet(32), TestTimeAugmentation.mirror()))
                    .hasMessageContaining("has no value yet");
            assertThat(fresh.getBlock()).isSameAs(block);
            assertThat(Files.exists(dir.resolve("x"))).isFalse();
        }
    }
}
