package dev.finetune.vision.bottleneck;

import ai.djl.Model;
import ai.djl.inference.Predictor;
import ai.djl.modality.Classifications;
import ai.djl.modality.cv.Image;
import ai.djl.modality.cv.ImageFactory;
import ai.djl.modality.cv.transform.Normalize;
import ai.djl.modality.cv.transform.ToTensor;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.repository.zoo.ZooModel;
import ai.djl.translate.Batchifier;
import ai.djl.translate.Translator;
import ai.djl.translate.TranslatorContext;
import dev.finetune.core.fixtures.FashionMnist;
import dev.finetune.vision.backbone.TorchScriptBackbone;
import dev.finetune.vision.fixtures.TorchScriptFixtures;
import dev.finetune.vision.export.BottleneckHead;
import dev.finetune.vision.export.ClassifierExport;
import dev.finetune.vision.export.TorchScriptClassifierBlockFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
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
import static org.assertj.core.api.Assertions.within;

/**
 * The bottleneck path end to end on real images: a pretrained TorchScript embedding (the examples'
 * Fashion-MNIST source ResNet, 64 features) computes features of PNG files, cross-validation picks
 * C on the training features, and the classifier is exported as backbone + linear layer and served
 * by {@link ClassifierExport} with the same probabilities. The PNGs are written at the network's
 * 32x32 input size, so the features here and the served translator see the same pixels whatever
 * resize the translator does.
 */
class BottleneckExportTest {

    private static final Path EMBEDDING = TorchScriptFixtures.EMBEDDING;
    private static final Path PHOTOS = Paths.get("/usr/lib/python3/dist-packages/skimage/data");
    /** Target classes the embedding never saw: Pullover, Coat, Shirt, Sneaker, Ankle boot. */
    private static final int[] CLASSES = {2, 4, 6, 7, 9};
    private static final float[] MEAN = {0.485f, 0.456f, 0.406f};
    private static final float[] STD = {0.229f, 0.224f, 0.225f};
    private static final ClassifierExport.Preprocessing PREPROCESSING =
            new ClassifierExport.Preprocessing(32, 32, false, false, MEAN, STD);

    @TempDir
    Path dir;

    @Test
    void crossValidatedBottleneckClassifierExportsAsBackbonePlusLinearWithTheSamePredictions() throws Exception {
        List<String> names = FashionMnist.names(CLASSES);
        // training images as PNG files, and test images: held-out Fashion-MNIST items and real photos
        List<Path> trainFiles = new ArrayList<>();
        List<Integer> trainLabels = new ArrayList<>();
        FashionMnist.Split train = FashionMnist.train();
        for (int c = 0; c < CLASSES.length; c++) {
            for (int i : FashionMnist.pick(train, new int[] {CLASSES[c]}, 24, 0, 5)) {
                Path png = dir.resolve("train").resolve(c + "-" + i + ".png");
                writeRgb32(grey28(train.images()[i]), png);
                trainFiles.add(png);
                trainLabels.add(c);
            }
        }
        List<Path> testFiles = new ArrayList<>();
        List<Integer> testLabels = new ArrayList<>();
        FashionMnist.Split test = FashionMnist.test();
        for (int i : FashionMnist.pick(test, CLASSES, 12, 0, 6)) {
            Path png = dir.resolve("test").resolve(i + ".png");
            writeRgb32(grey28(test.images()[i]), png);
            testFiles.add(png);
            int label = 0;
            while (CLASSES[label] != test.labels()[i]) {
                label++;
            }
            testLabels.add(label);
        }
        List<Path> photos = new ArrayList<>();
        for (String photo : new String[] {"astronaut.png", "coffee.png", "chelsea.png", "camera.png"}) {
            Path png = dir.resolve("photos").resolve(photo);
            writeRgb32(ImageIO.read(PHOTOS.resolve(photo).toFile()), png);
            photos.add(png);
        }

        Path export = dir.resolve("bottleneck");
        Map<Path, double[]> expected = new HashMap<>();
        CrossValidation.Selection selection;
        try (Model model = TorchScriptBackbone.load(EMBEDDING)) {
            float[][] x = features(model, trainFiles);
            int[] y = trainLabels.stream().mapToInt(Integer::intValue).toArray();
            assertThat(x[0]).hasSize(64);

            selection = CrossValidation.builder().build().select(x, y, CLASSES.length);
            LinearClassifier classifier = selection.classifier();
            float[][] testX = features(model, testFiles);
            double testAccuracy = classifier.accuracy(testX, testLabels.stream().mapToInt(Integer::intValue).toArray());
            System.out.printf("BOTTLENECK export: %s -> test accuracy %.4f on %d held-out items%n",
                    selection, testAccuracy, testFiles.size());

            // the search range holds the optimum, or says that it does not
            assertThat(selection.scores().size()).isGreaterThanOrEqualTo(17);
            if (selection.atEdge()) {
                assertThat(selection.warnings()).anyMatch(w -> w.startsWith("best C at the edge of the range"));
            } else {
                assertThat(selection.warnings()).isEmpty();
            }
            // standardisation statistics are those of the training features
            assertThat(classifier.standardisation()).isEqualTo(Standardisation.fit(x));
            assertThat(testAccuracy).as("5 unseen classes from a 64-feature embedding, 24 images each").isGreaterThan(0.6);

            List<Path> all = new ArrayList<>(testFiles);
            all.addAll(photos);
            float[][] allX = features(model, all);
            for (int k = 0; k < all.size(); k++) {
                expected.put(all.get(k), classifier.probabilities(allX[k]));
            }
            BottleneckHead.attach(model, classifier, PREPROCESSING);
            ClassifierExport.save(model, export, "bottleneck", names, PREPROCESSING);
        }
        assertThat(servingArguments(export)).containsEntry(TorchScriptClassifierBlockFactory.LAYOUT,
                TorchScriptClassifierBlockFactory.TORCHSCRIPT_LINEAR);

        // served from the directory alone, with DJL's translator
        try (ZooModel<Image, Classifications> served = ClassifierExport.load(export);
                Predictor<Image, Classifications> predictor = served.newPredictor()) {
            double spread = 0;
            for (Map.Entry<Path, double[]> e : expected.entrySet()) {
                Classifications c = predictor.predict(ImageFactory.getInstance().fromFile(e.getKey()));
                double[] p = e.getValue();
                for (int i = 0; i < names.size(); i++) {
                    assertThat(c.get(names.get(i)).getProbability()).as("%s %s", e.getKey().getFileName(), names.get(i))
                            .isCloseTo(p[i], within(1e-4));
                    spread = Math.max(spread, Math.abs(p[i] - expected.get(photos.get(0))[i]));
                }
            }
            assertThat(spread).as("images get different predictions").isGreaterThan(0.05);
        }
    }

    @Test
    void squareRootUnitLengthClassifierWithMirroringExportsAndServesTheAveragedPrediction() throws Exception {
        List<String> names = FashionMnist.names(CLASSES);
        List<Path> trainFiles = new ArrayList<>();
        List<Path> trainMirrors = new ArrayList<>();
        List<Integer> trainLabels = new ArrayList<>();
        FashionMnist.Split train = FashionMnist.train();
        for (int c = 0; c < CLASSES.length; c++) {
            for (int i : FashionMnist.pick(train, new int[] {CLASSES[c]}, 16, 0, 7)) {
                Path png = writeRgb32(grey28(train.images()[i]), dir.resolve("train").resolve(c + "-" + i + ".png"));
                trainFiles.add(png);
                trainMirrors.add(mirrorFile(png, dir.resolve("mirror").resolve(c + "-" + i + ".png")));
                trainLabels.add(c);
            }
        }
        List<Path> served = new ArrayList<>();
        List<Path> servedMirrors = new ArrayList<>();
        FashionMnist.Split test = FashionMnist.test();
        for (int i : FashionMnist.pick(test, CLASSES, 4, 0, 8)) {
            Path png = writeRgb32(grey28(test.images()[i]), dir.resolve("test").resolve(i + ".png"));
            served.add(png);
            servedMirrors.add(mirrorFile(png, dir.resolve("test-mirror").resolve(i + ".png")));
        }
        Path photo = writeRgb32(ImageIO.read(PHOTOS.resolve("chelsea.png").toFile()), dir.resolve("photos").resolve("chelsea.png"));
        served.add(photo);
        servedMirrors.add(mirrorFile(photo, dir.resolve("photos").resolve("chelsea-mirror.png")));

        Path export = dir.resolve("sqrt-l2");
        double[][] expected = new double[served.size()][];
        try (Model model = TorchScriptBackbone.load(EMBEDDING)) {
            int n = trainFiles.size();
            float[][] plain = features(model, trainFiles);
            float[][] mirrored = features(model, trainMirrors);
            float[][] x = new float[2 * n][];
            int[] y = new int[2 * n];
            int[] groups = new int[2 * n];
            for (int i = 0; i < n; i++) {
                x[i] = plain[i];
                x[n + i] = mirrored[i];
                y[i] = trainLabels.get(i);
                y[n + i] = trainLabels.get(i);
                groups[i] = i;
                groups[n + i] = i;
            }
            CrossValidation.Selection selection = CrossValidation.builder()
                    .optTrainer(LinearModels.logisticRegression(FeatureScaling.SQRT_L2)).build()
                    .select(x, y, CLASSES.length, groups);
            LinearClassifier classifier = selection.classifier();
            assertThat(classifier.scaling()).isEqualTo(FeatureScaling.SQRT_L2);
            assertThat(classifier.toString()).contains("SQRT_L2");
            float[][] a = features(model, served);
            float[][] b = features(model, servedMirrors);
            for (int k = 0; k < served.size(); k++) {
                double[] s1 = classifier.scores(a[k]);
                double[] s2 = classifier.scores(b[k]);
                double[] mean = new double[s1.length];
                for (int c = 0; c < mean.length; c++) {
                    mean[c] = (s1[c] + s2[c]) / 2;
                }
                expected[k] = softmax(mean);
            }
            BottleneckHead.attach(model, classifier, PREPROCESSING, true);
            ClassifierExport.save(model, export, "mirrored", names, PREPROCESSING);
        }
        assertThat(servingArguments(export)).containsEntry(TorchScriptClassifierBlockFactory.LAYOUT,
                "mirror(torchscript+sqrt-l2)+linear");
        try (ZooModel<Image, Classifications> model = ClassifierExport.load(export);
                Predictor<Image, Classifications> predictor = model.newPredictor()) {
            for (int k = 0; k < served.size(); k++) {
                Classifications c = predictor.predict(ImageFactory.getInstance().fromFile(served.get(k)));
                for (int i = 0; i < names.size(); i++) {
                    assertThat(c.get(names.get(i)).getProbability()).as("%s %s", served.get(k).getFileName(), names.get(i))
                            .isCloseTo(expected[k][i], within(1e-4));
                }
            }
        }
    }

    private static double[] softmax(double[] s) {
        double max = java.util.Arrays.stream(s).max().orElse(0);
        double[] p = new double[s.length];
        double sum = 0;
        for (int i = 0; i < s.length; i++) {
            p[i] = Math.exp(s[i] - max);
            sum += p[i];
        }
        for (int i = 0; i < s.length; i++) {
            p[i] /= sum;
        }
        return p;
    }

    /** Writes the image file mirrored left to right, pixel for pixel. */
    private static Path mirrorFile(Path png, Path file) throws Exception {
        Files.createDirectories(file.getParent());
        ImageIO.write(mirror(ImageIO.read(png.toFile())), "png", file.toFile());
        return file;
    }

    private static BufferedImage mirror(BufferedImage source) {
        BufferedImage out = new BufferedImage(source.getWidth(), source.getHeight(), BufferedImage.TYPE_INT_RGB);
        for (int yy = 0; yy < source.getHeight(); yy++) {
            for (int xx = 0; xx < source.getWidth(); xx++) {
                out.setRGB(source.getWidth() - 1 - xx, yy, source.getRGB(xx, yy));
            }
        }
        return out;
    }

    /** Backbone outputs for 32x32 image files: colour, to tensor, ImageNet normalisation. */
    private static float[][] features(Model backbone, List<Path> files) throws Exception {
        Translator<Image, float[]> translator = new Translator<>() {
            @Override
            public NDList processInput(TranslatorContext ctx, Image input) {
                NDArray hwc = input.toNDArray(ctx.getNDManager(), Image.Flag.COLOR);
                return new NDList(new Normalize(MEAN, STD).transform(new ToTensor().transform(hwc)));
            }

            @Override
            public float[] processOutput(TranslatorContext ctx, NDList list) {
                return list.singletonOrThrow().toFloatArray();
            }

            @Override
            public Batchifier getBatchifier() {
                return Batchifier.STACK;
            }
        };
        float[][] out = new float[files.size()][];
        try (Predictor<Image, float[]> predictor = backbone.newPredictor(translator)) {
            for (int i = 0; i < files.size(); i++) {
                out[i] = predictor.predict(ImageFactory.getInstance().fromFile(files.get(i)));
            }
        }
        return out;
    }

    private static BufferedImage grey28(byte[] pixels) {
        BufferedImage img = new BufferedImage(28, 28, BufferedImage.TYPE_BYTE_GRAY);
        img.getRaster().setDataElements(0, 0, 28, 28, pixels);
        return img;
    }

    /** Writes an image scaled (bilinear) to 32x32 RGB, the network's input size. */
    private static Path writeRgb32(BufferedImage source, Path file) throws Exception {
        BufferedImage out = new BufferedImage(32, 32, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = out.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_INTERPOLATION, RenderingHints.VALUE_INTERPOLATION_BILINEAR);
        g.drawImage(source, 0, 0, 32, 32, null);
        g.dispose();
        Files.createDirectories(file.getParent());
        ImageIO.write(out, "png", file.toFile());
        return file;
    }

    private static Map<String, String> servingArguments(Path export) throws Exception {
        Properties p = new Properties();
        try (Reader r = Files.newBufferedReader(export.resolve("serving.properties"))) {
            p.load(r);
        }
        Map<String, String> out = new HashMap<>();
        for (String key : p.stringPropertyNames()) {
            out.put(key, p.getProperty(key));
        }
        return out;
    }
}
