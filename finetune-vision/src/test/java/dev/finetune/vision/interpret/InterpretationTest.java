package dev.finetune.vision.interpret;

import ai.djl.Model;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.training.ParameterStore;
import ai.djl.training.dataset.Record;
import dev.finetune.core.FineTuner;
import dev.finetune.core.fixtures.FashionMnist;
import dev.finetune.core.fixtures.SourceModel;
import dev.finetune.core.result.ConfusionMatrix;
import dev.finetune.core.result.Evaluation;
import dev.finetune.core.stage.Stage;
import dev.finetune.vision.backbone.Heads;
import dev.finetune.vision.backbone.TorchScriptBackbone;
import dev.finetune.vision.data.ImageCatalog;
import dev.finetune.vision.data.ImageDataset;
import dev.finetune.vision.data.ImageFolders;
import dev.finetune.vision.fixtures.TorchScriptFixtures;
import dev.finetune.vision.transform.ImagePipeline;
import org.apache.commons.csv.CSVFormat;
import org.apache.commons.csv.CSVParser;
import org.apache.commons.csv.CSVRecord;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.awt.image.Raster;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/**
 * A look at the mistakes of a real fine-tuned model: the examples' pretrained Fashion-MNIST
 * embedding with a new head trained for a few epochs on PNG folders of the five target classes,
 * interpreted on held-out PNGs (the Fashion-MNIST test split) among which a sneaker was filed under
 * Shirt, a mislabelled image the look must find with its path.
 */
class InterpretationTest {

    @TempDir
    static Path dir;

    private static Model model;
    private static FineTuner tuner;
    private static ImageDataset review;
    private static Path planted;
    private static Interpretation interpretation;
    private static long arraysBefore;
    private static long arraysAfter;

    @BeforeAll
    static void trainAHeadAndInterpretTheReviewFolder() throws Exception {
        Path train = dir.resolve("train");
        ImageFolders.fashion(train, SourceModel.TARGET, new int[] {20, 20, 20, 20, 20}, 3);
        // the folder to review: 8 held-out images per class, and a sneaker filed under Shirt
        Path reviewRoot = dir.resolve("review");
        FashionMnist.Split test = FashionMnist.test();
        List<Integer> picked = FashionMnist.pick(test, SourceModel.TARGET, 8, 0, 4);
        for (int i : picked) {
            String folder = ImageFolders.safe(FashionMnist.NAMES.get(test.labels()[i]));
            ImageFolders.writeGreyPng(test.images()[i], reviewRoot.resolve(folder).resolve(String.format("test-%05d.png", i)));
        }
        int sneaker = FashionMnist.pick(test, new int[] {7}, 1, 8, 4).get(0);
        planted = reviewRoot.resolve("Shirt").resolve("planted-sneaker.png");
        ImageFolders.writeGreyPng(test.images()[sneaker], planted);

        ImagePipeline pipeline = ImagePipeline.builder().setSize(32).optEvalResize(32).optAllowUpscale(true).build();
        ImageCatalog trainImages = ImageCatalog.scan(train);
        ImageDataset trainData = ImageDataset.builder().setCatalog(trainImages).optPipeline(pipeline.evaluation())
                .setSampling(16, true).build();
        review = ImageDataset.builder().setCatalog(ImageCatalog.scan(reviewRoot)).optPipeline(pipeline.evaluation())
                .setSampling(16, false).build();
        assertThat(review.catalog().classNames()).isEqualTo(trainImages.classNames())
                .containsExactly("Ankle_boot", "Coat", "Pullover", "Shirt", "Sneaker");

        model = TorchScriptBackbone.load(TorchScriptFixtures.EMBEDDING);
        tuner = FineTuner.from(model).optHeadReplacer(Heads.auto()).replaceHead(5).optProgress(false)
                .optClassNames(trainImages.classNames()).optFeatureCache(true)
                .stage(Stage.headOnly().withEpochs(4).withLearningRate(1e-2));
        tuner.fit(trainData, trainData);
        // DJL wraps a TorchScript module's parameters as arrays of the model's manager the first time
        // they are asked for (60 here), and keeps them: ask before counting
        model.getBlock().getParameters();
        arraysBefore = liveArrays();
        interpretation = Interpretation.of(model, review);
        arraysAfter = liveArrays();
        System.out.println(interpretation);
        interpretation.topLosses(5).forEach(System.out::println);
    }

    @AfterAll
    static void close() {
        if (model != null) {
            model.close();
        }
    }

    /** Arrays held by every open manager (children of DJL's system manager). */
    private static long liveArrays() {
        try (NDManager probe = NDManager.newBaseManager()) {
            return probe.getParentManager().getManagedArrays().size();
        }
    }

    @Test
    void thePlantedMislabelledImageLeadsTheTopLossesWithItsPath() {
        assertThat(interpretation.predictions()).hasSize(41);
        Prediction top = interpretation.topLosses(1).get(0);
        assertThat(top.path()).isEqualTo(planted);
        assertThat(top.trueName()).isEqualTo("Shirt");
        assertThat(top.predictedName()).isNotEqualTo("Shirt");
        assertThat(top.isMistake()).isTrue();
        assertThat(top.trueProbability()).isLessThan(0.05);
        assertThat(interpretation.mistakes()).first().isEqualTo(top);
        assertThat(interpretation.toString()).contains("41 images");
        assertThat(arraysAfter).as("arrays left by the inference").isEqualTo(arraysBefore);
    }

    @Test
    void eachLossIsMinusLogTheTrueClassProbabilityOfAnIndependentForwardPass() throws Exception {
        List<Prediction> predictions = interpretation.predictions();
        ParameterStore store = new ParameterStore(model.getNDManager(), false);
        for (int i = 0; i < predictions.size(); i++) {
            Prediction p = predictions.get(i);
            assertThat(p.index()).isEqualTo(i);
            assertThat(p.path()).isEqualTo(review.catalog().samples().get(i).path());
            assertThat(p.trueClass()).isEqualTo(review.catalog().samples().get(i).label());
            try (NDManager m = model.getNDManager().newSubManager()) {
                Record r = review.get(m, i);   // one image alone, not in the interpretation's batches
                NDArray out = model.getBlock().forward(store, new NDList(r.getData().head().expandDims(0)), false).head();
                float[] logProbabilities = out.logSoftmax(1).toFloatArray();
                int argMax = (int) out.argMax(1).getLong(0);
                assertThat(p.predicted()).as("%s", p.path()).isEqualTo(argMax);
                assertThat(p.loss()).as("%s", p.path()).isCloseTo(-logProbabilities[p.trueClass()], within(1e-4));
                assertThat(p.trueProbability()).isCloseTo(Math.exp(logProbabilities[p.trueClass()]), within(1e-5));
                assertThat(p.probability()).isCloseTo(Math.exp(logProbabilities[argMax]), within(1e-5));
                assertThat(p.loss()).isCloseTo(-Math.log(p.trueProbability()), within(1e-9));
                assertThat(p.predictedName()).isEqualTo(interpretation.classNames().get(argMax));
                assertThat(p.trueName()).isEqualTo(interpretation.classNames().get(p.trueClass()));
            }
        }
        // every prediction once, highest loss first; the mistakes are the predictions with another class
        List<Prediction> all = interpretation.topLosses(Integer.MAX_VALUE);
        assertThat(all).containsExactlyInAnyOrderElementsOf(predictions);
        for (int k = 1; k < all.size(); k++) {
            assertThat(all.get(k - 1).loss()).isGreaterThanOrEqualTo(all.get(k).loss());
        }
        assertThat(interpretation.topLosses(7)).isEqualTo(all.subList(0, 7));
        List<Prediction> wrong = all.stream().filter(p -> p.predicted() != p.trueClass()).toList();
        assertThat(interpretation.mistakes()).isEqualTo(wrong);
        assertThat(wrong).hasSizeBetween(2, 30);   // a few epochs on 20 images a class: mistakes to look at
    }

    @Test
    void confusionMostConfusedAndReportAgreeWithHandCountsAndTheFitsOwnEvaluation() {
        int k = interpretation.classNames().size();
        long[][] hand = new long[k][k];
        for (Prediction p : interpretation.predictions()) {
            hand[p.trueClass()][p.predicted()]++;
        }
        ConfusionMatrix cm = interpretation.confusion();
        Evaluation evaluated = tuner.evaluate(review);   // core's own evaluation loop, batched on the device
        for (int t = 0; t < k; t++) {
            for (int p = 0; p < k; p++) {
                assertThat(cm.count(t, p)).as("cell %d,%d", t, p).isEqualTo(hand[t][p]);
                assertThat(evaluated.confusion().count(t, p)).as("evaluate() cell %d,%d", t, p).isEqualTo(hand[t][p]);
            }
        }
        double meanLoss = interpretation.predictions().stream().mapToDouble(Prediction::loss).average().orElseThrow();
        assertThat(meanLoss).isCloseTo(evaluated.loss(), within(1e-4));

        // most confused: every off-diagonal cell with a count, largest first, ties by names
        List<ConfusionMatrix.ConfusedPair> pairs = interpretation.mostConfused(Integer.MAX_VALUE);
        long offDiagonal = 0;
        Set<String> seen = new HashSet<>();
        for (int t = 0; t < k; t++) {
            for (int p = 0; p < k; p++) {
                if (t != p && hand[t][p] > 0) {
                    offDiagonal++;
                }
            }
        }
        assertThat(pairs).hasSize((int) offDiagonal);
        for (int i = 0; i < pairs.size(); i++) {
            ConfusionMatrix.ConfusedPair pair = pairs.get(i);
            assertThat(pair.count()).isEqualTo(hand[pair.trueClass()][pair.predicted()]);
            assertThat(seen.add(pair.trueClass() + ">" + pair.predicted())).isTrue();
            if (i > 0) {
                ConfusionMatrix.ConfusedPair before = pairs.get(i - 1);
                assertThat(before.count() > pair.count() || (before.count() == pair.count()
                        && (before.trueName() + "\u0000" + before.predictedName())
                                .compareTo(pair.trueName() + "\u0000" + pair.predictedName()) < 0)).isTrue();
            }
        }
        assertThat(interpretation.mostConfused(1)).containsExactly(pairs.get(0));

        // the report's rows: precision and recall from the hand counts
        String[] lines = interpretation.report().split("\n");
        for (int c = 0; c < k; c++) {
            long tp = hand[c][c];
            long support = Arrays.stream(hand[c]).sum();
            long predicted = 0;
            for (long[] row : hand) {
                predicted += row[c];
            }
            String name = interpretation.classNames().get(c);
            String line = Arrays.stream(lines).filter(l -> l.trim().startsWith(name + " ")).findFirst().orElseThrow();
            String[] v = line.trim().substring(name.length()).trim().split(" +");
            assertThat(Double.parseDouble(v[0])).as("%s precision", name)
                    .isCloseTo(predicted == 0 ? 0 : (double) tp / predicted, within(5e-4));
            assertThat(Double.parseDouble(v[1])).as("%s recall", name).isCloseTo((double) tp / support, within(5e-4));
            assertThat(Long.parseLong(v[3])).isEqualTo(support);
        }
    }

    @Test
    void theContactSheetShowsTheTopLossesAsAGridOfTheirOwnPixelsWithCaptions() throws Exception {
        List<Prediction> top = interpretation.topLosses(6);
        Path png = interpretation.writeContactSheet(dir.resolve("sheets").resolve("top.png"), 6, 3, 56);
        BufferedImage sheet = ImageIO.read(png.toFile());
        // 3 columns x 2 rows; a cell is max(56, 160) + 2 x 4 wide and 56 + 2 x 4 + 3 x 14 high
        assertThat(sheet.getWidth()).isEqualTo(3 * 168);
        assertThat(sheet.getHeight()).isEqualTo(2 * 106);
        List<int[]> cells = new ArrayList<>();
        for (int k = 0; k < 6; k++) {
            // the 28x28 file enlarged twice fills the 56-pixel square, centred across the 168-pixel cell
            int x0 = (k % 3) * 168 + 56;
            int y0 = (k / 3) * 106 + 4;
            Raster source = ImageIO.read(top.get(k).path().toFile()).getRaster();
            assertThat(source.getWidth()).isEqualTo(28);
            int[] cell = new int[56 * 56];
            for (int y = 0; y < 56; y++) {
                for (int x = 0; x < 56; x++) {
                    int grey = source.getSample(x / 2, y / 2, 0);
                    int rgb = sheet.getRGB(x0 + x, y0 + y) & 0xFFFFFF;
                    assertThat(rgb).as("cell %d (%s) at %d,%d", k, top.get(k).fileName(), x, y)
                            .isEqualTo(grey * 0x010101);
                    cell[y * 56 + x] = rgb;
                }
            }
            assertThat(Arrays.stream(cell).distinct().count()).as("cell %d is not blank", k).isGreaterThan(10);
            for (int[] other : cells) {
                assertThat(cell).as("cell %d differs from the ones before", k).isNotEqualTo(other);
            }
            cells.add(cell);
            // the caption under the square is drawn: dark pixels on the white
            int dark = 0;
            for (int y = y0 + 56 + 4; y < y0 + 56 + 4 + 42; y++) {
                for (int x = (k % 3) * 168 + 4; x < (k % 3) * 168 + 164; x++) {
                    int rgb = sheet.getRGB(x, y);
                    int sum = ((rgb >> 16) & 0xFF) + ((rgb >> 8) & 0xFF) + (rgb & 0xFF);
                    dark += sum < 3 * 160 ? 1 : 0;
                }
            }
            assertThat(dark).as("caption of cell %d", k).isGreaterThan(40);
        }
        Prediction first = top.get(0);
        assertThat(ContactSheet.caption(first)).containsExactly(
                "Shirt / " + first.predictedName(),
                String.format(java.util.Locale.ROOT, "p=%.2f loss=%.2f", first.probability(), first.loss()),
                "planted-sneaker.png");

        // defaults: ceil(sqrt(10)) = 4 columns, 3 rows of 160-pixel thumbnails
        BufferedImage ten = ImageIO.read(interpretation.writeContactSheet(dir.resolve("ten.png"), 10).toFile());
        assertThat(ten.getWidth()).isEqualTo(4 * 168);
        assertThat(ten.getHeight()).isEqualTo(3 * (160 + 8 + 42));
        // more than the dataset: all 41, 7 columns x 6 rows
        BufferedImage all = ImageIO.read(interpretation.writeContactSheet(dir.resolve("all.png"), 1000).toFile());
        assertThat(all.getWidth()).isEqualTo(7 * 168);
        assertThat(all.getHeight()).isEqualTo(6 * 210);
        assertThatThrownBy(() -> interpretation.writeContactSheet(dir.resolve("none.png"), 0))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void theCsvListsEveryMistakeWithItsPath() throws Exception {
        Path csv = interpretation.writeCsv(dir.resolve("out").resolve("mistakes.csv"));
        List<CSVRecord> rows;
        try (CSVParser parser = CSVFormat.RFC4180.builder().setHeader().setSkipHeaderRecord(true).get()
                .parse(Files.newBufferedReader(csv))) {
            assertThat(parser.getHeaderNames()).containsExactly("rank", "path", "true_class", "predicted_class",
                    "probability", "true_probability", "loss", "index");
            rows = parser.getRecords();
        }
        List<Prediction> wrong = interpretation.predictions().stream().filter(p -> p.predicted() != p.trueClass())
                .sorted((a, b) -> Double.compare(b.loss(), a.loss())).toList();
        assertThat(rows).hasSize(wrong.size());
        for (int i = 0; i < rows.size(); i++) {
            CSVRecord row = rows.get(i);
            Prediction p = wrong.get(i);
            assertThat(row.get("rank")).isEqualTo(String.valueOf(i + 1));
            assertThat(Path.of(row.get("path"))).isEqualTo(p.path());
            assertThat(Files.isRegularFile(Path.of(row.get("path")))).isTrue();
            assertThat(row.get("true_class")).isEqualTo(p.trueName());
            assertThat(row.get("predicted_class")).isEqualTo(p.predictedName());
            assertThat(Double.parseDouble(row.get("loss"))).isEqualTo(p.loss());
            assertThat(Double.parseDouble(row.get("probability"))).isEqualTo(p.probability());
            assertThat(Double.parseDouble(row.get("true_probability"))).isEqualTo(p.trueProbability());
            assertThat(Integer.parseInt(row.get("index"))).isEqualTo(p.index());
        }
        assertThat(rows.get(0).get("path")).isEqualTo(planted.toString());
    }

    @Test
    void modelOutputsThatAreNotOneScorePerClassAreRefusedByName() {
        List<String> six = List.of("a", "b", "c", "d", "e", "f");
        assertThatThrownBy(() -> Interpretation.of(model, review, six))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("(16, 5)").hasMessageContaining("not (16, 6)");
        // a label beyond the names is refused before anything runs, naming the file
        assertThatThrownBy(() -> Interpretation.of(model, review, List.of("a", "b", "c")))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("planted-sneaker.png").hasMessageContaining("label 3");
    }
}
