package dev.finetune.vision.export;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.Model;
import ai.djl.inference.Predictor;
import ai.djl.modality.Classifications;
import ai.djl.modality.cv.Image;
import ai.djl.modality.cv.ImageFactory;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.nn.Parameter;
import ai.djl.pytorch.engine.PtNDManager;
import ai.djl.pytorch.engine.PtSymbolBlock;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.repository.zoo.ZooModel;
import ai.djl.training.ParameterStore;
import ai.djl.training.dataset.ArrayDataset;
import ai.djl.training.dataset.Batch;
import ai.djl.util.Pair;
import dev.finetune.core.FineTuner;
import dev.finetune.core.Precision;
import dev.finetune.core.plan.BatchNormPolicy;
import dev.finetune.core.internal.TorchScriptCast;
import dev.finetune.core.result.FineTuneResult;
import dev.finetune.core.stage.Stage;
import dev.finetune.vision.backbone.Heads;
import dev.finetune.vision.backbone.TorchScriptBackbone;
import dev.finetune.vision.data.IdxImages;
import dev.finetune.vision.fixtures.TorchScriptFixtures;

import java.io.ByteArrayInputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Bfloat16 mixed precision with a TorchScript backbone: the archive cast in Java holds PyTorch's
 * bfloat16 weights; the pretrained Fashion-MNIST source ResNet fine-tuned in bf16 learns as in fp32,
 * keeps float32 weights, and its export serves in float32 or bfloat16.
 */
class TorchScriptPrecisionTest {

    private static final int[] CLASSES = {2, 4, 6, 7, 9};
    private static final List<String> NAMES = List.of("Pullover", "Coat", "Shirt", "Sneaker", "Ankle boot");

    @TempDir
    Path dir;

    /** The test JVMs cap oneDNN at AVX2, where bfloat16 is emulated: same numerics, slower. */
    @org.junit.jupiter.api.BeforeAll
    static void bfloat16EvenWhereEmulated() {
        System.setProperty("finetune.bf16", "force");
    }

    @org.junit.jupiter.api.AfterAll
    static void bfloat16Automatic() {
        System.clearProperty("finetune.bf16");
    }

    @Test
    void roundingToBfloat16IsPyTorchs() {
        // float32 value -> PyTorch 2.13's tensor.bfloat16() bits (ties go to even; overflow to infinity)
        Object[][] cases = {
            {1.0f, 0x3f80}, {1.00390625f, 0x3f80}, {1.01171875f, 0x3f82}, {1.001953125f, 0x3f80},
            {1.005859375f, 0x3f81}, {-0.0025f, 0xbb24}, {Float.MAX_VALUE, 0x7f80}, {1e-40f, 0x0001},
            {-0.0f, 0x8000}, {Float.POSITIVE_INFINITY, 0x7f80}, {0.1f, 0x3dcd}, {65504f, 0x4780},
            {1.0039072f, 0x3f81},
        };
        for (Object[] c : cases) {
            assertThat(TorchScriptCast.bfloat16((Float) c[0]) & 0xFFFF).as("bfloat16(%s)", c[0]).isEqualTo(c[1]);
        }
        assertThat(Float.isNaN(Float.intBitsToFloat(TorchScriptCast.bfloat16(Float.NaN) << 16))).isTrue();
    }

    @Test
    void theCastArchiveHoldsEveryWeightRoundedToBfloat16() throws Exception {
        Path file = TorchScriptFixtures.EMBEDDING;
        byte[] bf16 = TorchScriptCast.toBfloat16(Files.readAllBytes(file));
        try (NDManager m = NDManager.newBaseManager("PyTorch");
                Model original = TorchScriptBackbone.load(file)) {
            PtSymbolBlock cast = JniUtils.loadModule((PtNDManager) m, new ByteArrayInputStream(bf16), true, false);
            Map<String, NDArray> castWeights = new HashMap<>();
            for (Pair<String, Parameter> p : cast.getDirectParameters()) {
                castWeights.put(p.getKey(), p.getValue().getArray());
            }
            int checked = 0;
            for (Pair<String, Parameter> p : original.getBlock().getParameters()) {
                NDArray c = castWeights.get(p.getKey());
                assertThat(c).as("the cast module's %s", p.getKey()).isNotNull();
                assertThat(c.getDataType()).as("DJL 0.35.1 reads bfloat16 as UNKNOWN").isEqualTo(DataType.UNKNOWN);
                float[] fp32 = p.getValue().getArray().toFloatArray();
                float[] back = c.toType(DataType.FLOAT32, false).toFloatArray();
                for (int i = 0; i < fp32.length; i++) {
                    float rounded = Float.intBitsToFloat(TorchScriptCast.bfloat16(fp32[i]) << 16);
                    if (back[i] != rounded) {
                        throw new AssertionError(p.getKey() + "[" + i + "]: " + back[i] + " is not " + fp32[i]
                                + " rounded to bfloat16 (" + rounded + ")");
                    }
                }
                checked += fp32.length;
            }
            assertThat(checked).as("weights compared").isGreaterThan(10_000);
        }
    }

    @Test
    void aBf16FineTunedTorchScriptBackboneLearnsAsFp32AndServesInEitherPrecision() throws Exception {
        IdxImages fashion = IdxImages.readSplit(Paths.get("/usr/share/datasets/fashion-mnist"), true);
        Path exportFp32 = dir.resolve("fp32");
        Path exportBf16 = dir.resolve("bf16");
        double[] accuracy = new double[2];
        Object[] counters = new Object[2];
        Map<String, java.nio.ByteBuffer> pretrainedCounters;
        try (Model model = TorchScriptBackbone.load(TorchScriptFixtures.EMBEDDING)) {
            pretrainedCounters = TorchScriptCast.integerRecords(moduleBytes(model));
        }
        float[][] inMemory = null;
        try (NDManager m = NDManager.newBaseManager()) {
            ArrayDataset test = TorchScriptFixtures.rgb32(fashion, m, fashion.sample(CLASSES, 20, 60, 5), CLASSES, 100,
                    false);
            NDArray testImages;
            try (Batch all = test.getData(m).iterator().next()) {
                testImages = all.getData().head().duplicate();
                testImages.attach(m);
            }
            for (Precision precision : Precision.values()) {
                try (Model model = TorchScriptBackbone.load(TorchScriptFixtures.EMBEDDING)) {
                    FineTuneResult result = FineTuner.from(model).optHeadReplacer(Heads.auto())
                            .replaceHead(NAMES.size()).optClassNames(NAMES).optProgress(false).optSeed(3)
                            .optPrecision(precision)
                            .optRestoreBest(false) // ends on the last epoch, whose statistics moved
                            .stage(Stage.full().withEpochs(3).withLearningRate(1e-3)
                                    .withBatchNormPolicy(BatchNormPolicy.TRAIN))
                            .fit(TorchScriptFixtures.rgb32(fashion, m, fashion.sample(CLASSES, 40, 0, 5), CLASSES, 20,
                                    true), TorchScriptFixtures.rgb32(fashion, m, fashion.sample(CLASSES, 20, 40, 5),
                                    CLASSES, 100, false));
                    assertThat(result.warnings()).as("%s warnings", precision).noneMatch(w -> w.contains("BF16"));
                    // the module was scripted in train mode: its BatchNorm counted every training batch,
                    // in the bf16 copy too, whose statistics the float32 module must have taken back
                    counters[precision.ordinal()] = TorchScriptCast.integerRecords(moduleBytes(model));
                    for (Parameter p : model.getBlock().getParameters().values()) {
                        assertThat(p.getArray().getDataType()).isEqualTo(DataType.FLOAT32);
                    }
                    accuracy[precision.ordinal()] = result.lastEpoch().validationAccuracy();
                    result.epochs().forEach(e -> System.out.println("TORCHSCRIPT " + precision + " " + e));
                    System.out.printf("TORCHSCRIPT %s validation accuracy %.3f%n", precision,
                            accuracy[precision.ordinal()]);
                    if (precision == Precision.BF16) {
                        inMemory = probabilities(model.getBlock().forward(new ParameterStore(m, false),
                                new NDList(testImages), false).head());
                        ClassifierExport.Preprocessing pre = new ClassifierExport.Preprocessing(32, 32, false, false, null,
                                null);
                        ClassifierExport.save(model, exportFp32, "fashion", NAMES, pre);
                        ClassifierExport.save(model, exportBf16, "fashion", NAMES, pre, Precision.BF16);
                    }
                }
            }
            assertThat(pretrainedCounters).isNotEmpty();
            assertThat(counters[0]).as("fp32 BatchNorm counters moved").isNotEqualTo(pretrainedCounters);
            assertThat(counters[1]).as("bf16: the module's BatchNorm counters, as fp32's").isEqualTo(counters[0]);
            assertThat(accuracy[1]).as("bf16 next to fp32's %.3f (chance 0.2)", accuracy[0]).isGreaterThan(0.4)
                    .isCloseTo(accuracy[0], within(0.05));

            assertThat(Files.readString(exportBf16.resolve("serving.properties")))
                    .contains("finetune.layout=bf16(torchscript+linear)").contains("finetune.precision=BF16");
            assertThat(Files.readAllBytes(exportBf16.resolve("fashion-0000.params")))
                    .as("the same float32 weights either way")
                    .isEqualTo(Files.readAllBytes(exportFp32.resolve("fashion-0000.params")));
            float[][] fp32 = served(exportFp32, testImages, m);
            float[][] bf16 = served(exportBf16, testImages, m);
            int agree = 0;
            double worst = 0;
            for (int k = 0; k < fp32.length; k++) {
                for (int i = 0; i < NAMES.size(); i++) {
                    assertThat(fp32[k][i]).isCloseTo(inMemory[k][i], within(1e-5f));
                    worst = Math.max(worst, Math.abs(bf16[k][i] - fp32[k][i]));
                }
                agree += argMax(bf16[k]) == argMax(fp32[k]) ? 1 : 0;
            }
            System.out.printf("TORCHSCRIPT served bf16 vs fp32: top-1 agrees on %d of %d, largest probability gap %.4f%n",
                    agree, fp32.length, worst);
            assertThat(agree).as("top-1 agreement of the bf16-served model").isGreaterThanOrEqualTo(fp32.length * 95 / 100);
            assertThat(worst).as("bf16 serving is not fp32 serving").isGreaterThan(0).isLessThan(0.1);
        }
        try (ZooModel<Image, Classifications> served = ClassifierExport.load(exportBf16);
                Predictor<Image, Classifications> predictor = served.newPredictor()) {
            Image photo = ImageFactory.getInstance().fromFile(
                    Paths.get("/usr/lib/python3/dist-packages/skimage/data/coffee.png"));
            assertThat(predictor.predict(photo).items()).hasSize(NAMES.size());
        }
    }

    /** The archive of the model's TorchScript module (the block itself, or the first child). */
    private static byte[] moduleBytes(Model model) {
        ai.djl.nn.Block block = model.getBlock();
        PtSymbolBlock module = block instanceof PtSymbolBlock p ? p
                : (PtSymbolBlock) block.getChildren().get(0).getValue();
        java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
        JniUtils.writeModule(module, bytes, false);
        return bytes.toByteArray();
    }

    private static float[][] served(Path export, NDArray images, NDManager m) throws Exception {
        try (ZooModel<Image, Classifications> model = ClassifierExport.load(export)) {
            return probabilities(model.getBlock().forward(new ParameterStore(m, false), new NDList(images), false).head());
        }
    }

    private static float[][] probabilities(NDArray logits) {
        float[] flat = logits.softmax(1).toFloatArray();
        int classes = (int) logits.getShape().get(1);
        float[][] out = new float[flat.length / classes][classes];
        for (int k = 0; k < out.length; k++) {
            System.arraycopy(flat, k * classes, out[k], 0, classes);
        }
        return out;
    }

    private static int argMax(float[] v) {
        int best = 0;
        for (int i = 1; i < v.length; i++) {
            best = v[i] > v[best] ? i : best;
        }
        return best;
    }
}
