package dev.finetune.examples.quality;

import ai.djl.Model;
import ai.djl.translate.Pipeline;
import dev.finetune.core.features.FeatureCache;
import dev.finetune.vision.backbone.TorchScriptBackbone;
import dev.finetune.vision.bottleneck.CrossValidation;
import dev.finetune.vision.bottleneck.FeatureScaling;
import dev.finetune.vision.bottleneck.LinearClassifier;
import dev.finetune.vision.bottleneck.LinearModels;
import dev.finetune.vision.data.ImageCatalog;
import dev.finetune.vision.data.ImageDataset;
import dev.finetune.vision.data.ImageSample;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

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
import java.util.concurrent.Callable;
import java.util.regex.Pattern;

/**
 * A study of linear classifiers on frozen features, on the quality benchmark's sets and splits:
 * which feature normalisation, regularisation search and feature augmentation beat the plain DJL
 * program. Embeds every image once (and its mirror image), keeps the features on disk, then runs
 * each variant over many seeds in seconds. Prints mean test accuracy per variant and its paired
 * difference to the plain program's recipe.
 *
 * <p>Run: {@code mvn -q -pl finetune-examples exec:exec -Dmain.class=dev.finetune.examples.quality.ProbeStudy
 * -Dapp.args="--seeds 10"}; {@code --variants REGEX}, {@code --sets REGEX} (over the names) and
 * {@code --sizes 10,20} narrow the run; {@code --cache DIR} (default {@code /tmp/probe-cache}) keeps the
 * features; {@code --help}.
 */
@Command(name = "ProbeStudy", mixinStandardHelpOptions = true,
        description = "Linear classifiers on frozen MobileNetV2 features, on the quality benchmark's sets and"
                + " splits: mean test accuracy per variant and its paired difference to the plain DJL program's"
                + " recipe. Features are computed once and kept in the cache folder.")
public final class ProbeStudy implements Callable<Integer> {

    /** Which variants run: a regular expression over their names (the plain recipe always runs). */
    private static Pattern variantPattern = Pattern.compile(".*");

    @Option(names = "--seeds", paramLabel = "N", description = "seeds per setting (default: ${DEFAULT-VALUE})")
    private int seeds = 10;

    @Option(names = "--cache", paramLabel = "DIR", description = "where the features are kept (default: ${DEFAULT-VALUE})")
    private Path cache = Paths.get("/tmp/probe-cache");

    @Option(names = "--variants", paramLabel = "REGEX",
            description = "the variants to run, by name (default: all; the plain recipe always runs)")
    private Pattern variants = Pattern.compile(".*");

    @Option(names = "--sets", paramLabel = "REGEX", description = "the sets to run, by name (default: all)")
    private Pattern sets = Pattern.compile(".*");

    @Option(names = "--sizes", split = ",", paramLabel = "N",
            description = "training images per class, one setting each (default: 10,20,50)")
    private int[] sizes = {10, 20, 50};

    private ProbeStudy() {}

    /**
     * Runs the study; {@code --help} lists the flags.
     *
     * @param args flags
     */
    public static void main(String[] args) {
        System.exit(new CommandLine(new ProbeStudy()).execute(args));
    }

    /**
     * Embeds the sets (once), runs every variant over the seeds and prints the table.
     *
     * @return 0
     * @throws Exception if the image sets are missing or a run fails
     */
    @Override
    public Integer call() throws Exception {
        Path data = Paths.get("/opt/finetune-quality-data");
        variantPattern = variants;
        Files.createDirectories(cache);
        Map<String, double[]> total = new LinkedHashMap<>();
        int settings = 0;
        for (QualityBenchmark.DataSet set : QualityBenchmark.sets(data)) {
            if (!sets.matcher(set.name()).matches()) {
                continue;
            }
            String key = set.name().replaceAll("[^a-z]", "");
            Map<String, float[]> plainF = features(cache.resolve(key + "-orig.bin"), set, false);
            Map<String, float[]> flipF = features(cache.resolve(key + "-flip.bin"), set, true);
            for (int n : sizes) {
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
        return 0;
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
            acc.put("plain adamw raw", adamW(false));
            Map<String, java.util.function.DoubleSupplier> variants = new LinkedHashMap<>();
            variants.put("adamw raw +flip+tta", () -> adamW(true));
            for (FeatureScaling scaling : FeatureScaling.values()) {
                String name = "lr-cv " + scaling.name().toLowerCase(Locale.ROOT);
                variants.put(name, () -> lrCv(scaling, false, false));
                variants.put(name + " +tta", () -> lrCv(scaling, false, true));
                variants.put(name + " +flip+tta", () -> lrCv(scaling, true, true));
                variants.put(name + " on mirror means", () -> mirrorMeans(scaling));
            }
            variants.forEach((name, run) -> {
                if (variantPattern.matcher(name).matches()) {
                    acc.put(name, run.getAsDouble());
                }
            });
            return acc;
        }

        /** Each image's features averaged with its mirror image's, in training and in testing. */
        double mirrorMeans(FeatureScaling scaling) {
            LinearClassifier c = CrossValidation.builder().optSeed(seed)
                    .optTrainer(LinearModels.logisticRegression(scaling)).optGrid(CrossValidation.logGrid(1e-2, 1e4, 1))
                    .build().select(mean(x, xFlip), y, classes).classifier();
            return c.accuracy(mean(t, tFlip), ty);
        }

        /** The plain program's recipe: AdamW 1e-3, 300 full-batch steps on the raw features. */
        double adamW(boolean flip) {
            double[][] a = apply(flip ? concat(x, xFlip) : x);
            double[][] w = adamWFit(a, flip ? concat(y, y) : y, classes, seed, 300, 1e-3, 0.01);
            return accuracy(w, apply(t), flip ? apply(tFlip) : null, ty);
        }

        /** The library's linear classifier, C by cross-validation (mirror images in their original's fold). */
        double lrCv(FeatureScaling scaling, boolean flip, boolean tta) {
            int n = y.length;
            int[] groups = new int[flip ? 2 * n : n];
            for (int i = 0; i < groups.length; i++) {
                groups[i] = i % n;
            }
            LinearClassifier c = CrossValidation.builder().optSeed(seed)
                    .optTrainer(LinearModels.logisticRegression(scaling)).optGrid(CrossValidation.logGrid(1e-2, 1e4, 1))
                    .build().select(flip ? concat(x, xFlip) : x, flip ? concat(y, y) : y, classes, groups).classifier();
            int correct = 0;
            for (int i = 0; i < t.length; i++) {
                double[] s = c.scores(t[i]);
                if (tta) {
                    double[] m = c.scores(tFlip[i]);
                    for (int k = 0; k < s.length; k++) {
                        s[k] += m[k];
                    }
                }
                correct += argMax(s) == ty[i] ? 1 : 0;
            }
            return (double) correct / t.length;
        }
    }

    static float[][] mean(float[][] a, float[][] b) {
        float[][] out = new float[a.length][a[0].length];
        for (int i = 0; i < a.length; i++) {
            for (int j = 0; j < a[i].length; j++) {
                out[i][j] = (a[i][j] + b[i][j]) / 2;
            }
        }
        return out;
    }

    static int argMax(double[] s) {
        int arg = 0;
        for (int k = 1; k < s.length; k++) {
            if (s[k] > s[arg]) {
                arg = k;
            }
        }
        return arg;
    }

    static double accuracy(double[][] w, double[][] t, double[][] tFlip, int[] ty) {
        int correct = 0;
        for (int i = 0; i < t.length; i++) {
            double[] s = scores(w, t[i]);
            if (tFlip != null) {
                double[] s2 = scores(w, tFlip[i]);
                for (int k = 0; k < s.length; k++) {
                    s[k] += s2[k];
                }
            }
            correct += argMax(s) == ty[i] ? 1 : 0;
        }
        return (double) correct / t.length;
    }

    static double[][] apply(float[][] x) {
        double[][] out = new double[x.length][];
        for (int i = 0; i < x.length; i++) {
            double[] v = new double[x[i].length];
            for (int j = 0; j < v.length; j++) {
                v[j] = x[i][j];
            }
            out[i] = v;
        }
        return out;
    }

    static float[][] concat(float[][] a, float[][] b) {
        float[][] o = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, o, a.length, b.length);
        return o;
    }

    static int[] concat(int[] a, int[] b) {
        int[] o = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, o, a.length, b.length);
        return o;
    }

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

    /** AdamW on the features (Xavier-uniform start, zero bias), full batch, fixed rate. */
    static double[][] adamWFit(double[][] x, int[] y, int classes, long seed, int steps, double lr, double wd) {
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
}
