package dev.finetune.vision.bottleneck;

import dev.finetune.core.fixtures.FashionMnist;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/**
 * The C search and the standardisation of the bottleneck path, on real features: Fashion-MNIST
 * images average-pooled to 7x7 (49 values, scaled to 0..255 so that standardisation matters).
 */
class BottleneckSearchTest {

    private static final int[] CLASSES = {0, 2, 4, 6, 7, 9};
    private static float[][] x;
    private static int[] y;
    private static float[][] heldOut;

    @BeforeAll
    static void features() {
        FashionMnist.Split train = FashionMnist.train();
        List<Integer> picked = FashionMnist.pick(train, CLASSES, 20, 0, 3);
        x = new float[picked.size()][];
        y = new int[picked.size()];
        for (int k = 0; k < picked.size(); k++) {
            x[k] = pooled(train.images()[picked.get(k)]);
            y[k] = Arrays.binarySearch(CLASSES, train.labels()[picked.get(k)]);
        }
        List<Integer> other = FashionMnist.pick(train, CLASSES, 10, 20, 3);
        heldOut = new float[other.size()][];
        for (int k = 0; k < other.size(); k++) {
            heldOut[k] = pooled(train.images()[other.get(k)]);
        }
    }

    private static float[] pooled(byte[] image) {
        float[] out = new float[49];
        for (int r = 0; r < 28; r++) {
            for (int c = 0; c < 28; c++) {
                out[(r / 4) * 7 + c / 4] += (image[r * 28 + c] & 0xff) / 16f;
            }
        }
        return out;
    }

    @Test
    void standardisationStatisticsComeFromTheTrainingRowsOfEachFitOnly() {
        Map<LinearClassifier, float[][]> seen = new IdentityHashMap<>();
        LinearModels.Trainer recording = (rows, labels, classes, c) -> {
            LinearClassifier model = LinearModels.logisticRegression().train(rows, labels, classes, c);
            seen.put(model, rows);
            return model;
        };
        CrossValidation.Selection s = CrossValidation.builder().optTrainer(recording).optGrid(0.01, 1)
                .optMaxExtensions(0).optFolds(4).build().select(x, y, CLASSES.length);
        assertThat(seen).hasSize(2 * 4 + 1);
        Set<float[]> all = java.util.Collections.newSetFromMap(new IdentityHashMap<>());
        all.addAll(Arrays.asList(x));
        for (Map.Entry<LinearClassifier, float[][]> e : seen.entrySet()) {
            float[][] rows = e.getValue();
            // each fold's model is standardised with its own training rows, a quarter held out
            assertThat(e.getKey().standardisation()).isEqualTo(Standardisation.fit(rows));
            assertThat(rows.length).isIn(x.length, x.length * 3 / 4);
            assertThat(all).containsAll(Arrays.asList(rows));
        }
        // the refit uses all training rows, and nothing else
        Standardisation fitted = s.classifier().standardisation();
        assertThat(fitted).isEqualTo(Standardisation.fit(x));
        float[][] withHeldOut = Arrays.copyOf(x, x.length + heldOut.length);
        System.arraycopy(heldOut, 0, withHeldOut, x.length, heldOut.length);
        assertThat(fitted).isNotEqualTo(Standardisation.fit(withHeldOut));
        double[] mean = fitted.mean();
        for (int j = 0; j < mean.length; j++) {
            double sum = 0;
            for (float[] row : x) {
                sum += row[j];
            }
            assertThat(mean[j]).isCloseTo(sum / x.length, within(1e-9));
        }
    }

    @Test
    void imagesInOneGroupAreHeldOutTogether() {
        // each row twice, as an image and its mirror image would be: a copy may never train the fold that judges it
        int n = x.length;
        float[][] doubled = Arrays.copyOf(x, 2 * n);
        int[] labels = Arrays.copyOf(y, 2 * n);
        int[] groups = new int[2 * n];
        for (int i = 0; i < n; i++) {
            doubled[n + i] = x[i].clone();
            labels[n + i] = y[i];
            groups[i] = i;
            groups[n + i] = i;
        }
        List<float[][]> trainedOn = new java.util.ArrayList<>();
        LinearModels.Trainer recording = (rows, l, classes, c) -> {
            trainedOn.add(rows);
            return LinearModels.logisticRegression(FeatureScaling.SQRT_L2).train(rows, l, classes, c);
        };
        CrossValidation.builder().optTrainer(recording).optGrid(1).optMaxExtensions(0).optFolds(4).build()
                .select(doubled, labels, CLASSES.length, groups);
        assertThat(trainedOn).hasSize(4 + 1);
        for (float[][] rows : trainedOn.subList(0, 4)) {
            Set<float[]> in = java.util.Collections.newSetFromMap(new IdentityHashMap<>());
            in.addAll(Arrays.asList(rows));
            assertThat(rows.length).isEqualTo(2 * n * 3 / 4);
            for (int i = 0; i < n; i++) {
                assertThat(in.contains(doubled[i])).as("row %d and its copy", i).isEqualTo(in.contains(doubled[n + i]));
            }
        }
        int[] mixed = groups.clone();
        int other = 0;
        while (y[other] == y[0]) {
            other++;
        }
        mixed[other] = 0; // row `other` joins row 0's group with another label
        assertThatThrownBy(() -> CrossValidation.builder().build().select(doubled, labels, CLASSES.length, mixed))
                .hasMessageContaining("must share one label");
    }

    @Test
    void logisticRegressionSolvesInTheSpanOfFewImagesAndAlongAPathToTheSameOptimum() {
        // 30 images of 49 values: fewer rows than dimensions, so the fit runs in the rows' span
        float[][] few = Arrays.copyOf(x, 30);
        int[] labels = Arrays.copyOf(y, 30);
        int classes = CLASSES.length;
        double[] cs = {0.1, 1, 10};
        for (FeatureScaling scaling : FeatureScaling.values()) {
            LinearModels.Trainer lr = LinearModels.logisticRegression(scaling);
            List<LinearClassifier> path = lr.trainPath(few, labels, classes, cs);
            for (int k = 0; k < cs.length; k++) {
                LinearClassifier model = path.get(k);
                // stationary in all 49 dimensions: the gradient of the full objective vanishes
                double[][] z = new double[few.length][];
                for (int i = 0; i < few.length; i++) {
                    z[i] = model.scale(few[i]);
                }
                double[] w = new double[classes * 50];
                double[][] weights = model.weights();
                for (int c = 0; c < classes; c++) {
                    System.arraycopy(weights[c], 0, w, c * 50, 49);
                    w[c * 50 + 49] = model.bias()[c];
                }
                double[] g = new double[w.length];
                LogisticSolver.lossAndGradient(z, labels, classes, 1 / (cs[k] * few.length), w, g);
                assertThat(Arrays.stream(g).map(Math::abs).max().orElseThrow()).as("%s C=%s", scaling, cs[k])
                        .isLessThan(1e-4);
                // the warm-started fit predicts as a fit from scratch (both stop at the same gradient tolerance)
                LinearClassifier alone = lr.train(few, labels, classes, cs[k]);
                for (float[] row : heldOut) {
                    assertThat(model.predict(row)).isEqualTo(alone.predict(row));
                    double[] a = model.probabilities(row);
                    double[] b = alone.probabilities(row);
                    for (int c = 0; c < classes; c++) {
                        assertThat(a[c]).isCloseTo(b[c], within(1e-2));
                    }
                }
            }
        }
    }

    @Test
    void crossValidationSharingOneSpanScoresAsFoldByFoldFits() {
        // 120 images of 196 values (2x2 pooling): fewer rows than dimensions
        FashionMnist.Split train = FashionMnist.train();
        List<Integer> picked = FashionMnist.pick(train, CLASSES, 20, 0, 3);
        float[][] wide = new float[picked.size()][196];
        for (int k = 0; k < picked.size(); k++) {
            byte[] image = train.images()[picked.get(k)];
            for (int r = 0; r < 28; r++) {
                for (int c = 0; c < 28; c++) {
                    wide[k][(r / 2) * 14 + c / 2] += (image[r * 28 + c] & 0xff) / 4f;
                }
            }
        }
        LinearModels.Trainer lr = LinearModels.logisticRegression(FeatureScaling.SQRT_L2);
        LinearModels.Trainer foldByFold = lr::train; // not the library's trainer: each fold fits on its own
        double[] grid = {0.1, 1, 10, 100};
        CrossValidation.Selection shared = CrossValidation.builder().optTrainer(lr).optGrid(grid).optMaxExtensions(0)
                .build().select(wide, y, CLASSES.length);
        CrossValidation.Selection separate = CrossValidation.builder().optTrainer(foldByFold).optGrid(grid)
                .optMaxExtensions(0).build().select(wide, y, CLASSES.length);
        System.out.println("BOTTLENECK shared span: " + shared + System.lineSeparator() + "  fold by fold: " + separate);
        for (double c : grid) {
            // the shared fits stop at a looser gradient tolerance: at most one held-out image in 120 differs
            assertThat(shared.scores().get(c)).as("C=%s", c).isCloseTo(separate.scores().get(c), within(1.0 / 120 + 1e-9));
        }
        assertThat(shared.c()).isEqualTo(separate.c());
        for (float[] row : wide) {
            assertThat(shared.classifier().predict(row)).isEqualTo(separate.classifier().predict(row));
        }
    }

    @Test
    void theDefaultGridIsWideAndTheChosenCIsInsideItOrTheEdgeIsReported() {
        CrossValidation.Selection s = CrossValidation.builder().build().select(x, y, CLASSES.length);
        System.out.println("BOTTLENECK search: " + s);
        assertThat(s.scores().keySet()).contains(1e-4, 1e4);
        assertThat(new java.util.ArrayList<>(s.scores().keySet())).isSorted();
        assertThat(s.accuracy()).isEqualTo(s.scores().get(s.c()));
        assertThat(s.scores().values()).allMatch(v -> v <= s.accuracy());
        if (s.atEdge()) {
            assertThat(s.warnings()).singleElement().asString().startsWith("best C at the edge of the range");
        } else {
            assertThat(s.warnings()).isEmpty();
        }
        assertThat(s.classifier().accuracy(x, y)).isGreaterThan(0.7);
    }

    @Test
    void aBestCAtTheEdgeExtendsTheGridOrIsReported() {
        // a range far above the optimum: the best is its lowest value
        CrossValidation.Selection fixed = CrossValidation.builder().optGrid(1e3, 1e4, 1e5).optMaxExtensions(0)
                .build().select(x, y, CLASSES.length);
        assertThat(fixed.c()).isEqualTo(1e3);
        assertThat(fixed.atEdge()).isTrue();
        assertThat(fixed.warnings()).singleElement().asString()
                .startsWith("best C at the edge of the range 1.00e+03..1.00e+05: C=1.00e+03 is the smallest value tried")
                .contains("give a grid that reaches lower");
        assertThat(fixed.toString()).contains("warning: best C at the edge of the range");

        CrossValidation.Selection extended = CrossValidation.builder().optGrid(1e3, 1e4, 1e5)
                .build().select(x, y, CLASSES.length);
        assertThat(extended.scores().keySet()).as("extended downwards by decades").contains(100.0);
        assertThat(extended.c()).isLessThan(1e3);
        assertThat(extended.accuracy()).isGreaterThanOrEqualTo(fixed.accuracy());
        assertThat(extended.atEdge() == !extended.warnings().isEmpty()).isTrue();
    }

    @Test
    void equalAccuraciesGoToTheStrongerRegularisationAndAFlatEdgeIsSaid() {
        // a trainer that ignores C: every C scores the same
        LinearModels.Trainer ignoresC = (rows, labels, classes, c) ->
                LinearModels.logisticRegression().train(rows, labels, classes, 1.0);
        CrossValidation.Selection s = CrossValidation.builder().optTrainer(ignoresC).optGrid(10, 0.1, 1)
                .build().select(x, y, CLASSES.length);
        assertThat(s.c()).as("the smallest C of equal scores").isEqualTo(0.01);
        assertThat(s.scores().keySet()).containsExactly(0.01, 0.1, 1.0, 10.0);
        assertThat(s.warnings()).singleElement().asString().contains("accuracy is flat")
                .contains("from C=0.0100 to C=10.0");
    }

    @Test
    void foldedWeightsGiveTheSameScoresOnRawFeaturesAndIgnoreConstantDimensions() {
        float[][] withConstant = new float[x.length][];
        for (int i = 0; i < x.length; i++) {
            withConstant[i] = Arrays.copyOf(x[i], 50);
            withConstant[i][49] = 7f; // constant in training
        }
        LinearClassifier model = LinearModels.logisticRegression().train(withConstant, y, CLASSES.length, 1.0);
        assertThat(model.standardisation().std()[49]).isZero();
        double[][] w = model.foldedWeights();
        double[] b = model.foldedBias();
        for (float[] row : heldOut) {
            float[] raw = Arrays.copyOf(row, 50);
            raw[49] = 100f; // a value never seen in training changes nothing
            double[] scores = model.scores(raw);
            for (int c = 0; c < w.length; c++) {
                double folded = b[c];
                for (int j = 0; j < raw.length; j++) {
                    folded += w[c][j] * raw[j];
                }
                assertThat(folded).isCloseTo(scores[c], within(1e-9));
            }
            assertThat(Arrays.stream(model.probabilities(raw)).sum()).isCloseTo(1.0, within(1e-12));
        }
        assertThat(w[0][49]).isZero();
    }

    @Test
    void logGridAndBadSettingsAreExplained() {
        double[] grid = CrossValidation.logGrid(1e-4, 1e4, 2);
        assertThat(grid).hasSize(17);
        assertThat(grid[0]).isEqualTo(1e-4);
        assertThat(grid[16]).isEqualTo(1e4);
        assertThat(grid[9]).isCloseTo(Math.sqrt(10), within(1e-12));
        assertThatThrownBy(() -> CrossValidation.builder().optGrid(0, 1)).hasMessageContaining("positive");
        assertThatThrownBy(() -> CrossValidation.builder().optFolds(30).build().select(x, y, CLASSES.length))
                .hasMessageContaining("smallest class size (20)");
        assertThatThrownBy(() -> LinearModels.logisticRegression().train(x, y, CLASSES.length, 1).scores(new float[3]))
                .hasMessageContaining("fitted on 49");
        // issue 14, point 8: C <= 0 or NaN gave a constant or inverted classifier
        for (double bad : new double[] {0, -1, Double.NaN, Double.POSITIVE_INFINITY}) {
            for (LinearModels.Trainer trainer : List.of(LinearModels.logisticRegression(),
                    LinearModels.logisticRegression(FeatureScaling.SQRT_L2), LinearModels.linearSvm())) {
                assertThatThrownBy(() -> trainer.train(x, y, CLASSES.length, bad)).as("C=%s", bad)
                        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("C must be positive and finite");
            }
        }
    }
}
