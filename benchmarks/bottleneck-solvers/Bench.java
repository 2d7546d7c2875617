// Side-by-side: the hand-written bottleneck solvers vs LIBLINEAR (Java port), same standardisation,
// same stratified 5-fold search over C = 1e-4..1e4 (one value per decade), test accuracy and time.
// Built and run by run.sh, outside the Maven build (LIBLINEAR is not a project dependency).
package dev.finetune.vision.bottleneck;

import de.bwaldvogel.liblinear.*;
import java.nio.file.*;
import java.util.*;

public class Bench {
    static float[][] X; static int[] Y; static float[][] TX; static int[] TY; static int K;

    static void load(String train, String test) throws Exception {
        List<String> a = Files.readAllLines(Paths.get(train)), b = Files.readAllLines(Paths.get(test));
        X = new float[a.size()][]; Y = new int[a.size()]; TX = new float[b.size()][]; TY = new int[b.size()];
        parse(a, X, Y); parse(b, TX, TY);
        K = Arrays.stream(Y).max().getAsInt() + 1;
    }
    static void parse(List<String> lines, float[][] x, int[] y) {
        for (int i = 0; i < lines.size(); i++) {
            String[] t = lines.get(i).trim().split(" ");
            y[i] = Integer.parseInt(t[0]); x[i] = new float[t.length - 1];
            for (int j = 1; j < t.length; j++) x[i][j - 1] = Float.parseFloat(t[j]);
        }
    }

    /** liblinear on standardised features, as a Trainer. */
    static LinearModels.Trainer liblinear(SolverType type) {
        return (x, y, classes, c) -> {
            Standardisation s = Standardisation.fit(x);
            int n = x.length, d = x[0].length;
            Problem p = new Problem();
            p.l = n; p.n = d + 1; p.bias = 1; p.y = new double[n]; p.x = new Feature[n][];
            for (int i = 0; i < n; i++) {
                double[] z = s.apply(x[i]);
                Feature[] f = new Feature[d + 1];
                for (int j = 0; j < d; j++) f[j] = new FeatureNode(j + 1, z[j]);
                f[d] = new FeatureNode(d + 1, 1);
                p.x[i] = f; p.y[i] = y[i];
            }
            Parameter param = new Parameter(type, c, type == SolverType.L2R_LR ? 0.01 : 0.1);
            Model m = Linear.train(p, param);
            double[] w = m.getFeatureWeights();
            int[] labels = m.getLabels();
            int nc = m.getNrClass();
            double[][] W = new double[classes][d]; double[] B = new double[classes];
            if (nc == 2) { // one vector, for labels[0]
                for (int j = 0; j < d; j++) { W[labels[0]][j] = w[j]; W[labels[1]][j] = -w[j]; }
                B[labels[0]] = w[d]; B[labels[1]] = -w[d];
            } else {
                for (int k = 0; k < nc; k++) {
                    for (int j = 0; j < d; j++) W[labels[k]][j] = w[j * nc + k];
                    B[labels[k]] = w[d * nc + k];
                }
            }
            return new LinearClassifier(W, B, s, "liblinear " + type + " C=" + c);
        };
    }

    public static void main(String[] args) throws Exception {
        Linear.disableDebugOutput();
        load(args[0], args[1]);
        int perClass = Integer.parseInt(args[2]);
        int seeds = Integer.parseInt(args[3]);
        double[] grid = {1e-4, 1e-3, 1e-2, 1e-1, 1, 10, 100, 1e3, 1e4};
        Map<String, LinearModels.Trainer> trainers = new LinkedHashMap<>();
        for (String t : args[4].split(",")) {
            switch (t) {
                case "hand-lr": trainers.put(t, LinearModels.logisticRegression()); break;
                case "hand-svm": trainers.put(t, LinearModels.linearSvm()); break;
                case "ll-lr": trainers.put(t, liblinear(SolverType.L2R_LR)); break;
                case "ll-lr-dual": trainers.put(t, liblinear(SolverType.L2R_LR_DUAL)); break;
                case "ll-svm": trainers.put(t, liblinear(SolverType.L2R_L1LOSS_SVC_DUAL)); break;
                case "ll-cs": trainers.put(t, liblinear(SolverType.MCSVM_CS)); break;
                default: throw new IllegalArgumentException(t);
            }
        }
        System.out.printf("train %d x %d, test %d, classes %d, %d per class, %d draws%n", X.length, X[0].length, TX.length, K, perClass, seeds);
        for (var e : trainers.entrySet()) {
            double accSum = 0; long tSum = 0; StringBuilder cs = new StringBuilder();
            for (int seed = 0; seed < seeds; seed++) {
                List<Integer> pick = new ArrayList<>();
                Random r = new Random(100 + seed);
                for (int k = 0; k < K; k++) {
                    List<Integer> m = new ArrayList<>();
                    for (int i = 0; i < Y.length; i++) if (Y[i] == k) m.add(i);
                    Collections.shuffle(m, r);
                    pick.addAll(m.subList(0, perClass));
                }
                float[][] x = new float[pick.size()][]; int[] y = new int[pick.size()];
                for (int i = 0; i < pick.size(); i++) { x[i] = X[pick.get(i)]; y[i] = Y[pick.get(i)]; }
                long t0 = System.nanoTime();
                CrossValidation.Selection s = sel(e.getValue(), x, y, grid, seed);
                long t = System.nanoTime() - t0;
                double acc = s.classifier().accuracy(TX, TY);
                accSum += acc; tSum += t;
                cs.append(String.format(Locale.ROOT, " %g/%.3f", s.c(), acc));
                if (seed == 0) System.out.println("  " + e.getKey() + " cv " + s);
            }
            System.out.printf(Locale.ROOT, "%-10s test acc %.4f  time %.2f s per CV search (9 C x 5 folds + refit)  [C/acc:%s]%n",
                    e.getKey(), accSum / seeds, tSum / 1e9 / seeds, cs);
        }
    }

    static CrossValidation.Selection sel(LinearModels.Trainer t, float[][] x, int[] y, double[] grid, long seed) {
        return CrossValidation.select(t, x, y, K, grid, 5, seed);
    }
}
