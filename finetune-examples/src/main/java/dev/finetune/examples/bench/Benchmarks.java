package dev.finetune.examples.bench;

import ai.djl.Device;
import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.EasyTrain;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import ai.djl.training.Trainer;
import ai.djl.training.dataset.ArrayDataset;
import ai.djl.training.dataset.Batch;
import ai.djl.training.dataset.Dataset;
import ai.djl.training.loss.Loss;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.training.tracker.Tracker;
import ai.djl.translate.TranslateException;
import ai.djl.util.Pair;
import ai.djl.util.Progress;
import dev.finetune.core.FineTuneListener;
import dev.finetune.core.FineTuner;
import dev.finetune.core.Precision;
import dev.finetune.core.TrainingInterruptedException;
import dev.finetune.core.compare.PeakMemory;
import dev.finetune.core.result.EpochMetrics;
import dev.finetune.core.result.FineTuneResult;
import dev.finetune.core.plan.BatchNormPolicy;
import dev.finetune.core.plan.OptimizerSpec;
import dev.finetune.core.plan.Schedule;
import dev.finetune.core.stage.Stage;
import dev.finetune.core.features.FeatureCache;
import dev.finetune.core.head.HeadReplacer;
import dev.finetune.core.testing.MemoryProbe;
import dev.finetune.core.testing.NativeHeap;
import dev.finetune.examples.FolderFineTune;
import dev.finetune.examples.SmallCnn;
import dev.finetune.examples.StudyData;
import dev.finetune.vision.backbone.Heads;
import dev.finetune.vision.backbone.TorchScriptBackbone;
import dev.finetune.vision.bottleneck.LinearModels;
import dev.finetune.vision.data.DataSplit;
import dev.finetune.vision.data.IdxImages;
import dev.finetune.vision.data.ImageCatalog;
import dev.finetune.vision.data.ImageDataset;
import dev.finetune.vision.data.PipelineThroughput;
import dev.finetune.vision.transform.ImagePipeline;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

import com.google.gson.GsonBuilder;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;

/**
 * Issue 5's benchmark suite: each target measured as a ratio in one run, printed as measured/target
 * with PASS or SHORT, and written to {@code benchmarks/results-<device>.md} and {@code .json}.
 * Timings are medians of several runs after warm-up; absolute figures appear only beside their ratio.
 *
 * <p>Flags: {@code --full} (larger sizes, more repeats; meant for a GPU), {@code --out DIR} (default
 * {@code benchmarks} of the repository), {@code --python EXE} (the interpreter with torch for the
 * PyTorch reference; default {@code $FINETUNE_PYTHON} or {@code python3}; skipped when torch is missing),
 * {@code --only 5,5c} (those targets alone; write them elsewhere with {@code --out}), {@code --timed-steps N}
 * (target 7's timed steps per measurement); {@code --help}.
 */
@Command(name = "Benchmarks", mixinStandardHelpOptions = true,
        description = "Issue 5's benchmark suite: each target measured as a ratio in one run, printed as"
                + " measured/target with PASS or SHORT, and written to benchmarks/results-<device>.md and .json.")
public final class Benchmarks implements Callable<Integer> {

    private static final int[] ALL = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};

    /** The targets' ids, in the order {@link #call} runs them. */
    static final List<String> TARGETS = List.of("1", "2", "2b", "3", "3b", "4", "4b", "5", "5b", "5c", "5d", "5e",
            "6", "6b", "7");

    @Option(names = "--full", description = "larger sizes, more repeats; meant for a GPU")
    private boolean full;

    @Option(names = "--out", paramLabel = "DIR", description = "where the results go (default: benchmarks of the repository)")
    private Path out;

    @Option(names = "--python", paramLabel = "EXE", defaultValue = "${env:FINETUNE_PYTHON:-python3}",
            description = "the interpreter with torch for the PyTorch reference, which is skipped when torch is"
                    + " missing (default: $FINETUNE_PYTHON or python3; here ${DEFAULT-VALUE})")
    private String python;

    @Option(names = "--only", split = ",", paramLabel = "ID",
            description = "only these targets: ${COMPLETION-CANDIDATES} (write them elsewhere with --out)",
            completionCandidates = TargetIds.class)
    private List<String> only;

    @Option(names = "--timed-steps", paramLabel = "N",
            description = "target 7: training steps timed per measurement after one warm-up step (default 5,"
                    + " 9 with --full; fewer when they outlast its time budget)")
    private Integer timedSteps;

    @Spec
    private CommandSpec spec;

    private int repeats;
    private Path root;
    private Device device;
    private IdxImages fashion;
    private final Map<String, Object> figures = new LinkedHashMap<>();

    /** For the command line: {@link #call} prepares the rest once the flags are set. */
    private Benchmarks() {}

    private Benchmarks(boolean full, String python) throws IOException {
        this.full = full;
        this.python = python;
        prepare();
    }

    private void prepare() throws IOException {
        this.repeats = full ? 5 : 3;
        this.root = Files.exists(Paths.get("..", "pom.xml")) && Files.isDirectory(Paths.get("..", "finetune-core"))
                ? Paths.get("..") : Paths.get(".");
        this.device = Engine.getInstance().defaultDevice();
        this.fashion = IdxImages.readSplit(StudyData.FASHION, true);
    }

    /**
     * Runs the suite; {@code --help} lists the flags.
     *
     * @param args flags
     */
    public static void main(String[] args) {
        System.exit(new CommandLine(new Benchmarks()).execute(args));
    }

    /**
     * Runs the targets and writes the results.
     *
     * @return 0
     * @throws Exception if the data is missing
     */
    @Override
    public Integer call() throws Exception {
        if (only != null) {
            for (String id : only) {
                if (!TARGETS.contains(id)) {
                    throw new ParameterException(spec.commandLine(), "Invalid value for option '--only': '" + id
                            + "' (targets: " + String.join(",", TARGETS) + ")");
                }
            }
        }
        prepare();
        Path dir = out != null ? out : root.resolve("benchmarks");
        long start = System.nanoTime();
        List<Result> results = new ArrayList<>();
        results.add(guard("1", "full fine-tune images/s vs PyTorch eager fp32", this::throughputVsPyTorch));
        results.add(guard("2", "library step time / hand-written DJL loop (overhead)", this::overhead));
        results.add(guard("2b", "device-to-host reads per training step", this::hostReads));
        results.add(guard("3", "backbone epoch / cached head-only epoch", this::featureCache));
        results.add(guard("3b", "backbone epoch / bottleneck logistic regression fit", this::bottleneck));
        results.add(guard("4", "full / head-only time per step (frozen prefix)", this::frozenPrefixTime));
        results.add(guard("4b", "full / head-only peak memory increment", this::frozenPrefixMemory));
        results.add(guard("5", "native memory (C heap outside the JVM) growth, steps 200 -> 2000", this::soakNative));
        results.add(guard("5b", "Java heap growth, steps 200 -> 2000", this::soakHeap));
        results.add(guard("5c", "C heap growth over 50 stage create/close (library)", this::stageCycles));
        results.add(guard("5d", "resident less glibc's free pool, growth, steps 200 -> 2000", this::soakResident));
        results.add(guard("5e", "arrays left per DJL Trainer create/close (DJL)", this::trainerCycles));
        results.add(guard("6", "image pipeline alone (2 loader threads) / training images/s", this::pipeline));
        results.add(guard("6b", "epoch time, 0 / 2 loader threads (decode overlapping compute)", this::loaderOverlap));
        results.addAll(guardRows("7", "bf16 full fine-tune images/s vs PyTorch eager fp32 and bf16 autocast",
                this::mixedPrecision));
        results.removeIf(java.util.Objects::isNull);
        double seconds = (System.nanoTime() - start) / 1e9;
        write(dir, results, seconds);
        return 0;
    }

    /** The ids {@code --only} takes, for the help. */
    static final class TargetIds implements Iterable<String> {
        @Override
        public java.util.Iterator<String> iterator() {
            return TARGETS.iterator();
        }
    }

    /** A benchmark body. */
    @FunctionalInterface
    private interface Body {
        Result run(String id, String name) throws Exception;
    }

    /** A benchmark body that reports several rows under its id. */
    @FunctionalInterface
    private interface Rows {
        List<Result> run(String id) throws Exception;
    }

    private List<Result> guardRows(String id, String name, Rows body) {
        if (only != null && !only.contains(id)) {
            return List.of();
        }
        System.out.printf("running [%s] %s ...%n", id, name);
        try {
            List<Result> rows = body.run(id);
            for (Result r : rows) {
                System.out.println(r.line());
                System.out.println("      " + r.detail());
            }
            return rows;
        } catch (Exception | Error e) {
            Result r = new Result(id, name, Double.NaN, Double.NaN, true, "failed: " + e);
            System.out.println(r.line() + "  " + e);
            return List.of(r);
        }
    }

    private Result guard(String id, String name, Body body) {
        if (only != null && !only.contains(id)) {
            return null;
        }
        System.out.printf("running [%s] %s ...%n", id, name);
        try {
            Result r = body.run(id, name);
            System.out.println(r.line());
            System.out.println("      " + r.detail());
            return r;
        } catch (Exception | Error e) {
            Result r = new Result(id, name, Double.NaN, Double.NaN, true, "failed: " + e);
            System.out.println(r.line() + "  " + e);
            return r;
        }
    }

    // ---------------------------------------------------------------- data and models

    private Path tinyCnn() {
        return root.resolve("finetune-vision/src/test/resources/torchscript/tiny-cnn.pt");
    }

    private ArrayDataset fashionData(NDManager m, int perClass, int skip, int size, int batch, boolean shuffle) {
        return StudyData.dataset(fashion, fashion.sample(ALL, perClass, skip, 3), ALL, m, batch, shuffle, size);
    }

    private static Stage fullSgd(int epochs) {
        return Stage.full().withEpochs(epochs).withOptimizer(OptimizerSpec.sgd(0.9)).withLearningRate(0.01)
                .withWeightDecay(0).withSchedule(Schedule.constant()).withBatchNormPolicy(BatchNormPolicy.TRAIN);
    }

    /** Median of a per-epoch value over every epoch but the first (warm-up). */
    private static double medianAfterFirst(FineTuneResult r, java.util.function.ToDoubleFunction<EpochMetrics> f) {
        double[] v = r.epochs().stream().skip(1).mapToDouble(f).sorted().toArray();
        return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
    }

    // ---------------------------------------------------------------- 1: vs PyTorch

    private Result throughputVsPyTorch(String id, String name) throws Exception {
        int size = 64;
        int batch = 32;
        int steps = full ? 120 : 60;
        double library;
        try (NDManager m = NDManager.newBaseManager(); Model model = TorchScriptBackbone.load(tinyCnn())) {
            ArrayDataset train = fashionData(m, steps * batch / 10, 0, size, batch, true);
            ArrayDataset val = fashionData(m, 4, 5000, size, 40, false);
            FineTuneResult r = FineTuner.from(model).optNumClasses(10).optProgress(false)
                    .stage(fullSgd(repeats + 1)).fit(train, val);
            library = medianAfterFirst(r, EpochMetrics::trainImagesPerSecond);
        }
        figures.put("library_tiny_cnn_images_per_second", library);
        int threads = Integer.getInteger("ai.djl.pytorch.num_threads", Runtime.getRuntime().availableProcessors());
        String reference = runPython(List.of(root.resolve("benchmarks/pytorch_reference.py").toString(),
                "--model", tinyCnn().toString(), "--size", String.valueOf(size), "--batch", String.valueOf(batch),
                "--steps", String.valueOf(steps), "--repeats", String.valueOf(repeats), "--threads",
                String.valueOf(threads), "--device", device.isGpu() ? "cuda" : "cpu"));
        String setting = String.format(Locale.ROOT, "tiny 3-conv CNN (TorchScript), %dpx, batch %d, SGD, %s, %d thread(s)",
                size, batch, device, threads);
        if (reference == null) {
            return new Result(id, name, Double.NaN, 1.0, true, String.format(Locale.ROOT,
                    "library %.0f images/s; PyTorch reference not run (no python3 with torch: --python EXE); %s",
                    library, setting));
        }
        com.google.gson.JsonObject measured = com.google.gson.JsonParser.parseString(reference).getAsJsonObject();
        double torch = measured.get("images_per_second").getAsDouble();
        figures.put("pytorch_tiny_cnn_images_per_second", torch);
        String torchVersion = measured.get("framework").getAsString();
        return new Result(id, name, library / torch, 1.0, true, String.format(Locale.ROOT,
                "library %.0f vs %s %.0f images/s; %s; the issue's target is on a CUDA GPU (not available here)",
                library, torchVersion, torch, setting));
    }

    private String runPython(List<String> args) {
        try {
            List<String> cmd = new ArrayList<>();
            cmd.add(python);
            cmd.addAll(args);
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            StringBuilder out = new StringBuilder();
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) {
                    out.append(line).append('\n');
                }
            }
            if (!p.waitFor(600, TimeUnit.SECONDS) || p.exitValue() != 0) {
                return null;
            }
            for (String line : out.toString().split("\n")) {
                if (line.startsWith("{")) {
                    return line;
                }
            }
            return null;
        } catch (IOException e) {
            return null;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        }
    }

    // ---------------------------------------------------------------- 2: overhead

    private Result overhead(String id, String name) throws Exception {
        int size = 64;
        int batch = 32;
        int steps = full ? 120 : 60;
        double librarySeconds;
        double handSeconds;
        try (NDManager m = NDManager.newBaseManager()) {
            ArrayDataset train = fashionData(m, steps * batch / 10, 0, size, batch, true);
            ArrayDataset val = fashionData(m, 4, 5000, size, 40, false);
            double[] lib = new double[2];
            double[] hand = new double[2];
            // alternate library and hand loop twice so that drift of the machine hits both
            for (int round = 0; round < 2; round++) {
                try (Model model = TorchScriptBackbone.load(tinyCnn())) {
                    FineTuneResult r = FineTuner.from(model).optNumClasses(10).optProgress(false)
                            .stage(fullSgd(repeats + 1)).fit(train, val);
                    lib[round] = medianAfterFirst(r, EpochMetrics::trainSeconds) / steps;
                }
                try (Model model = TorchScriptBackbone.load(tinyCnn())) {
                    Optimizer sgd = Optimizer.sgd().setLearningRateTracker(Tracker.fixed(0.01f)).optMomentum(0.9f)
                            .build();
                    hand[round] = Timing.median(1, repeats, () -> handWrittenEpoch(model, sgd, train)) / steps;
                }
            }
            librarySeconds = Math.min(lib[0], lib[1]);
            handSeconds = Math.min(hand[0], hand[1]);
        }
        figures.put("library_ms_per_step", librarySeconds * 1e3);
        figures.put("hand_loop_ms_per_step", handSeconds * 1e3);
        return new Result(id, name, librarySeconds / handSeconds, 1.03, false, String.format(Locale.ROOT,
                "%.2f ms vs %.2f ms per step (tiny CNN, %dpx, batch %d, SGD momentum, %s; best of 2 alternating rounds,"
                        + " each a median of %d epochs of %d steps)",
                librarySeconds * 1e3, handSeconds * 1e3, size, batch, device, repeats, steps));
    }

    /** A plain DJL training epoch: per-step manager, forward, loss, backward, DJL's SGD per parameter. */
    private static double handWrittenEpoch(Model model, Optimizer sgd, Dataset train)
            throws IOException, TranslateException {
        Block block = model.getBlock();
        NDManager manager = model.getNDManager();
        ParameterStore ps = new ParameterStore(manager, false);
        Loss loss = Loss.softmaxCrossEntropyLoss();
        long start = System.nanoTime();
        try (NDManager host = NDManager.newBaseManager(Device.cpu())) {
            for (Batch b : train.getData(host)) {
                try (Batch batch = b; NDManager step = manager.newSubManager()) {
                    NDList x = batch.getData().toDevice(manager.getDevice(), false);
                    x.attach(step);
                    NDList y = batch.getLabels().toDevice(manager.getDevice(), false);
                    y.attach(step);
                    try (GradientCollector gc = manager.getEngine().newGradientCollector()) {
                        NDList out = block.forward(ps, x, true);
                        gc.backward(loss.evaluate(y, out));
                    }
                    for (Pair<String, Parameter> p : block.getParameters()) {
                        NDArray w = p.getValue().getArray();
                        if (w.hasGradient()) {
                            NDArray g = w.getGradient();
                            g.attach(step);
                            sgd.update(p.getValue().getId(), w, g);
                        }
                    }
                }
            }
        }
        return (System.nanoTime() - start) / 1e9;
    }

    private Result hostReads(String id, String name) throws Exception {
        int steps = 60;
        try (NDManager m = NDManager.newBaseManager(); Model model = TorchScriptBackbone.load(tinyCnn())) {
            ArrayDataset train = fashionData(m, steps * 32 / 10, 0, 32, 32, true);
            ArrayDataset val = fashionData(m, 4, 5000, 32, 40, false);
            FineTuneResult r = FineTuner.from(model).optNumClasses(10).optProgress(false).stage(fullSgd(2)).fit(train, val);
            EpochMetrics e = r.epochs().get(1);
            long batches = e.trainSamples() / 32;
            return new Result(id, name, (double) e.hostReads() / batches, 0.1, false, String.format(Locale.ROOT,
                    "%d reads in an epoch of %d steps: 3 totals at the epoch's end, the NaN flag every 100 steps;"
                            + " none per step", e.hostReads(), batches));
        }
    }

    // ---------------------------------------------------------------- 3: feature cache

    private record CacheFigures(double backboneEpoch, double cachedEpoch, double logisticFit) {}

    private CacheFigures cacheFigures;

    private CacheFigures cacheFigures() throws Exception {
        if (cacheFigures != null) {
            return cacheFigures;
        }
        int perClass = full ? 1000 : 200;
        int[] classes = {2, 4, 6, 7, 9};
        try (NDManager m = NDManager.newBaseManager()) {
            ArrayDataset train = StudyData.dataset(fashion, fashion.sample(classes, perClass, 0, 3), classes, m, 32, true, 32);
            ArrayDataset val = StudyData.dataset(fashion, fashion.sample(classes, 100, 2000, 3), classes, m, 250, false, 32);
            double plain;
            double cached;
            try (Model model = TorchScriptBackbone.load(FolderFineTune.sourceBackbone())) {
                FineTuneResult r = headOnly(model, false, repeats + 1).fit(train, val);
                plain = medianAfterFirst(r, EpochMetrics::seconds);
            }
            try (Model model = TorchScriptBackbone.load(FolderFineTune.sourceBackbone())) {
                FineTuneResult r = headOnly(model, true, repeats + 1).fit(train, val);
                cached = medianAfterFirst(r, EpochMetrics::seconds);
            }
            double fit;
            try (Model model = TorchScriptBackbone.load(FolderFineTune.sourceBackbone());
                    FeatureCache features = FeatureCache.compute(model.getBlock(), model.getNDManager(), train, 256)) {
                float[][] x = features.rows();
                int[] y = features.labels();
                fit = Timing.median(0, repeats, () -> {
                    long t = System.nanoTime();
                    LinearModels.logisticRegression().train(x, y, classes.length, 1.0);
                    return (System.nanoTime() - t) / 1e9;
                });
            }
            cacheFigures = new CacheFigures(plain, cached, fit);
            figures.put("head_only_epoch_seconds_backbone", plain);
            figures.put("head_only_epoch_seconds_cached", cached);
            figures.put("logistic_regression_fit_seconds", fit);
            return cacheFigures;
        }
    }

    private static FineTuner headOnly(Model model, boolean cache, int epochs) {
        return FineTuner.from(model).optHeadReplacer(Heads.auto(new Shape(1, 3, 32, 32))).replaceHead(5)
                .optProgress(false).optFeatureCache(cache)
                .stage(Stage.headOnly().withEpochs(epochs).withLearningRate(1e-2));
    }

    private Result featureCache(String id, String name) throws Exception {
        CacheFigures c = cacheFigures();
        return new Result(id, name, c.backboneEpoch() / c.cachedEpoch(), 20, true, String.format(Locale.ROOT,
                "epoch (train + validation) %.3f s forwarding the frozen ResNet backbone vs %.4f s on cached features"
                        + " (%s images at 32px, %s)", c.backboneEpoch(), c.cachedEpoch(), full ? "5000" : "1000", device));
    }

    private Result bottleneck(String id, String name) throws Exception {
        CacheFigures c = cacheFigures();
        return new Result(id, name, c.backboneEpoch() / c.logisticFit(), Double.NaN, true, String.format(Locale.ROOT,
                "a whole logistic regression fit (500 full-batch iterations, %.2f ms each) on the cached features takes"
                        + " %.3f s vs %.3f s for one head-only epoch through the backbone", c.logisticFit() / 500 * 1e3,
                c.logisticFit(), c.backboneEpoch()));
    }

    // ---------------------------------------------------------------- 4: frozen prefix

    private record PrefixFigures(Map<String, Double> secondsPerStep, Map<String, Long> peakIncrement) {}

    private PrefixFigures prefix;

    private static final String[] STRATEGIES = {"head-only", "partial(1)", "partial(2)", "full"};

    private static Stage strategy(String name) {
        return switch (name) {
            case "head-only" -> Stage.headOnly();
            case "partial(1)" -> Stage.partial(1);
            case "partial(2)" -> Stage.partial(2);
            default -> Stage.full();
        };
    }

    private PrefixFigures prefixFigures() throws Exception {
        if (prefix != null) {
            return prefix;
        }
        Map<String, Double> time = new LinkedHashMap<>();
        Map<String, Long> memory = new LinkedHashMap<>();
        int[] classes = {2, 4, 6, 7, 9};
        try (NDManager m = NDManager.newBaseManager()) {
            ArrayDataset train = StudyData.dataset(fashion, fashion.sample(classes, 100, 0, 3), classes, m, 32, true, 32);
            ArrayDataset val = StudyData.dataset(fashion, fashion.sample(classes, 20, 2000, 3), classes, m, 100, false, 32);
            for (String s : STRATEGIES) {
                try (Model model = TorchScriptBackbone.load(FolderFineTune.sourceBackbone())) {
                    FineTuneResult r = FineTuner.from(model).optHeadReplacer(Heads.auto(new Shape(1, 3, 32, 32)))
                            .replaceHead(5).optProgress(false)
                            .stage(strategy(s).withEpochs(repeats + 1).withLearningRate(1e-3)).fit(train, val);
                    time.put(s, medianAfterFirst(r, EpochMetrics::trainSeconds) / (500 / 32.0));
                }
            }
        }
        // memory: each strategy in a fresh JVM, so that no allocator cache of an earlier run hides its peak
        for (String s : STRATEGIES) {
            memory.put(s, childPeakIncrement(s));
        }
        figures.put("seconds_per_step_by_strategy", time);
        figures.put("peak_resident_increment_bytes_by_strategy", memory);
        prefix = new PrefixFigures(time, memory);
        return prefix;
    }

    private static long childPeakIncrement(String strategy) throws Exception {
        String java = ProcessHandle.current().info().command().orElse("java");
        List<String> cmd = new ArrayList<>(List.of(java, "-Xms1g", "-Xmx1g", "-XX:+AlwaysPreTouch", "-Dai.djl.offline=true",
                "-Dai.djl.pytorch.num_threads=" + Integer.getInteger("ai.djl.pytorch.num_threads", 1),
                "-cp", System.getProperty("java.class.path"), PeakMemoryChild.class.getName(), strategy));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        // libtorch 2.7.1's oneDNN AVX-512 kernel for 1x1-convolution weight gradients crashed the JVM
        // (SIGSEGV, "double free or corruption") in full fine-tuning at batch 128 on this project's AMD EPYC
        // machine, every time; AVX2 kernels do not. Every strategy's probe runs with the same setting.
        pb.environment().put("DNNL_MAX_CPU_ISA", "AVX2");
        Process p = pb.start();
        String last = null;
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = r.readLine()) != null) {
                if (line.startsWith("PEAK_INCREMENT ")) {
                    last = line.substring("PEAK_INCREMENT ".length()).trim();
                }
            }
        }
        if (!p.waitFor(300, TimeUnit.SECONDS) || p.exitValue() != 0 || last == null) {
            throw new IllegalStateException("the memory probe for " + strategy + " failed");
        }
        return Long.parseLong(last);
    }

    /** Runs one strategy in a fresh JVM and prints the peak resident increment of its fit. */
    public static final class PeakMemoryChild {
        private PeakMemoryChild() {}

        /**
         * @param args the strategy's name
         * @throws Exception on a failed fit
         */
        public static void main(String[] args) throws Exception {
            IdxImages fashion = IdxImages.readSplit(StudyData.FASHION, true);
            int[] classes = {2, 4, 6, 7, 9};
            try (NDManager m = NDManager.newBaseManager();
                    Model model = TorchScriptBackbone.load(FolderFineTune.sourceBackbone())) {
                ArrayDataset train = StudyData.dataset(fashion, fashion.sample(classes, 128, 0, 3), classes, m, 128,
                        true, 64);
                ArrayDataset val = StudyData.dataset(fashion, fashion.sample(classes, 20, 2000, 3), classes, m, 100,
                        false, 64);
                // warm-up: a head-only fit of another copy loads libtorch's kernels and workspaces, which
                // every strategy needs; what the measured fit adds on top is its own memory
                try (Model warm = TorchScriptBackbone.load(FolderFineTune.sourceBackbone())) {
                    FineTuner.from(warm).optHeadReplacer(Heads.auto(new Shape(1, 3, 64, 64))).replaceHead(5)
                            .optProgress(false).stage(Stage.headOnly().withEpochs(1)).fit(train, val);
                }
                FineTuner t = FineTuner.from(model).optHeadReplacer(Heads.auto(new Shape(1, 3, 64, 64)))
                        .replaceHead(5).optProgress(false)
                        .stage(strategy(args[0]).withEpochs(2).withLearningRate(1e-3));
                System.gc();
                PeakMemory.reset();
                long base = PeakMemory.resident();
                t.fit(train, val);
                System.out.println("PEAK_INCREMENT " + (PeakMemory.residentPeak() - base));
            }
        }
    }

    private Result frozenPrefixTime(String id, String name) throws Exception {
        PrefixFigures p = prefixFigures();
        StringBuilder sb = new StringBuilder("ms/step:");
        p.secondsPerStep().forEach((k, v) -> sb.append(String.format(Locale.ROOT, " %s %.2f", k, v * 1e3)));
        sb.append(" (ResNet backbone, 32px, batch 32, no feature cache)");
        return new Result(id, name, p.secondsPerStep().get("full") / p.secondsPerStep().get("head-only"), 1.1, true,
                sb.toString());
    }

    private Result frozenPrefixMemory(String id, String name) throws Exception {
        PrefixFigures p = prefixFigures();
        StringBuilder sb = new StringBuilder("peak resident increment of the fit over the process before it (MB,"
                + " each strategy in a fresh JVM with a pre-touched heap, after a head-only warm-up fit; 64px, batch 128; DNNL_MAX_CPU_ISA=AVX2):");
        p.peakIncrement().forEach((k, v) -> sb.append(String.format(Locale.ROOT, " %s %.1f", k, v / 1e6)));
        double headOnly = Math.max(1, p.peakIncrement().get("head-only"));
        return new Result(id, name, p.peakIncrement().get("full") / headOnly, 1.1, true, sb.toString());
    }

    // ---------------------------------------------------------------- 5: memory

    /**
     * Floors of the soak's samples at steps 200-400 and 1800-2000; columns: resident, heap, live arrays,
     * C heap outside the JVM, allocator's free pool, resident less that pool.
     */
    private long[][] soak;

    /**
     * Runs {@link SoakChild} in a fresh JVM whose heap is committed and touched up front (a fresh JVM's
     * resident memory otherwise climbs as the collector first touches heap pages it had committed but
     * not used), with the flags {@link NativeHeap} needs.
     */
    private static List<MemoryProbe.Sample> childSamples(String mode, int expected) throws Exception {
        String java = ProcessHandle.current().info().command().orElse("java");
        List<String> cmd = new ArrayList<>(List.of(java, "-Xms256m", "-Xmx256m", "-XX:+AlwaysPreTouch",
                "-Dai.djl.offline=true",
                "-Dai.djl.pytorch.num_threads=" + Integer.getInteger("ai.djl.pytorch.num_threads", 1),
                "-Dai.djl.pytorch.num_interop_threads=1"));
        cmd.addAll(NativeHeap.JVM_FLAGS);
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), SoakChild.class.getName(), mode));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        StringBuilder log = new StringBuilder();
        List<MemoryProbe.Sample> samples = MemoryProbe.Sample.readAll(p.getInputStream(), log);
        if (!p.waitFor(600, TimeUnit.SECONDS) || p.exitValue() != 0 || samples.size() != expected) {
            throw new IllegalStateException("the soak child failed: " + log);
        }
        return samples;
    }

    /** @return floors of the samples at steps 200-400 and 1800-2000, from a soak in a fresh JVM */
    private long[][] soak() throws Exception {
        if (soak != null) {
            return soak;
        }
        List<MemoryProbe.Sample> samples = childSamples("steps", 201); // the peek before training, then one per epoch
        // the first sample is the peek before training; epoch k starts at sample k (step 10(k-1))
        // floors of steps 200-400 and 1800-2000: transient allocations leave a floor alone, a leak raises it
        soak = new long[][] {floors(samples.subList(21, 41)), floors(samples.subList(samples.size() - 20, samples.size()))};
        figures.put("soak_resident_bytes_step200_step2000", new long[] {soak[0][0], soak[1][0]});
        figures.put("soak_heap_bytes_step200_step2000", new long[] {soak[0][1], soak[1][1]});
        figures.put("soak_c_heap_outside_jvm_bytes_step200_step2000", new long[] {soak[0][3], soak[1][3]});
        figures.put("soak_allocator_free_bytes_step200_step2000", new long[] {soak[0][4], soak[1][4]});
        return soak;
    }

    /**
     * The memory probe's child: {@code steps} runs 2,000 steps of full fine-tuning and prints one
     * sample per 10-step epoch; {@code cycles} fits one full stage 60 times on one small CNN and prints a
     * sample after each fit from the 10th on.
     */
    public static final class SoakChild {
        private SoakChild() {}

        /**
         * @param args {@code steps} or {@code cycles}
         * @throws Exception on a failed fit or an unreadable C heap
         */
        public static void main(String[] args) throws Exception {
            if (!NativeHeap.available()) {
                throw new IllegalStateException(NativeHeap.reason());
            }
            NativeHeap.read(); // the probe's own first use (JMX, the foreign-function API) before any sample
            Benchmarks b = new Benchmarks(false, null);
            if (args[0].equals("cycles")) {
                cycles(b);
                return;
            }
            try (NDManager m = NDManager.newBaseManager(); Model model = TorchScriptBackbone.load(b.tinyCnn())) {
                MemoryProbe train = new MemoryProbe(b.fashionData(m, 32, 0, 32, 32, true)); // 10 steps
                ArrayDataset val = b.fashionData(m, 4, 5000, 32, 40, false);
                FineTuner.from(model).optNumClasses(10).optProgress(false)
                        .stage(Stage.full().withEpochs(200).withLearningRate(1e-4)
                                .withBatchNormPolicy(BatchNormPolicy.TRAIN))
                        .fit(train, val);
                train.samples().forEach(x -> System.out.println(x.toLine()));
            }
        }

        private static void cycles(Benchmarks b) throws Exception {
            try (NDManager m = NDManager.newBaseManager(); Model model = Model.newInstance("small-cnn")) {
                model.setBlock(SmallCnn.build(10));
                model.getBlock().initialize(model.getNDManager(), DataType.FLOAT32, new Shape(1, 3, 28, 28));
                ArrayDataset data = b.fashionData(m, 4, 0, 28, 40, false);
                ArrayDataset val = b.fashionData(m, 2, 5000, 28, 20, false);
                FineTuner tuner = FineTuner.from(model).optNumClasses(10).optProgress(false)
                        .stage(Stage.full().withEpochs(1).withLearningRate(1e-3));
                for (int cycle = 1; cycle <= 60; cycle++) {
                    tuner.fit(data, val);
                    if (cycle >= 10) {
                        System.out.println(MemoryProbe.sampleNow().toLine());
                    }
                }
            }
        }
    }

    private static long[] floors(List<MemoryProbe.Sample> w) {
        List<java.util.function.ToLongFunction<MemoryProbe.Sample>> columns = List.of(MemoryProbe.Sample::resident,
                MemoryProbe.Sample::heap, MemoryProbe.Sample::nativeArrays, MemoryProbe.Sample::nativeOutsideJvm,
                MemoryProbe.Sample::allocatorFree, MemoryProbe.Sample::held);
        return columns.stream().mapToLong(c -> MemoryProbe.floor(w, c)).toArray();
    }

    private static double growth(long[][] s, int column) {
        return (double) (s[1][column] - s[0][column]) / s[0][column];
    }

    private Result soakNative(String id, String name) throws Exception {
        long[][] s = soak();
        return new Result(id, name, growth(s, 3), 0.02, false, String.format(Locale.ROOT,
                "C heap in use outside the JVM (glibc mallinfo2 minus NMT's malloc) %.2f MB at steps 200-400,"
                        + " %.2f MB at steps 1800-2000 (floors); live DJL arrays %d -> %d (tiny CNN, full fine-tuning,"
                        + " AdamW, batch 32, fresh JVM)",
                s[0][3] / 1e6, s[1][3] / 1e6, s[0][2], s[1][2]));
    }

    private Result soakHeap(String id, String name) throws Exception {
        long[][] s = soak();
        return new Result(id, name, growth(s, 1), 0.02, false, String.format(Locale.ROOT,
                "heap after GC %.2f MB at steps 200-400, %.2f MB at steps 1800-2000 (floors)", s[0][1] / 1e6,
                s[1][1] / 1e6));
    }

    private Result soakResident(String id, String name) throws Exception {
        long[][] s = soak();
        return new Result(id, name, growth(s, 5), 0.02, false, String.format(Locale.ROOT,
                "resident %.1f MB at steps 200-400, %.1f MB at steps 1800-2000 (floors, %+.2f%%), of which freed"
                        + " memory glibc keeps for reuse %.1f -> %.1f MB (fresh JVM, heap touched up front)", s[0][0] / 1e6, s[1][0] / 1e6,
                growth(s, 0) * 100, s[0][4] / 1e6, s[1][4] / 1e6));
    }

    /** Resident memory and live arrays after a GC, as {resident, arrays}. */
    private static long[] residentAndArrays() {
        System.gc();
        return new long[] {PeakMemory.resident(), MemoryProbe.nativeArrays()};
    }

    private Result stageCycles(String id, String name) throws Exception {
        List<MemoryProbe.Sample> rows = childSamples("cycles", 51); // after fits 10, 11, ..., 60
        long[][] f = {floors(rows.subList(0, 10)), floors(rows.subList(rows.size() - 10, rows.size()))};
        figures.put("stage_cycles_c_heap_outside_jvm_bytes_fits10_fits60", new long[] {f[0][3], f[1][3]});
        return new Result(id, name, growth(f, 3), 0.02, false, String.format(Locale.ROOT,
                "C heap outside the JVM %.2f MB after fits 10-19, %.2f MB after fits 51-60 (floors); live arrays %d ->"
                        + " %d; resident less glibc's free pool %+.2f%%, resident %+.2f%% (small CNN, one full stage"
                        + " per fit: optimizer state created and closed; fresh JVM, heap touched up front)",
                f[0][3] / 1e6, f[1][3] / 1e6, f[0][2], f[1][2], growth(f, 5) * 100, growth(f, 0) * 100));
    }

    private Result trainerCycles(String id, String name) throws Exception {
        try (NDManager m = NDManager.newBaseManager(); Model model = Model.newInstance("small-cnn")) {
            model.setBlock(SmallCnn.build(10));
            ArrayDataset data = fashionData(m, 4, 0, 28, 40, false);
            long[][] at = new long[2][];
            for (int cycle = 0; cycle < 55; cycle++) {
                if (cycle == 5 || cycle == 54) {
                    at[cycle == 5 ? 0 : 1] = residentAndArrays();
                }
                try (Trainer trainer = model.newTrainer(new DefaultTrainingConfig(Loss.softmaxCrossEntropyLoss())
                        .optOptimizer(Optimizer.adam().build()))) {
                    trainer.initialize(new Shape(1, 3, 28, 28));
                    for (Batch b : trainer.iterateDataset(data)) {
                        EasyTrain.trainBatch(trainer, b);
                        trainer.step();
                        b.close();
                    }
                }
            }
            double perCycle = (at[1][1] - at[0][1]) / 49.0;
            return new Result(id, name, perCycle, Double.NaN, false, String.format(Locale.ROOT,
                    "live arrays %d after 5 cycles, %d after 54; resident %.1f -> %.1f MB (each: newTrainer, initialize,"
                            + " one batch, step, close; DJL's optimizer state stays in the model's manager: why the"
                            + " library does not use DJL's Trainer)", at[0][1], at[1][1], at[0][0] / 1e6, at[1][0] / 1e6));
        }
    }

    // ---------------------------------------------------------------- 6: data pipeline

    private Path imageFolder() throws Exception {
        Path folder = Paths.get("target", "bench-images");
        if (!Files.isDirectory(folder)) {
            FolderFineTune.writeFashionFolder(folder, full ? 1000 : 200);
        }
        return folder;
    }

    private static ImagePipeline pipeline64() {
        return ImagePipeline.builder().setSize(64).optAllowUpscale(true).optRotation(10)
                .optColorJitter(0.3f, 0.3f, 0f, 0f).build();
    }

    private Result pipeline(String id, String name) throws Exception {
        ImageCatalog images = ImageCatalog.scan(imageFolder());
        ImageDataset data = ImageDataset.builder().setCatalog(images).optPipeline(pipeline64().training(1))
                .setSampling(32, true).build();
        int batches = full ? 100 : 30;
        double serial = Timing.median(1, repeats, () -> PipelineThroughput.measure(data, 0, batches));
        double parallel = Timing.median(1, repeats, () -> PipelineThroughput.measure(data, 2, batches));
        Object trained = figures.get("library_tiny_cnn_images_per_second");
        if (!(trained instanceof Double)) {
            return new Result(id, name, Double.NaN, 1.0, true, "target 1's training figure is missing");
        }
        double training = (Double) trained;
        figures.put("pipeline_images_per_second_0_threads", serial);
        figures.put("pipeline_images_per_second_2_threads", parallel);
        return new Result(id, name, parallel / training, 1.0, true, String.format(Locale.ROOT,
                "decode PNG + random resized crop + flip + rotation + colour jitter + normalise to 3x64x64: %.0f images/s"
                        + " on 2 loader threads (%.0f on the calling thread) vs %.0f images/s for the training step of"
                        + " target 1 (same size, tiny CNN)", parallel, serial, training));
    }

    private Result loaderOverlap(String id, String name) throws Exception {
        ImageCatalog images = ImageCatalog.scan(imageFolder());
        DataSplit.Splits parts = DataSplit.builder().optValidationFraction(0.1).optTestFraction(0).build().split(images);
        ImagePipeline p = pipeline64();
        double[] seconds = new double[2];
        int[] threads = {0, 2};
        for (int i = 0; i < 2; i++) {
            try (Model model = TorchScriptBackbone.load(tinyCnn())) {
                ImageDataset train = ImageDataset.builder().setCatalog(parts.train()).optPipeline(p.training(1))
                        .setSampling(32, true).build();
                ImageDataset val = ImageDataset.builder().setCatalog(parts.validation()).optPipeline(p.evaluation())
                        .setSampling(64, false).build();
                FineTuneResult r = FineTuner.from(model).optNumClasses(10).optProgress(false)
                        .optDataLoaderThreads(threads[i]).stage(fullSgd(repeats + 1)).fit(train, val);
                seconds[i] = medianAfterFirst(r, EpochMetrics::trainSeconds);
            }
        }
        figures.put("image_folder_epoch_seconds_0_2_threads", seconds);
        return new Result(id, name, seconds[0] / seconds[1], 1.0, true, String.format(Locale.ROOT,
                "training pass over %d PNGs: %.2f s reading on the training thread, %.2f s with 2 loader threads"
                        + " (%d cores in all)", parts.train().size(), seconds[0], seconds[1],
                Runtime.getRuntime().availableProcessors()));
    }

    // ---------------------------------------------------------------- 7: bf16 mixed precision

    /** Target 7's networks: pytorch_reference.py's {@code --arch} and the name the rows give it. */
    private static final List<List<String>> BF16_MODELS = List.of(List.of("resnet18", "ResNet-18"),
            List.of("mobilenetv2", "MobileNetV2"));
    private static final int[] BF16_SIZES = {112, 224};

    /**
     * Images per second of one measurement.
     *
     * @param imagesPerSecond batch / the median step time (NaN when not measured)
     * @param steps how many timed steps the median is of
     * @param note the fit's warnings, or why it was not measured; empty when none
     */
    private record Rate(double imagesPerSecond, int steps, String note) {
        static Rate failed(String why) {
            return new Rate(Double.NaN, 0, why);
        }
    }

    /**
     * Issue 16's target: the library in bf16 against PyTorch eager float32 and eager bf16 autocast,
     * on ResNet-18 and the quality benchmark's MobileNetV2 at 112 and 224 px. pytorch_reference.py
     * exports each network without its head as float32 TorchScript (traced in eval mode, so BatchNorm
     * normalises with its running statistics; the eager side puts its BatchNorm layers in eval mode
     * too), the library loads it with a new linear head and fine-tunes every parameter. Each
     * measurement: one warm-up step, then the median of up to {@code --timed-steps} steps, fewer once
     * they outlast a time budget. The eager runs inherit this JVM's environment (DNNL_MAX_CPU_ISA
     * included) and thread count.
     */
    private List<Result> mixedPrecision(String id) throws Exception {
        int batch = 32;
        int steps = timedSteps != null ? Math.max(1, timedSteps) : full ? 9 : 5;
        double budget = full ? 120 : 25; // seconds of timed steps per measurement
        int threads = Integer.getInteger("ai.djl.pytorch.num_threads", Runtime.getRuntime().availableProcessors());
        long start = System.nanoTime();
        String torch = torchVersion();
        String isa = System.getenv("DNNL_MAX_CPU_ISA");
        // a cap below AVX512_CORE_BF16 leaves oneDNN without bf16 kernels (eager bf16 autocast of ResNet-18 at
        // 112 px measured 1.6 images/s under AVX2 against 67 without the cap, one thread)
        boolean bf16Capped = isa != null && !dev.finetune.core.internal.Bf16Support.isaAllowsBfloat16(isa);
        boolean avx2 = isa != null && !isa.toUpperCase(Locale.ROOT).contains("512") && !isa.toUpperCase(Locale.ROOT)
                .matches(".*(AMX|AVX10|ALL|DEFAULT).*");
        String setting = String.format(Locale.ROOT, "batch %d, full fine-tune, SGD momentum 0.9, lr 0.01; BatchNorm on"
                        + " its running statistics on both sides (the exported TorchScript is traced in eval mode); %d"
                        + " thread(s), %s; %s; CPU bf16 instructions: %s", batch, threads, device,
                isa == null ? "DNNL_MAX_CPU_ISA not set"
                        : "DNNL_MAX_CPU_ISA=" + isa + " on both sides" + (bf16Capped ? " (below AVX512_CORE_BF16:"
                                + " oneDNN has no bf16 kernels on either side, so the bf16 figures are not this CPU's)"
                                : ""), cpuBf16());
        List<Result> rows = new ArrayList<>();
        Path dir = Files.createTempDirectory("finetune-bench-bf16");
        try {
            for (List<String> model : BF16_MODELS) {
                String arch = model.get(0);
                String label = model.get(1);
                Path backbone = null;
                String missing = "no python3 with torch (--python EXE) to export it";
                if (torch != null) {
                    Path file = dir.resolve(arch + ".pt");
                    String exported = runPython(List.of(root.resolve("benchmarks/pytorch_reference.py").toString(),
                            "--arch", arch, "--bn", "eval", "--size", "224", "--export", file.toString()));
                    if (exported != null && Files.isRegularFile(file)) {
                        backbone = file;
                    } else {
                        missing = "pytorch_reference.py --arch " + arch + " --export failed";
                    }
                }
                if (backbone == null && arch.equals("mobilenetv2")) {
                    // the same network, traced in eval mode too
                    backbone = root.resolve("finetune-examples/models/mobilenetv2-nsfwjs-embedding.pt");
                }
                for (int size : BF16_SIZES) {
                    Rate[] r = new Rate[4];
                    String[] what = {"library bf16", "library fp32", "PyTorch eager fp32", "PyTorch bf16 autocast"};
                    for (int k = 0; k < 4; k++) {
                        if (k == 1 && !avx2) {
                            r[k] = Rate.failed("not run with oneDNN's AVX-512 kernels: a float32 fine-tune risks"
                                    + " libtorch 2.7.1's crash there (docs/design.md); run target 7 with"
                                    + " -Ddnnl.isa=AVX2 for it");
                        } else if (k < 2) {
                            r[k] = backbone == null ? Rate.failed(label + " not exported: " + missing)
                                    : library(backbone, k == 0 ? Precision.BF16 : Precision.FP32, size, batch, steps, budget);
                        } else {
                            r[k] = torch == null
                                    ? Rate.failed("PyTorch reference not run (no python3 with torch: --python EXE)")
                                    : reference(arch, size, batch, steps, budget, threads, k == 3);
                        }
                        System.out.printf(Locale.ROOT, "      %s %dpx, %s: %.1f images/s (%d timed steps)%s%n", label,
                                size, what[k], r[k].imagesPerSecond(), r[k].steps(),
                                r[k].note().isEmpty() ? "" : "; " + r[k].note());
                    }
                    Map<String, Double> cell = new LinkedHashMap<>();
                    cell.put("library_bf16", r[0].imagesPerSecond());
                    cell.put("library_fp32", r[1].imagesPerSecond());
                    cell.put("pytorch_eager_fp32", r[2].imagesPerSecond());
                    cell.put("pytorch_bf16_autocast", r[3].imagesPerSecond());
                    figures.put("bf16_" + arch + "_" + size + "px_images_per_second", cell);
                    StringBuilder notes = new StringBuilder();
                    for (int k = 0; k < 4; k++) {
                        boolean same = k % 2 == 1 && r[k].note().equals(r[k - 1].note()) && Double.isNaN(r[k - 1]
                                .imagesPerSecond()); // not measured, for the same reason as its pair
                        boolean pairDown = k % 2 == 0 && k + 1 < 4 && r[k].note().equals(r[k + 1].note())
                                && Double.isNaN(r[k].imagesPerSecond());
                        if (!r[k].note().isEmpty() && !same) {
                            notes.append("; ").append(pairDown ? "" : what[k] + ": ").append(r[k].note());
                        }
                    }
                    String detail = String.format(Locale.ROOT,
                            "library bf16 %s, library fp32 %s, %s eager fp32 %s, eager bf16 autocast %s images/s"
                                    + " (medians of %d/%d/%d/%d steps after a warm-up step); %s, %dpx, %s%s",
                            rate(r[0]), rate(r[1]), torch != null ? torch : "PyTorch", rate(r[2]), rate(r[3]),
                            r[0].steps(), r[1].steps(), r[2].steps(), r[3].steps(), label, size, setting, notes);
                    rows.add(new Result(id, String.format(Locale.ROOT, "library bf16 / PyTorch eager fp32, %s %dpx",
                            label, size), r[0].imagesPerSecond() / r[2].imagesPerSecond(), 1.8, true, detail));
                    rows.add(new Result(id, String.format(Locale.ROOT, "library bf16 / PyTorch bf16 autocast, %s %dpx",
                            label, size), r[0].imagesPerSecond() / r[3].imagesPerSecond(), 1.0, true, detail));
                }
            }
        } finally {
            deleteTree(dir);
        }
        System.out.printf(Locale.ROOT, "      target 7 took %.0f s%n", (System.nanoTime() - start) / 1e9);
        return rows;
    }

    private static String rate(Rate r) {
        return Double.isNaN(r.imagesPerSecond()) ? "-" : String.format(Locale.ROOT, "%.1f", r.imagesPerSecond());
    }

    /** The library's full fine-tune of a headless TorchScript backbone with a new head, at one precision. */
    private Rate library(Path backbone, Precision precision, int size, int batch, int steps, double budget) {
        try (NDManager m = NDManager.newBaseManager(); Model model = TorchScriptBackbone.load(backbone)) {
            int n = (steps + 1) * batch;
            List<Integer> images = fashion.sample(ALL, (n + ALL.length - 1) / ALL.length, 0, 3).subList(0, n);
            ArrayDataset train = StudyData.dataset(fashion, images, ALL, m, batch, true, size);
            ArrayDataset val = StudyData.dataset(fashion, fashion.sample(ALL, 1, 5000, 3), ALL, m, 10, false, size);
            StepTimes times = new StepTimes(steps, budget, device.isGpu());
            FineTuner tuner = FineTuner.from(model).replaceHead(ALL.length, HeadReplacer.append())
                    .optPrecision(precision).optProgress(false).addListener(times).stage(fullSgd(1));
            String note = "";
            try {
                note = String.join("; ", tuner.fit(train, val).warnings());
            } catch (TrainingInterruptedException e) {
                if (!times.cut) {
                    throw e;
                }
                Thread.interrupted(); // the budget's own interruption: clear the flag the fit set again
            }
            if (times.warmupOnly) {
                note = note.isEmpty() ? "the warm-up step alone" : "the warm-up step alone; " + note;
            }
            return new Rate(batch / median(times.seconds), times.seconds.size(), note);
        } catch (Exception | Error e) {
            Thread.interrupted();
            return Rate.failed("failed: " + e);
        }
    }

    /**
     * Times every optimizer step but the first (the warm-up) from the end of the step before, and
     * interrupts the fit (the library then stops before the next step) once the timed steps outlast
     * the budget. A warm-up step that alone outlasts it (a slow path, whose set-up does not matter)
     * is the only measurement.
     */
    private static final class StepTimes implements FineTuneListener {
        private final int steps;
        private final double budget;
        private final boolean sync;
        private final List<Double> seconds = new ArrayList<>();
        private long epochStart;
        private long last = -1;
        private double spent;
        private boolean cut;
        private boolean warmupOnly;

        StepTimes(int steps, double budget, boolean sync) {
            this.steps = steps;
            this.budget = budget;
            this.sync = sync;
        }

        @Override
        public void onEpochStart(EpochStart epoch) {
            epochStart = System.nanoTime();
        }

        @Override
        public void onStep(Step step) {
            if (sync) {
                step.loss().toFloatArray(); // a GPU runs ahead of the host: wait for the step's end
            }
            long now = System.nanoTime();
            if (last < 0 && (now - epochStart) / 1e9 >= budget) {
                seconds.add((now - epochStart) / 1e9);
                warmupOnly = true;
                cut = true;
                Thread.currentThread().interrupt();
            } else if (last >= 0) {
                double s = (now - last) / 1e9;
                seconds.add(s);
                spent += s;
                if (seconds.size() < steps && spent >= budget) {
                    cut = true;
                    Thread.currentThread().interrupt();
                }
            }
            last = now;
        }
    }

    private static double median(List<Double> values) {
        double[] v = values.stream().mapToDouble(Double::doubleValue).sorted().toArray();
        if (v.length == 0) {
            return Double.NaN;
        }
        return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
    }

    /** PyTorch eager, one step per repeat: its median step after a warm-up step. */
    private Rate reference(String arch, int size, int batch, int steps, double budget, int threads, boolean bf16) {
        List<String> args = new ArrayList<>(List.of(root.resolve("benchmarks/pytorch_reference.py").toString(),
                "--arch", arch, "--bn", "eval", "--size", String.valueOf(size), "--batch", String.valueOf(batch),
                "--steps", "1", "--warmup", "1", "--repeats", String.valueOf(steps), "--budget", String.valueOf(budget),
                "--threads", String.valueOf(threads), "--device", device.isGpu() ? "cuda" : "cpu"));
        if (bf16) {
            args.add("--bf16");
        }
        String out = runPython(args);
        if (out == null) {
            return Rate.failed("pytorch_reference.py --arch " + arch + (bf16 ? " --bf16" : "") + " failed");
        }
        com.google.gson.JsonObject measured = com.google.gson.JsonParser.parseString(out).getAsJsonObject();
        boolean warmupOnly = measured.has("warmup_only") && measured.get("warmup_only").getAsBoolean();
        return new Rate(measured.get("images_per_second").getAsDouble(), measured.getAsJsonArray("all").size(),
                warmupOnly ? "the warm-up step alone" : "");
    }

    /** @return "pytorch 2.x" of the reference's interpreter, or null when it has no torch */
    private String torchVersion() {
        String out = runPython(List.of("-c",
                "import json, torch; print(json.dumps({'framework': 'pytorch ' + torch.__version__}))"));
        return out == null ? null
                : com.google.gson.JsonParser.parseString(out).getAsJsonObject().get("framework").getAsString();
    }

    /** @return the CPU's bfloat16 instruction flags (AVX512_BF16, AMX), or "none" */
    private static String cpuBf16() {
        try {
            for (String line : Files.readAllLines(Paths.get("/proc/cpuinfo"))) {
                if (line.startsWith("flags")) {
                    List<String> found = new ArrayList<>();
                    for (String flag : line.substring(line.indexOf(':') + 1).trim().split("\\s+")) {
                        if (flag.equals("avx512_bf16") || flag.startsWith("amx_")) {
                            found.add(flag);
                        }
                    }
                    return found.isEmpty() ? "none" : String.join(" ", found);
                }
            }
        } catch (IOException | RuntimeException e) {
            // not Linux: unknown
        }
        return "unknown";
    }

    private static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (java.util.stream.Stream<Path> paths = Files.walk(dir)) {
            for (Path p : paths.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }

    // ---------------------------------------------------------------- report

    private void write(Path out, List<Result> results, double seconds) throws IOException {
        String deviceName = device.isGpu() ? "gpu" : "cpu";
        String hardware = hardware();
        StringBuilder md = new StringBuilder();
        md.append("# Benchmark results (").append(deviceName).append(")\n\n");
        md.append("Date ").append(LocalDate.now()).append("; ").append(hardware).append("; DJL ")
                .append(Engine.getDjlVersion()).append(", ").append(Engine.getInstance().getEngineName()).append(' ')
                .append(Engine.getInstance().getVersion()).append(", torch threads ")
                .append(Integer.getInteger("ai.djl.pytorch.num_threads", -1)).append("; ")
                .append(full ? "--full" : "small CPU size").append("; suite took ")
                .append(String.format(Locale.ROOT, "%.0f s", seconds)).append(".\n\n");
        md.append("| target | measured | bound | verdict | figures |\n|---|---|---|---|---|\n");
        for (Result r : results) {
            md.append("| ").append(r.id()).append(' ').append(r.name()).append(" | ")
                    .append(Double.isNaN(r.ratio()) ? "-" : String.format(Locale.ROOT, "%.3f", r.ratio())).append(" | ")
                    .append(Double.isNaN(r.bound()) ? "none" : (r.higherIsBetter() ? ">= " : "<= ") + r.bound())
                    .append(" | ").append(r.verdict())
                    .append(" | ").append(r.detail().replace("|", "/")).append(" |\n");
        }
        md.append("\nRatios are taken in one run; absolute times are reported only beside their ratio. Medians of ")
                .append(repeats).append(" runs after a warm-up run.\n");
        Files.createDirectories(out);
        Path mdFile = out.resolve("results-" + deviceName + ".md");
        Files.writeString(mdFile, md.toString(), StandardCharsets.UTF_8);
        Map<String, Object> json = new LinkedHashMap<>();
        json.put("date", LocalDate.now().toString());
        json.put("hardware", hardware);
        json.put("device", device.toString());
        json.put("full", full);
        json.put("seconds", seconds);
        List<Map<String, Object>> rows = new ArrayList<>();
        for (Result r : results) {
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("id", r.id());
            row.put("name", r.name());
            row.put("ratio", Double.isNaN(r.ratio()) ? null : r.ratio());
            row.put("bound", Double.isNaN(r.bound()) ? null : r.bound());
            row.put("higher_is_better", r.higherIsBetter());
            row.put("verdict", r.verdict());
            row.put("detail", r.detail());
            rows.add(row);
        }
        json.put("targets", rows);
        json.put("figures", figures);
        Path jsonFile = out.resolve("results-" + deviceName + ".json");
        Files.writeString(jsonFile, new GsonBuilder().setPrettyPrinting().serializeSpecialFloatingPointValues()
                .create().toJson(json), StandardCharsets.UTF_8);
        System.out.println();
        System.out.println("=== summary (" + hardware + ") ===");
        for (Result r : results) {
            System.out.println(r.line());
        }
        System.out.println("written: " + mdFile.toAbsolutePath().normalize() + ", " + jsonFile.getFileName());
    }

    private static String hardware() {
        String cpu = "unknown CPU";
        try {
            for (String line : Files.readAllLines(Paths.get("/proc/cpuinfo"))) {
                if (line.startsWith("model name")) {
                    cpu = line.substring(line.indexOf(':') + 1).trim();
                    break;
                }
            }
        } catch (IOException | RuntimeException e) {
            // keep the default
        }
        return cpu + ", " + Runtime.getRuntime().availableProcessors() + " cores";
    }
}
