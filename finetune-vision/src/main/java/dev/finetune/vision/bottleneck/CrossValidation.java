package dev.finetune.vision.bottleneck;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;

/**
 * Chooses the regularisation strength of a linear classifier by stratified k-fold cross-validation
 * on the training features, then refits on all of them.
 */
public final class CrossValidation {

    private CrossValidation() {}

    /**
     * The chosen classifier and how the candidates scored.
     *
     * @param classifier refit on all training features with the best C
     * @param c the chosen C
     * @param accuracy the cross-validated accuracy of that C
     * @param scores cross-validated accuracy of every C tried, in order
     */
    public record Selection(LinearClassifier classifier, double c, double accuracy, Map<Double, Double> scores) {
        @Override
        public String toString() {
            StringBuilder sb = new StringBuilder(classifier.toString()).append(": cv accuracy ");
            sb.append(String.format(Locale.ROOT, "%.4f", accuracy)).append(" [");
            scores.forEach((k, v) -> sb.append(String.format(Locale.ROOT, " C=%g:%.4f", k, v)));
            return sb.append(" ]").toString();
        }
    }

    /**
     * Runs the search.
     *
     * @param trainer the classifier family
     * @param x training features
     * @param y training labels
     * @param classes number of classes
     * @param grid candidate values of C
     * @param folds number of folds, at least 2 and at most the smallest class size
     * @param seed fold assignment seed
     * @return the selection
     */
    public static Selection select(
            LinearModels.Trainer trainer, float[][] x, int[] y, int classes, double[] grid, int folds, long seed) {
        if (grid.length == 0) {
            throw new IllegalArgumentException("Give at least one value of C to try.");
        }
        int[] fold = assignFolds(y, classes, folds, seed);
        Map<Double, Double> scores = new LinkedHashMap<>();
        double bestC = grid[0];
        double best = -1;
        for (double c : grid) {
            int correct = 0;
            for (int f = 0; f < folds; f++) {
                List<Integer> trainIdx = new ArrayList<>();
                List<Integer> testIdx = new ArrayList<>();
                for (int i = 0; i < y.length; i++) {
                    (fold[i] == f ? testIdx : trainIdx).add(i);
                }
                LinearClassifier model = trainer.train(rows(x, trainIdx), labels(y, trainIdx), classes, c);
                for (int i : testIdx) {
                    correct += model.predict(x[i]) == y[i] ? 1 : 0;
                }
            }
            double accuracy = (double) correct / y.length;
            scores.put(c, accuracy);
            if (accuracy > best) {
                best = accuracy;
                bestC = c;
            }
        }
        return new Selection(trainer.train(x, y, classes, bestC), bestC, best, scores);
    }

    private static int[] assignFolds(int[] y, int classes, int folds, long seed) {
        List<List<Integer>> byClass = new ArrayList<>();
        for (int c = 0; c < classes; c++) {
            byClass.add(new ArrayList<>());
        }
        for (int i = 0; i < y.length; i++) {
            if (y[i] < 0 || y[i] >= classes) {
                throw new IllegalArgumentException("Label " + y[i] + " of sample " + i + " is outside 0.." + (classes - 1));
            }
            byClass.get(y[i]).add(i);
        }
        int smallest = Integer.MAX_VALUE;
        for (List<Integer> members : byClass) {
            if (!members.isEmpty()) {
                smallest = Math.min(smallest, members.size());
            }
        }
        if (folds < 2 || folds > smallest) {
            throw new IllegalArgumentException(
                    folds + " folds need 2 <= folds <= the smallest class size (" + smallest + ").");
        }
        Random random = new Random(seed);
        int[] fold = new int[y.length];
        for (List<Integer> members : byClass) {
            Collections.shuffle(members, random);
            for (int k = 0; k < members.size(); k++) {
                fold[members.get(k)] = k % folds;
            }
        }
        return fold;
    }

    private static float[][] rows(float[][] x, List<Integer> idx) {
        float[][] out = new float[idx.size()][];
        for (int k = 0; k < idx.size(); k++) {
            out[k] = x[idx.get(k)];
        }
        return out;
    }

    private static int[] labels(int[] y, List<Integer> idx) {
        int[] out = new int[idx.size()];
        for (int k = 0; k < idx.size(); k++) {
            out[k] = y[idx.get(k)];
        }
        return out;
    }
}
