package dev.finetune.examples.quality;

import ai.djl.Model;
import dev.finetune.core.FineTuner;
import dev.finetune.core.features.FeatureCache;
import dev.finetune.core.result.Evaluation;
import dev.finetune.core.listeners.EarlyStopping;
import dev.finetune.core.stage.Stage;
import dev.finetune.core.result.FineTuneResult;
import dev.finetune.vision.auto.AutoFineTune;
import dev.finetune.vision.auto.AutoResult;
import dev.finetune.vision.backbone.TorchScriptBackbone;
import dev.finetune.vision.bottleneck.CrossValidation;
import dev.finetune.core.head.HeadReplacer;
import dev.finetune.vision.data.ImageCatalog;
import dev.finetune.vision.data.ImageDataset;
import dev.finetune.vision.data.ImageSample;
import dev.finetune.vision.image.ResizeMode;
import dev.finetune.vision.transform.ImagePipeline;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.Callable;

/**
 * The quality benchmark: on real small image sets that are not Fashion-MNIST or MNIST, at 10, 20 and
 * 50 training images per class over several seeds, the library's automatic plan, the bottleneck
 * path, a fixed strategy (head-only fine-tuning on cached features, 300 steps), with
 * {@code --strategies} the fine-tuning strategies after the head (tens of minutes a run on a CPU at
 * 224 px: meant for a GPU), and the plain-DJL baseline ({@link PlainDjlBaseline}), all on the same
 * real ImageNet-initialised MobileNetV2. Writes
 * {@code benchmarks/quality.md} after every setting, with the targets marked PASS or SHORT.
 *
 * <p>Run (after {@code bash benchmarks/quality-data/prepare.sh}):
 * {@code mvn -B -q -DskipTests install && mvn -B -q -pl finetune-examples exec:exec
 * -Dmain.class=dev.finetune.examples.quality.QualityBenchmark [-Dapp.args="--seeds 5 --data DIR --strategies full,partial"]}.
 *
 * <p>Flags (defaults shown): {@code --seeds 3}, {@code --sizes 10,20,50}, {@code --sets NAME,...} (the sets
 * whose names start with one of them; default all), {@code --strategies partial,full,discriminative,gradual}
 * (default none), {@code --data /opt/finetune-quality-data}, {@code --out ../benchmarks/quality.md};
 * {@code --help}.
 */
@Command(name = "QualityBenchmark", mixinStandardHelpOptions = true,
        description = "On real small image sets, at several training images per class over seeds: the automatic"
                + " plan, the bottleneck path, head-only fine-tuning, optionally fine-tuning strategies, and the"
                + " plain-DJL baseline, all on the ImageNet-initialised MobileNetV2. Writes the report after every"
                + " setting. Run bash benchmarks/quality-data/prepare.sh first.")
public final class QualityBenchmark implements Callable<Integer> {

    static final Path MODEL = Paths.get("models/mobilenetv2-nsfwjs-embedding.pt");
    static final int VALIDATION_PER_CLASS = 5;
    static final int TEST_PER_CLASS = 15;
    static final int MIN_TEST_PER_CLASS = 2;

    private QualityBenchmark() {}

    /** One set's images: where training/validation and test images come from (the same folder, or two vendors). */
    record DataSet(String name, ImageCatalog source, ImageCatalog target) {}

    /** One setting's figures per method, over seeds. */
    record Row(String set, int perClass, Map<String, List<double[]>> runs) {}

    /** The strategies {@code --strategies} takes, as {@link #fixedStrategy} names them. */
    static final List<String> STRATEGIES = List.of("partial", "full", "discriminative", "gradual");

    @Option(names = "--seeds", paramLabel = "N", description = "seeds per setting (default: ${DEFAULT-VALUE})")
    private int seeds = 3;

    @Option(names = "--sizes", split = ",", paramLabel = "N",
            description = "training images per class, one setting each (default: 10,20,50)")
    private int[] sizes = {10, 20, 50};

    @Option(names = "--sets", split = ",", paramLabel = "NAME",
            description = "only the sets whose names start with one of these (openclipart, gcompris, emoji;"
                    + " default: all)")
    private List<String> only;

    @Option(names = "--strategies", split = ",", paramLabel = "NAME",
            description = "also fine-tune with these strategies after the head: ${COMPLETION-CANDIDATES}"
                    + " (tens of minutes a run on a CPU; default: none)",
            completionCandidates = StrategyNames.class)
    private List<String> strategies = new ArrayList<>();

    @Option(names = "--strategy-epochs", paramLabel = "N",
            description = "epochs of each --strategies fine-tune, early stopping aside (default: ${DEFAULT-VALUE})")
    private int strategyEpochs = 10;

    @Option(names = "--precision", paramLabel = "P",
            description = "the precision the --strategies fine-tunes train in: FP32 or BF16 (bfloat16 needs"
                    + " DNNL_MAX_CPU_ISA unset or at AVX512_CORE_BF16; default: ${DEFAULT-VALUE})")
    private dev.finetune.core.Precision precision = dev.finetune.core.Precision.FP32;

    @Option(names = "--strategies-only",
            description = "run only the --strategies fine-tunes (the other methods do not depend on the precision)")
    private boolean strategiesOnly;

    @Option(names = "--data", paramLabel = "DIR", description = "the image sets prepare.sh fills (default: ${DEFAULT-VALUE})")
    private Path data = Paths.get("/opt/finetune-quality-data");

    @Option(names = "--out", paramLabel = "FILE", description = "the report (default: ${DEFAULT-VALUE})")
    private Path out = Paths.get("../benchmarks/quality.md");

    @Spec
    private CommandSpec spec;

    /**
     * Runs the benchmark; {@code --help} lists the flags.
     *
     * @param args flags
     */
    public static void main(String[] args) {
        System.exit(new CommandLine(new QualityBenchmark()).execute(args));
    }

    /**
     * Runs every setting and writes the report.
     *
     * @return 0
     * @throws Exception if the image sets are missing or a run fails
     */
    @Override
    public Integer call() throws Exception {
        for (String strategy : strategies) {
            if (!STRATEGIES.contains(strategy)) {
                throw new ParameterException(spec.commandLine(), "Invalid value for option '--strategies': '"
                        + strategy + "' (use " + String.join(", ", STRATEGIES) + ")");
            }
        }
        if (!Files.isDirectory(data.resolve("openclipart"))) {
            throw new IllegalStateException("No image sets under " + data + ": run bash benchmarks/quality-data/prepare.sh first.");
        }
        List<DataSet> sets = sets(data);
        List<Row> rows = new ArrayList<>();
        List<String> notes = new ArrayList<>();
        for (DataSet set : sets) {
            if (only != null && only.stream().noneMatch(set.name()::startsWith)) {
                continue;
            }
            for (int n : sizes) {
                int fewest = fewestPerClass(set.source());
                int needed = n + VALIDATION_PER_CLASS + (set.target() == null ? MIN_TEST_PER_CLASS : 0);
                if (fewest < needed) {
                    notes.add(String.format(Locale.ROOT, "%s at %d images per class: not measured, its smallest class"
                            + " has %d images (%d needed with validation and test)", set.name(), n, fewest, needed));
                    continue;
                }
                Row row = new Row(set.name(), n, new LinkedHashMap<>());
                for (int seed = 1; seed <= seeds; seed++) {
                    run(set, n, seed, row, strategies, strategyEpochs, precision, strategiesOnly);
                }
                rows.add(row);
                QualityReport.write(out, rows, notes, seeds);
            }
        }
        QualityReport.write(out, rows, notes, seeds);
        System.out.println(Files.readString(out));
        return 0;
    }

    /** The names {@code --strategies} takes, for the help. */
    static final class StrategyNames implements Iterable<String> {
        @Override
        public java.util.Iterator<String> iterator() {
            return STRATEGIES.iterator();
        }
    }

    /** The benchmark's image sets under the folder {@code prepare.sh} fills. */
    static List<DataSet> sets(Path data) throws java.io.IOException {
        return List.of(
                new DataSet("openclipart", ImageCatalog.scan(data.resolve("openclipart")), null),
                new DataSet("gcompris", ImageCatalog.scan(data.resolve("gcompris")), null),
                new DataSet("emoji google->apple", ImageCatalog.scan(data.resolve("emoji/google")),
                        ImageCatalog.scan(data.resolve("emoji/apple"))));
    }

    static int fewestPerClass(ImageCatalog catalog) {
        int[] counts = new int[catalog.classNames().size()];
        for (ImageSample s : catalog.samples()) {
            counts[s.label()]++;
        }
        return java.util.Arrays.stream(counts).min().orElse(0);
    }

    /** The images of one seed's draw: training, validation (both labelled) and test. */
    record Parts(List<ImageSample> train, List<ImageSample> validation, List<ImageSample> test) {}

    /**
     * Draws one seed's parts: per class, {@code n} training and {@value #VALIDATION_PER_CLASS}
     * validation images from the source, and up to {@value #TEST_PER_CLASS} test images from the
     * rest of the source, or, for a set with a target, from the target's drawings of other images.
     */
    static Parts draw(DataSet set, int n, int seed) {
        Map<Integer, List<ImageSample>> byClass = new LinkedHashMap<>();
        for (ImageSample s : set.source().samples()) {
            byClass.computeIfAbsent(s.label(), k -> new ArrayList<>()).add(s);
        }
        List<ImageSample> train = new ArrayList<>();
        List<ImageSample> validation = new ArrayList<>();
        List<ImageSample> test = new ArrayList<>();
        java.util.Set<String> used = new java.util.HashSet<>();
        for (List<ImageSample> samples : byClass.values()) {
            List<ImageSample> shuffled = new ArrayList<>(samples);
            Collections.shuffle(shuffled, new Random(seed * 1000L + samples.get(0).label()));
            train.addAll(shuffled.subList(0, n));
            validation.addAll(shuffled.subList(n, n + VALIDATION_PER_CLASS));
            for (ImageSample s : shuffled.subList(0, n + VALIDATION_PER_CLASS)) {
                used.add(s.path().getFileName().toString());
            }
            if (set.target() == null) {
                test.addAll(shuffled.subList(n + VALIDATION_PER_CLASS,
                        Math.min(shuffled.size(), n + VALIDATION_PER_CLASS + TEST_PER_CLASS)));
            }
        }
        if (set.target() != null) { // another vendor's drawings of emoji not used for training
            Map<Integer, List<ImageSample>> other = new LinkedHashMap<>();
            for (ImageSample s : set.target().samples()) {
                if (!used.contains(s.path().getFileName().toString())) {
                    other.computeIfAbsent(s.label(), k -> new ArrayList<>()).add(s);
                }
            }
            for (List<ImageSample> samples : other.values()) {
                List<ImageSample> shuffled = new ArrayList<>(samples);
                Collections.shuffle(shuffled, new Random(seed * 7919L + samples.get(0).label()));
                test.addAll(shuffled.subList(0, Math.min(TEST_PER_CLASS, shuffled.size())));
            }
        }
        return new Parts(train, validation, test);
    }

    /** Draws the parts for one seed and runs every method on them. */
    private static void run(DataSet set, int n, int seed, Row row, List<String> strategies, int strategyEpochs,
            dev.finetune.core.Precision precision, boolean strategiesOnly) throws Exception {
        List<String> names = set.source().classNames();
        Parts parts = draw(set, n, seed);
        List<ImageSample> train = parts.train();
        List<ImageSample> validation = parts.validation();
        List<ImageSample> test = parts.test();
        ImageCatalog trainPart = ImageCatalog.of(names, train);
        ImageCatalog validationPart = ImageCatalog.of(names, validation);
        ImageCatalog testPart = ImageCatalog.of(names, test);
        String where = String.format(Locale.ROOT, "%s, %d/class, seed %d", set.name(), n, seed);

        List<ImageSample> labelled = new ArrayList<>(train);
        labelled.addAll(validation);
        if (!strategiesOnly) {
            baselines(names, labelled, test, trainPart, validationPart, testPart, seed, row, where);
        }
        for (String strategy : strategies) {
            Stage tuned = fixedStrategy(strategy, strategyEpochs);
            long start = System.nanoTime();
            try (Model model = TorchScriptBackbone.load(MODEL)) {
                // linear probe, then the strategy (LP-FT), with flips in training and early stopping on validation loss
                FineTuner tuner = FineTuner.from(model).replaceHead(names.size(), HeadReplacer.append()).optClassNames(names)
                        .optSeed(seed).optProgress(false).optFeatureCache(true).addListener(EarlyStopping.patience(3))
                        .optPrecision(precision)
                        .stage(Stage.headOnly().withSteps(300).withLearningRate(1e-3))
                        .stage(tuned);
                FineTuneResult fit = tuner.fit(ImageDataset.builder().setCatalog(trainPart)
                        .optPipeline(pipeline().training(seed)).setSampling(16, true).build(),
                        dataset(validationPart, false));
                if (!fit.warnings().isEmpty()) {
                    System.out.printf(Locale.ROOT, "%s: warnings %s%n", where, fit.warnings());
                }
                Evaluation t = tuner.evaluate(dataset(testPart, false));
                double wall = (System.nanoTime() - start) / 1e9;
                System.out.printf(Locale.ROOT, "%s: kept epoch %d, validation %.3f; measured again %.3f%n", where,
                        fit.bestEpoch().epoch(), fit.bestEpoch().validationAccuracy(),
                        tuner.evaluate(dataset(validationPart, false)).accuracy());
                String name = "head 300 steps, then " + tuned.name() + " " + tuned.epochs() + " epochs"
                        + (precision == dev.finetune.core.Precision.FP32 ? "" : " (" + precision.name().toLowerCase(Locale.ROOT) + ")");
                row.runs().computeIfAbsent(name, k -> new ArrayList<>()).add(new double[] {t.accuracy(), wall});
                System.out.printf(Locale.ROOT, "%s: %s %.3f in %.1f s%n", where, name, t.accuracy(), wall);
            }
        }
    }

    /** The methods that do not fine-tune the backbone: plain DJL, the automatic plan, the bottleneck, head-only. */
    private static void baselines(List<String> names, List<ImageSample> labelled, List<ImageSample> test,
            ImageCatalog trainPart,
            ImageCatalog validationPart, ImageCatalog testPart, int seed, Row row, String where) throws Exception {
        PlainDjlBaseline.Result plain = PlainDjlBaseline.run(MODEL, labels(labelled), labels(test), seed);
        row.runs().computeIfAbsent("plain DJL baseline", k -> new ArrayList<>())
                .add(new double[] {plain.testAccuracy(), plain.wallSeconds()});
        System.out.printf(Locale.ROOT, "%s: plain %.3f in %.1f s%n", where, plain.testAccuracy(), plain.wallSeconds());

        long start = System.nanoTime();
        try (AutoResult auto = AutoFineTune.builder().setBackbone(MODEL).setData(trainPart, validationPart)
                .optPipeline(pipeline()).optSeed(seed).build().run()) {
            Evaluation t = auto.evaluate(testPart);
            double wall = (System.nanoTime() - start) / 1e9;
            row.runs().computeIfAbsent("automatic plan", k -> new ArrayList<>()).add(new double[] {t.accuracy(), wall});
            System.out.printf(Locale.ROOT, "%s: auto %.3f in %.1f s%n%s", where, t.accuracy(), wall, auto);
        }

        start = System.nanoTime();
        double bottleneck = bottleneck(ImageCatalog.of(names, labelled), testPart, seed);
        double bottleneckWall = (System.nanoTime() - start) / 1e9;
        row.runs().computeIfAbsent("bottleneck path (standardised, C by cross-validation)", k -> new ArrayList<>())
                .add(new double[] {bottleneck, bottleneckWall});
        System.out.printf(Locale.ROOT, "%s: bottleneck %.3f in %.1f s%n", where, bottleneck, bottleneckWall);

        start = System.nanoTime();
        try (Model model = TorchScriptBackbone.load(MODEL)) {
            FineTuner tuner = FineTuner.from(model).replaceHead(names.size(), HeadReplacer.append()).optClassNames(names)
                    .optSeed(seed).optProgress(false).optFeatureCache(true)
                    .stage(Stage.headOnly().withSteps(300).withLearningRate(1e-3));
            tuner.fit(dataset(trainPart, true), dataset(validationPart, false));
            Evaluation t = tuner.evaluate(dataset(testPart, false));
            double wall = (System.nanoTime() - start) / 1e9;
            row.runs().computeIfAbsent("head-only, 300 steps", k -> new ArrayList<>()).add(new double[] {t.accuracy(), wall});
            System.out.printf(Locale.ROOT, "%s: head-only %.3f in %.1f s%n", where, t.accuracy(), wall);
        }
    }

    /** A fixed strategy after the head, at its default rate, up to {@code epochs} epochs (early stopping). */
    private static Stage fixedStrategy(String name, int epochs) {
        return switch (name) {
            case "partial" -> Stage.partial(2).withEpochs(epochs);
            case "full" -> Stage.full().withEpochs(epochs);
            case "discriminative" -> Stage.discriminative(2.6).withEpochs(epochs);
            case "gradual" -> Stage.gradualUnfreezing().withEpochs(epochs);
            default -> throw new IllegalArgumentException("Unknown strategy " + name
                    + "; use partial, full, discriminative or gradual.");
        };
    }

    /**
     * The bottleneck path as the library offered it before the automatic plan: features of the
     * training and validation images, standardised, logistic regression with C by cross-validation
     * (the library's defaults), no mirroring.
     */
    private static double bottleneck(ImageCatalog labelled, ImageCatalog test, long seed) throws Exception {
        try (Model model = TorchScriptBackbone.load(MODEL);
                FeatureCache x = FeatureCache.compute(model.getBlock(), model.getNDManager(), dataset(labelled, false), 256);
                FeatureCache t = FeatureCache.compute(model.getBlock(), model.getNDManager(), dataset(test, false), 256)) {
            CrossValidation.Selection s = CrossValidation.builder().optSeed(seed).build()
                    .select(x.rows(), x.labels(), labelled.classNames().size());
            return s.classifier().accuracy(t.rows(), t.labels());
        }
    }

    private static ImageDataset dataset(ImageCatalog part, boolean training) {
        // small batches: a CPU runs MobileNetV2 several times faster per image in batches of 4 than of 256
        return ImageDataset.builder().setCatalog(part).optPipeline(pipeline().evaluation())
                .setSampling(training ? 16 : 4, training).build();
    }

    /** The embedding's input: the whole image squashed to 224 x 224 over white, RGB in [0, 1]. */
    static ImagePipeline pipeline() {
        return ImagePipeline.builder().setSize(224).optResizeMode(ResizeMode.SQUASH).optAllowUpscale(true)
                .optNormalization(new float[] {0, 0, 0}, new float[] {1, 1, 1}).build();
    }

    private static List<PlainDjlBaseline.LabeledImage> labels(List<ImageSample> samples) {
        List<PlainDjlBaseline.LabeledImage> out = new ArrayList<>();
        for (ImageSample s : samples) {
            out.add(new PlainDjlBaseline.LabeledImage(s.path(), s.label()));
        }
        return out;
    }
}
