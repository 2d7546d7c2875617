package dev.finetune.examples.quality;

import ai.djl.Model;
import ai.djl.translate.Pipeline;
import dev.finetune.core.features.FeatureCache;
import dev.finetune.vision.backbone.TorchScriptBackbone;
import dev.finetune.vision.data.ImageCatalog;
import dev.finetune.vision.data.ImageDataset;
import dev.finetune.vision.data.ImageSample;

import java.io.IOException;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.function.UnaryOperator;

/**
 * A study of linear classifiers on frozen features, on the quality benchmark's sets and splits:
 * which feature normalisation, regularisation search and feature augmentation beat the plain DJL
 * program. Embeds every image once (and its mirror image), keeps the features on disk, then runs
 * each variant over many seeds in seconds. Prints mean test accuracy per variant and its paired
 * difference to the plain program's recipe.
 *
 * <p>Run: {@code mvn -q -pl finetune-examples exec:exec -Dmain.class=dev.finetune.examples.quality.ProbeStudy
 * -Dapp.args="--seeds 10"}
 */
public final class ProbeStudy {

    private ProbeStudy() {}

    public static void main(String[] args) throws Exception {
        int seeds = 10;
        Path data = Paths.get("/opt/finetune-quality-data");
        Path cache = Paths.get("/tmp/probe-cache");
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--seeds" -> seeds = Integer.parseInt(args[++i]);
                case "--cache" -> cache = Paths.get(args[++i]);
                default -> throw new IllegalArgumentException("Unknown option " + args[i]);
            }
        }
        Files.createDirectories(cache);
        Map<String, double[]> total = new LinkedHashMap<>();
        int settings = 0;
        for (QualityBenchmark.DataSet set : QualityBenchmark.sets(data)) {
            String key = set.name().replaceAll("[^a-z]", "");
            Map<String, float[]> plainF = features(cache.resolve(key + "-orig.bin"), set, false);
            Map<String, float[]> flipF = features(cache.resolve(key + "-flip.bin"), set, true);
            for (int n : new int[] {10, 20, 50}) {
                int needed = n + QualityBenchmark.VALIDATION_PER_CLASS + (set.target() == null ? 2 : 0);
                if (QualityBenchmark.fewestPerClass(set.source()) < needed) {
                    continue;
                }
                Map<String, double[]> sums = new LinkedHashMap<>();
                for (int seed = 1; seed <= seeds; seed++) {
                    QualityBenchmark.Parts parts = QualityBenchmark.draw(set, n, seed);
                    List<ImageSample> labelled = new ArrayList<>(parts.train());
                    labelled.addAll(parts.validation());
                    Problem p = new Problem(rows(labelled, plainF), rows(labelled, flipF), labels(labelled),
                            rows(parts.test(), plainF), rows(parts.test(), flipF), labels(parts.test()),
                            set.source().classNames().size(), seed);
                    Map<String, Double> acc = p.runAll();
                    double base = acc.get("plain adamw raw");
                    acc.forEach((name, a) -> {
                        double[] s = sums.computeIfAbsent(name, k -> new double[3]);
                        s[0] += a;
                        s[1] += a - base;
                        s[2] += a > base + 1e-9 ? 1 : 0;
                    });
                }
                System.out.printf(Locale.ROOT, "%n== %s, %d/class, %d seeds ==%n", set.name(), n, seeds);
                settings++;
                for (Map.Entry<String, double[]> e : sums.entrySet()) {
                    double[] s = e.getValue();
                    System.out.printf(Locale.ROOT, "%-34s %.3f  %+6.1f  wins %2.0f/%d%n", e.getKey(), s[0] / seeds,
                            100 * s[1] / seeds, s[2], seeds);
                    double[] t = total.computeIfAbsent(e.getKey(), k -> new double[1]);
                    t[0] += 100 * s[1] / seeds;
                }
            }
        }
        System.out.printf(Locale.ROOT, "%n== mean difference to plain over %d settings ==%n", settings);
        for (Map.Entry<String, double[]> e : total.entrySet()) {
            System.out.printf(Locale.ROOT, "%-34s %+6.2f%n", e.getKey(), e.getValue()[0] / settings);
        }
    }

    private static float[][] rows(List<ImageSample> samples, Map<String, float[]> f) {
        float[][] out = new float[samples.size()][];
        for (int i = 0; i < out.length; i++) {
            out[i] = f.get(samples.get(i).path().toString());
        }
        return out;
    }

    private static int[] labels(List<ImageSample> samples) {
        return samples.stream().mapToInt(ImageSample::label).toArray();
    }

    @SuppressWarnings("unchecked")
    private static Map<String, float[]> features(Path file, QualityBenchmark.DataSet set, boolean flip) throws Exception {
        if (Files.exists(file)) {
            try (ObjectInputStream in = new ObjectInputStream(Files.newInputStream(file))) {
                return (Map<String, float[]>) in.readObject();
            }
        }
        Map<String, float[]> out = new HashMap<>();
        try (Model model = TorchScriptBackbone.load(QualityBenchmark.MODEL)) {
            for (ImageCatalog catalog : set.target() == null ? List.of(set.source())
                    : List.of(set.source(), set.target())) {
                Pipeline p = QualityBenchmark.pipeline().evaluation();
                if (flip) {
                    p.add(a -> a.flip(2));
                }
                ImageDataset d = ImageDataset.builder().setCatalog(catalog).optPipeline(p).setSampling(4, false).build();
                long t0 = System.nanoTime();
                try (FeatureCache c = FeatureCache.compute(model.getBlock(), model.getNDManager(), d, 256)) {
                    float[][] r = c.rows();
                    for (int i = 0; i < r.length; i++) {
                        out.put(catalog.samples().get(i).path().toString(), r[i]);
                    }
                }
                System.out.printf(Locale.ROOT, "embedded %d images of %s in %.1f s%n", catalog.size(), catalog.root(),
                        (System.nanoTime() - t0) / 1e9);
            }
        }
        try (ObjectOutputStream o = new ObjectOutputStream(Files.newOutputStream(file))) {
            o.writeObject(out);
        }
        return out;
    }

    /** One seed's labelled and test features and every variant on them. */
    record Problem(float[][] x, float[][] xFlip, int[] y, float[][] t, float[][] tFlip, int[] ty, int classes,
                   long seed) {

        Map<String, Double> runAll() {
            Map<String, Double> acc = new LinkedHashMap<>();
            acc.put("plain adamw raw", adamW(UnaryOperator.identity(), false, false));
            acc.put("adamw raw +flip+tta", adamW(UnaryOperator.identity(), true, true));
            double[] mean = mean(x);
            double[] std = std(x, mean);
            double norm = meanNorm(x);
            UnaryOperator<double[]> standardise = v -> {
                double[] o = new double[v.length];
                for (int j = 0; j < v.length; j++) {
                    o[j] = std[j] > 1e-12 ? (v[j] - mean[j]) / std[j] : 0;
                }
                return o;
            };
            acc.put("lr-cv std", lrCv(standardise, false, false));
            acc.put("lr-cv std +flip+tta", lrCv(standardise, true, true));
            acc.put("lr-cv global +flip+tta", lrCv(v -> scale(v, 1 / norm), true, true));
            acc.put("lr-cv sqrt-l2", lrCv(v -> l2(signedSqrt(v)), false, false));
            acc.put("lr-cv sqrt-l2 +tta", lrCv(v -> l2(signedSqrt(v)), false, true));
            acc.put("lr-cv sqrt-l2 +flip+tta", lrCv(v -> l2(signedSqrt(v)), true, true));
            return acc;
        }

        double adamW(UnaryOperator<double[]> f, boolean flip, boolean tta) {
            double[][] a = apply(x, f);
            int[] labels = y;
            if (flip) {
                a = concat(a, apply(xFlip, f));
                labels = concat(y, y);
            }
            double[][] w = Solvers.adamW(a, labels, classes, seed, 300, 1e-3, 0.01);
            return accuracy(w, apply(t, f), tta ? apply(tFlip, f) : null, ty);
        }

        double lrCv(UnaryOperator<double[]> f, boolean flip, boolean tta) {
            double[][] a = apply(x, f);
            double[][] af = apply(xFlip, f);
            double[][] all = flip ? concat(a, af) : a;
            int[] labels = flip ? concat(y, y) : y;
            int n = y.length;
            int[] fold = Solvers.folds(y, classes, 5, seed);
            int[] folds = flip ? concat(fold, fold) : fold;
            Solvers.Span span = Solvers.Span.of(all);
            double[][] z = span.project(all);
            double[] grid = new double[11];
            for (int i = 0; i < grid.length; i++) {
                grid[i] = Math.pow(10, -4 + i);
            }
            int bestCorrect = -1;
            double bestC = grid[0];
            int[] correct = Solvers.cv(z, labels, folds, classes, grid, n);
            for (int i = 0; i < grid.length; i++) {
                if (correct[i] > bestCorrect) {
                    bestCorrect = correct[i];
                    bestC = grid[i];
                }
            }
            double[][] w = Solvers.logistic(z, labels, classes, 1 / (bestC * z.length), null);
            double[][] tz = span.project(apply(t, f));
            double[][] tzf = tta ? span.project(apply(tFlip, f)) : null;
            return accuracy(w, tz, tzf, ty);
        }

        double centroid(UnaryOperator<double[]> f) {
            double[][] a = apply(x, f);
            int d = a[0].length;
            double[][] c = new double[classes][d];
            for (int i = 0; i < a.length; i++) {
                for (int j = 0; j < d; j++) {
                    c[y[i]][j] += a[i][j];
                }
            }
            double[][] w = new double[classes][d + 1];
            for (int k = 0; k < classes; k++) {
                double[] u = l2(c[k]);
                System.arraycopy(u, 0, w[k], 0, d);
            }
            return accuracy(w, apply(t, f), null, ty);
        }
    }

    static double accuracy(double[][] w, double[][] t, double[][] tFlip, int[] ty) {
        int correct = 0;
        for (int i = 0; i < t.length; i++) {
            double[] s = Solvers.scores(w, t[i]);
            if (tFlip != null) {
                double[] s2 = Solvers.scores(w, tFlip[i]);
                for (int k = 0; k < s.length; k++) {
                    s[k] += s2[k];
                }
            }
            int arg = 0;
            for (int k = 1; k < s.length; k++) {
                if (s[k] > s[arg]) {
                    arg = k;
                }
            }
            correct += arg == ty[i] ? 1 : 0;
        }
        return (double) correct / t.length;
    }

    static double[][] apply(float[][] x, UnaryOperator<double[]> f) {
        double[][] out = new double[x.length][];
        for (int i = 0; i < x.length; i++) {
            double[] v = new double[x[i].length];
            for (int j = 0; j < v.length; j++) {
                v[j] = x[i][j];
            }
            out[i] = f.apply(v);
        }
        return out;
    }

    static double[] l2(double[] v) {
        double s = 0;
        for (double a : v) {
            s += a * a;
        }
        return scale(v, s > 0 ? 1 / Math.sqrt(s) : 0);
    }

    static double[] signedSqrt(double[] v) {
        double[] o = new double[v.length];
        for (int j = 0; j < v.length; j++) {
            o[j] = Math.signum(v[j]) * Math.sqrt(Math.abs(v[j]));
        }
        return o;
    }

    static double[] scale(double[] v, double s) {
        double[] o = new double[v.length];
        for (int j = 0; j < v.length; j++) {
            o[j] = v[j] * s;
        }
        return o;
    }

    static double[] mean(float[][] x) {
        double[] m = new double[x[0].length];
        for (float[] r : x) {
            for (int j = 0; j < m.length; j++) {
                m[j] += r[j] / (double) x.length;
            }
        }
        return m;
    }

    static double[] std(float[][] x, double[] mean) {
        double[] s = new double[mean.length];
        for (float[] r : x) {
            for (int j = 0; j < s.length; j++) {
                s[j] += (r[j] - mean[j]) * (r[j] - mean[j]) / x.length;
            }
        }
        for (int j = 0; j < s.length; j++) {
            s[j] = Math.sqrt(s[j]);
        }
        return s;
    }

    static double meanNorm(float[][] x) {
        double total = 0;
        for (float[] r : x) {
            double s = 0;
            for (float a : r) {
                s += a * a;
            }
            total += Math.sqrt(s);
        }
        return total / x.length;
    }

    static double[][] concat(double[][] a, double[][] b) {
        double[][] o = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, o, a.length, b.length);
        return o;
    }

    static int[] concat(int[] a, int[] b) {
        int[] o = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, o, a.length, b.length);
        return o;
    }

    /** Solvers for the study: in the span of the training rows, warm-started along the C path. */
    static final class Solvers {
        private Solvers() {}

        static double[] scores(double[][] w, double[] v) {
            int d = v.length;
            double[] s = new double[w.length];
            for (int k = 0; k < w.length; k++) {
                double acc = w[k][d];
                for (int j = 0; j < d; j++) {
                    acc += w[k][j] * v[j];
                }
                s[k] = acc;
            }
            return s;
        }

        /** Stratified folds over the first n (original) rows. */
        static int[] folds(int[] y, int classes, int folds, long seed) {
            Random r = new Random(seed);
            int[] fold = new int[y.length];
            for (int c = 0; c < classes; c++) {
                List<Integer> m = new ArrayList<>();
                for (int i = 0; i < y.length; i++) {
                    if (y[i] == c) {
                        m.add(i);
                    }
                }
                java.util.Collections.shuffle(m, r);
                for (int k = 0; k < m.size(); k++) {
                    fold[m.get(k)] = k % folds;
                }
            }
            return fold;
        }

        /** Correct held-out predictions per grid value; held-out rows are the originals (index < n). */
        static int[] cv(double[][] z, int[] y, int[] fold, int classes, double[] grid, int n) {
            int[] correct = new int[grid.length];
            int folds = 0;
            for (int f : fold) {
                folds = Math.max(folds, f + 1);
            }
            for (int f = 0; f < folds; f++) {
                List<double[]> tr = new ArrayList<>();
                List<Integer> ty = new ArrayList<>();
                for (int i = 0; i < z.length; i++) {
                    if (fold[i] != f) {
                        tr.add(z[i]);
                        ty.add(y[i]);
                    }
                }
                double[][] a = tr.toArray(new double[0][]);
                int[] b = ty.stream().mapToInt(Integer::intValue).toArray();
                double[][] w = null;
                for (int g = 0; g < grid.length; g++) {
                    w = logistic(a, b, classes, 1 / (grid[g] * a.length), w);
                    for (int i = 0; i < n; i++) {
                        if (fold[i] == f) {
                            double[] s = scores(w, z[i]);
                            int arg = 0;
                            for (int k = 1; k < s.length; k++) {
                                if (s[k] > s[arg]) {
                                    arg = k;
                                }
                            }
                            correct[g] += arg == y[i] ? 1 : 0;
                        }
                    }
                }
            }
            return correct;
        }

        /** Multinomial logistic regression, mean CE + lambda/2 ||W||^2 (bias free), by L-BFGS. */
        static double[][] logistic(double[][] z, int[] y, int classes, double lambda, double[][] warm) {
            int d = z[0].length;
            int size = classes * (d + 1);
            double[] w = new double[size];
            if (warm != null) {
                for (int k = 0; k < classes; k++) {
                    System.arraycopy(warm[k], 0, w, k * (d + 1), d + 1);
                }
            }
            int memory = 10;
            double[][] sHist = new double[memory][];
            double[][] yHist = new double[memory][];
            double[] rho = new double[memory];
            int stored = 0;
            int head = 0;
            double[] g = new double[size];
            double f = lossAndGradient(z, y, classes, lambda, w, g);
            for (int it = 0; it < 500; it++) {
                double largest = 0;
                for (double v : g) {
                    largest = Math.max(largest, Math.abs(v));
                }
                if (largest < 1e-5) {
                    break;
                }
                // two-loop recursion
                double[] q = g.clone();
                double[] alpha = new double[memory];
                for (int m = 0; m < stored; m++) {
                    int idx = Math.floorMod(head - 1 - m, memory);
                    alpha[idx] = rho[idx] * dot(sHist[idx], q);
                    axpy(-alpha[idx], yHist[idx], q);
                }
                double gamma = 1;
                if (stored > 0) {
                    int last = Math.floorMod(head - 1, memory);
                    gamma = dot(sHist[last], yHist[last]) / dot(yHist[last], yHist[last]);
                } else {
                    gamma = 1 / Math.max(1e-12, Math.sqrt(dot(g, g)));
                }
                for (int j = 0; j < size; j++) {
                    q[j] *= gamma;
                }
                for (int m = stored - 1; m >= 0; m--) {
                    int idx = Math.floorMod(head - 1 - m, memory);
                    double beta = rho[idx] * dot(yHist[idx], q);
                    axpy(alpha[idx] - beta, sHist[idx], q);
                }
                double slope = -dot(g, q);
                if (slope >= 0) { // not a descent direction: restart from the gradient
                    stored = 0;
                    q = g.clone();
                    slope = -dot(g, q);
                }
                double t = 1;
                double[] next = new double[size];
                double[] gNext = new double[size];
                double fNext;
                while (true) {
                    for (int j = 0; j < size; j++) {
                        next[j] = w[j] - t * q[j];
                    }
                    fNext = lossAndGradient(z, y, classes, lambda, next, gNext);
                    if (fNext <= f + 1e-4 * t * slope || t < 1e-10) {
                        break;
                    }
                    t *= 0.5;
                }
                double[] sv = new double[size];
                double[] yv = new double[size];
                for (int j = 0; j < size; j++) {
                    sv[j] = next[j] - w[j];
                    yv[j] = gNext[j] - g[j];
                }
                double sy = dot(sv, yv);
                if (sy > 1e-12) {
                    sHist[head] = sv;
                    yHist[head] = yv;
                    rho[head] = 1 / sy;
                    head = (head + 1) % memory;
                    stored = Math.min(stored + 1, memory);
                }
                boolean stalled = f - fNext < 1e-12 * Math.max(1, Math.abs(f));
                w = next;
                g = gNext;
                f = fNext;
                if (stalled) {
                    break;
                }
            }
            double[][] out = new double[classes][d + 1];
            for (int k = 0; k < classes; k++) {
                System.arraycopy(w, k * (d + 1), out[k], 0, d + 1);
            }
            return out;
        }

        private static double lossAndGradient(double[][] z, int[] y, int classes, double lambda, double[] w, double[] g) {
            int n = z.length;
            int d = z[0].length;
            int stride = d + 1;
            double loss = 0;
            java.util.Arrays.fill(g, 0);
            for (int k = 0; k < classes; k++) {
                for (int j = 0; j < d; j++) {
                    double v = w[k * stride + j];
                    loss += 0.5 * lambda * v * v;
                    g[k * stride + j] = lambda * v;
                }
            }
            double[] p = new double[classes];
            for (int i = 0; i < n; i++) {
                double[] row = z[i];
                double max = Double.NEGATIVE_INFINITY;
                for (int k = 0; k < classes; k++) {
                    int o = k * stride;
                    double s = w[o + d];
                    for (int j = 0; j < d; j++) {
                        s += w[o + j] * row[j];
                    }
                    p[k] = s;
                    max = Math.max(max, s);
                }
                double sum = 0;
                for (int k = 0; k < classes; k++) {
                    sum += Math.exp(p[k] - max);
                }
                loss += (Math.log(sum) + max - p[y[i]]) / n;
                for (int k = 0; k < classes; k++) {
                    double e = (Math.exp(p[k] - max) / sum - (y[i] == k ? 1 : 0)) / n;
                    int o = k * stride;
                    for (int j = 0; j < d; j++) {
                        g[o + j] += e * row[j];
                    }
                    g[o + d] += e;
                }
            }
            return loss;
        }

        private static double dot(double[] a, double[] b) {
            double s = 0;
            for (int j = 0; j < a.length; j++) {
                s += a[j] * b[j];
            }
            return s;
        }

        private static void axpy(double a, double[] x, double[] y) {
            for (int j = 0; j < x.length; j++) {
                y[j] += a * x[j];
            }
        }

        /** Top eigenvalue of (1/n) sum z z^T with the bias column, by power iteration. */
        static double eigenBound(double[][] z) {
            int d = z[0].length + 1;
            double[] v = new double[d];
            java.util.Arrays.fill(v, 1 / Math.sqrt(d));
            double value = 1;
            for (int it = 0; it < 30; it++) {
                double[] u = new double[d];
                for (double[] row : z) {
                    double dot = v[d - 1];
                    for (int j = 0; j < d - 1; j++) {
                        dot += row[j] * v[j];
                    }
                    for (int j = 0; j < d - 1; j++) {
                        u[j] += dot * row[j];
                    }
                    u[d - 1] += dot;
                }
                double norm = 0;
                for (int j = 0; j < d; j++) {
                    u[j] /= z.length;
                    norm += u[j] * u[j];
                }
                norm = Math.sqrt(norm);
                if (norm == 0) {
                    return 1;
                }
                value = norm;
                for (int j = 0; j < d; j++) {
                    v[j] = u[j] / norm;
                }
            }
            return value * 1.1;
        }

        /** AdamW on the features (Xavier-uniform start, zero bias), full batch, fixed rate. */
        static double[][] adamW(double[][] x, int[] y, int classes, long seed, int steps, double lr, double wd) {
            int n = x.length;
            int d = x[0].length;
            Random r = new Random(seed);
            double bound = Math.sqrt(6.0 / (d + classes));
            double[][] w = new double[classes][d + 1];
            for (int k = 0; k < classes; k++) {
                for (int j = 0; j < d; j++) {
                    w[k][j] = (2 * r.nextDouble() - 1) * bound;
                }
            }
            double[][] m = new double[classes][d + 1];
            double[][] v = new double[classes][d + 1];
            double[][] g = new double[classes][d + 1];
            double[] p = new double[classes];
            for (int step = 1; step <= steps; step++) {
                for (double[] gk : g) {
                    java.util.Arrays.fill(gk, 0);
                }
                for (int i = 0; i < n; i++) {
                    double[] s = scores(w, x[i]);
                    double max = java.util.Arrays.stream(s).max().orElse(0);
                    double sum = 0;
                    for (int k = 0; k < classes; k++) {
                        p[k] = Math.exp(s[k] - max);
                        sum += p[k];
                    }
                    for (int k = 0; k < classes; k++) {
                        double e = (p[k] / sum - (y[i] == k ? 1 : 0)) / n;
                        for (int j = 0; j < d; j++) {
                            g[k][j] += e * x[i][j];
                        }
                        g[k][d] += e;
                    }
                }
                double c1 = 1 - Math.pow(0.9, step);
                double c2 = 1 - Math.pow(0.999, step);
                for (int k = 0; k < classes; k++) {
                    for (int j = 0; j <= d; j++) {
                        m[k][j] = 0.9 * m[k][j] + 0.1 * g[k][j];
                        v[k][j] = 0.999 * v[k][j] + 0.001 * g[k][j] * g[k][j];
                        w[k][j] -= lr * (m[k][j] / c1 / (Math.sqrt(v[k][j] / c2) + 1e-8) + wd * w[k][j]);
                    }
                }
            }
            return w;
        }

        /** An orthonormal basis of the rows' span (modified Gram-Schmidt, twice), to solve in n dimensions. */
        record Span(double[][] basis) {
            static Span of(double[][] rows) {
                List<double[]> q = new ArrayList<>();
                for (double[] row : rows) {
                    double[] v = row.clone();
                    double before = Math.sqrt(dot(v, v));
                    for (int pass = 0; pass < 2; pass++) {
                        for (double[] b : q) {
                            double c = dot(v, b);
                            for (int j = 0; j < v.length; j++) {
                                v[j] -= c * b[j];
                            }
                        }
                    }
                    double norm = Math.sqrt(dot(v, v));
                    if (norm > 1e-8 * Math.max(before, 1e-30)) {
                        for (int j = 0; j < v.length; j++) {
                            v[j] /= norm;
                        }
                        q.add(v);
                    }
                }
                return new Span(q.toArray(new double[0][]));
            }

            double[][] project(double[][] rows) {
                double[][] out = new double[rows.length][basis.length];
                for (int i = 0; i < rows.length; i++) {
                    for (int k = 0; k < basis.length; k++) {
                        out[i][k] = dot(rows[i], basis[k]);
                    }
                }
                return out;
            }

            private static double dot(double[] a, double[] b) {
                double s = 0;
                for (int j = 0; j < a.length; j++) {
                    s += a[j] * b[j];
                }
                return s;
            }
        }
    }
}
