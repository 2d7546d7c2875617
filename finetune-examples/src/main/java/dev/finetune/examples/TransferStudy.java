package dev.finetune.examples;

import ai.djl.Model;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.dataset.ArrayDataset;
import dev.finetune.core.FineTuner;
import dev.finetune.core.advice.Advice;
import dev.finetune.core.advice.Diagnosis;
import dev.finetune.core.advice.TransferAdvisor;
import dev.finetune.core.compare.Candidate;
import dev.finetune.core.compare.Comparison;
import dev.finetune.core.compare.ComparisonReport;
import dev.finetune.core.compare.StrategyRun;
import dev.finetune.core.stage.Stage;
import dev.finetune.core.TrainingInterruptedException;
import dev.finetune.vision.backbone.Heads;
import dev.finetune.vision.backbone.TorchScriptBackbone;
import dev.finetune.vision.data.IdxImages;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.concurrent.Callable;
import java.util.function.UnaryOperator;

/**
 * The main job: the committed backbone, pretrained on five Fashion-MNIST classes, is fine-tuned to
 * the five others (a near target) and to MNIST digits (a far target) at several data sizes. For each
 * setting the freeze-or-tune advisor (Chu et al. 2016) measures images per class and the source-target
 * distance, five strategies are compared on accuracy and cost over seeds, and the advice is printed
 * beside the measured winner. Tables, CSV and PNG charts go to {@code target/study/}.
 *
 * <p>Ctrl-C stops the study at the next training step; the settings already complete are summarised
 * (exit status 130).
 *
 * <p>Flags (defaults shown): {@code --full} (more sizes and seeds, ~10x longer; flags given beside it
 * win), {@code --sizes 10,50,200}, {@code --mnist-sizes 10,200} ({@code ''} for none),
 * {@code --seeds 2}, {@code --epochs 6}, {@code --out target/study}; {@code --help}.
 */
@Command(name = "TransferStudy", mixinStandardHelpOptions = true,
        description = "Fine-tunes the committed Fashion-MNIST backbone to five other Fashion-MNIST classes"
                + " (near) and to MNIST digits (far) at several data sizes; prints the freeze-or-tune advice"
                + " beside the measured winner of five strategies. Ctrl-C stops at the next step and"
                + " summarises the complete settings.",
        exitCodeListHeading = "Exit status:%n",
        exitCodeList = {"0:done", "1:failed", "2:bad arguments", "130:stopped by Ctrl-C"})
public final class TransferStudy implements Callable<Integer> {

    static final int[] DIGITS = {0, 1, 2, 3, 4};

    @Option(names = "--full", description = "more sizes and seeds, ~10x longer: --sizes 5,10,20,50,100,200,500,1000"
            + " --mnist-sizes 10,50,200,1000 --seeds 3 --epochs 10, each unless given")
    private boolean full;

    @Option(names = "--sizes", split = ",", paramLabel = "N", converter = SizeOrNone.class,
            description = "Fashion-MNIST target training images per class, one setting each (default: 10,50,200;"
                    + " '' for none)")
    private List<Integer> sizes;

    @Option(names = "--mnist-sizes", split = ",", paramLabel = "N", converter = SizeOrNone.class,
            description = "MNIST training images per class, one setting each (default: 10,200; '' for none)")
    private List<Integer> mnistSizes;

    @Option(names = "--seeds", paramLabel = "N", description = "seeds per strategy (default: 2)")
    private Integer seeds;

    @Option(names = "--epochs", paramLabel = "N", description = "epochs per strategy (default: 6)")
    private Integer epochs;

    @Option(names = "--out", paramLabel = "DIR", description = "where tables, CSV and charts go (default: ${DEFAULT-VALUE})")
    private Path out = Paths.get("target", "study");

    private TransferStudy() {}

    /** Study settings. */
    record Settings(int[] fashionSizes, int[] mnistSizes, int seeds, int epochs, Path out) {}

    /** What one setting found. */
    record Finding(String target, int perClass, Advice advice, ComparisonReport report) {}

    /**
     * The five strategies at a given length: head-only, partial, full at a 10x lower rate,
     * discriminative and gradual unfreezing; all but head-only start with two head-only epochs.
     *
     * @param epochs epochs per strategy
     * @return the candidates
     */
    static List<Candidate> candidates(int epochs) {
        Stage warm = Stage.headOnly().withEpochs(2).withLearningRate(1e-2);
        int rest = Math.max(1, epochs - 2);
        return List.of(
                Candidate.of("head-only", Stage.headOnly().withEpochs(epochs).withLearningRate(1e-2)),
                Candidate.of("partial(2)", warm, Stage.partial(2).withEpochs(rest).withLearningRate(1e-3)),
                Candidate.of("full low-lr", warm, Stage.full().withEpochs(rest).withLearningRate(1e-3)),
                Candidate.of("discriminative", warm, Stage.discriminative(2.6).withEpochs(rest).withLearningRate(3e-3)),
                Candidate.of("gradual", Stage.gradualUnfreezing().withEpochs(epochs).withLearningRate(3e-3)));
    }

    /**
     * Runs one setting: advice, comparison, files.
     *
     * @param name the target's name (file prefix)
     * @param target the target images
     * @param classes target classes
     * @param perClass training images per class
     * @param source the source sample for the distance
     * @param settings the study settings
     * @return the finding
     * @throws Exception on a failed run
     */
    static Finding run(String name, IdxImages target, IdxImages targetTest, int[] classes, int perClass,
            ArrayDataset source, Settings settings, List<String> classNames) throws Exception {
        try (NDManager data = NDManager.newBaseManager()) {
            ArrayDataset train = StudyData.dataset(target, target.sample(classes, perClass, 0, 17), classes, data,
                    Math.min(32, perClass * classes.length), true);
            ArrayDataset validation = StudyData.dataset(target, target.sample(classes, 60, 2000, 17), classes, data,
                    300, false);
            ArrayDataset test = StudyData.dataset(targetTest, targetTest.sample(classes, 200, 0, 17), classes, data,
                    500, false);
            Advice advice;
            try (Model backbone = TorchScriptBackbone.load(FolderFineTune.sourceBackbone())) {
                advice = TransferAdvisor.measure(backbone.getBlock(), backbone.getNDManager(), source, train,
                        classes.length);
            }
            UnaryOperator<FineTuner> configure = t -> t.optHeadReplacer(Heads.auto(new Shape(1, 3, 32, 32)))
                    .replaceHead(classes.length).optClassNames(classNames).optFeatureCache(true);
            Comparison.Builder builder = Comparison.builder()
                    .setModels(() -> TorchScriptBackbone.load(FolderFineTune.sourceBackbone()))
                    .optConfigure(configure);
            for (Candidate c : candidates(settings.epochs())) {
                builder.addCandidate(c);
            }
            long[] seeds = new long[settings.seeds()];
            for (int i = 0; i < seeds.length; i++) {
                seeds[i] = i + 1;
            }
            ComparisonReport report = builder.optSeeds(seeds).build().run(train, validation, test);
            report.write(settings.out(), name + "-" + perClass);
            return new Finding(name, perClass, advice, report);
        }
    }

    /**
     * Runs the study; {@code --help} lists the flags.
     *
     * @param args flags
     */
    public static void main(String[] args) {
        Interrupts.exit(new CommandLine(new TransferStudy()).execute(args));
    }

    /**
     * Runs the study.
     *
     * @return 0, or 130 when Ctrl-C stopped it
     * @throws Exception if data is missing or a run fails
     */
    @Override
    public Integer call() throws Exception {
        Settings s = settings();
        long start = System.nanoTime();
        IdxImages fashion = IdxImages.readSplit(StudyData.FASHION, true);
        IdxImages fashionTest = IdxImages.readSplit(StudyData.FASHION, false);
        List<Finding> findings = new ArrayList<>();
        boolean interrupted = false;
        try (Interrupts.Handle ctrlC = Interrupts.stopOnCtrlC(); NDManager data = NDManager.newBaseManager()) {
            ArrayDataset source = StudyData.dataset(fashion, fashion.sample(FashionTransfer.SOURCE, 100, 0, 5),
                    FashionTransfer.SOURCE, data, 250, false);
            List<String> targetNames = new ArrayList<>();
            for (int c : FashionTransfer.TARGET) {
                targetNames.add(FashionTransfer.NAMES.get(c));
            }
            for (int n : s.fashionSizes()) {
                findings.add(report(run("fashion", fashion, fashionTest, FashionTransfer.TARGET, n, source, s,
                        targetNames)));
            }
            if (s.mnistSizes().length > 0) {
                IdxImages mnist = IdxImages.readSplit(StudyData.mnist(), true);
                IdxImages mnistTest = IdxImages.readSplit(StudyData.mnist(), false);
                List<String> digitNames = List.of("0", "1", "2", "3", "4");
                for (int n : s.mnistSizes()) {
                    findings.add(report(run("mnist", mnist, mnistTest, DIGITS, n, source, s, digitNames)));
                }
            }
        } catch (TrainingInterruptedException e) {
            System.out.println();
            System.out.println("Stopped after " + findings.size() + " complete setting(s): " + e.getMessage());
            if (findings.isEmpty()) {
                return 130;
            }
            System.out.println("The summary below covers the complete settings only.");
            interrupted = true;
        }
        System.out.println();
        System.out.println("=== Advice (Chu et al. 2016, Table 3) beside the measured winner ===");
        System.out.printf(Locale.ROOT, "%-8s %9s %9s %-10s %-16s %-9s %-9s %s%n", "target", "img/class", "distance",
                "advice", "winner (val)", "freeze", "tune", "agrees");
        for (Finding f : findings) {
            ComparisonReport.Summary winner = f.report().bestByValidation();
            double freeze = meanTest(f.report(), "head-only");
            double tune = meanTest(f.report(), "full low-lr");
            String measured = freeze >= tune ? "FREEZE" : "TUNE";
            String rec = f.advice().recommendation().name();
            String agrees = rec.equals("TRY_BOTH") ? "(try both)" : rec.equals(measured) ? "yes" : "no";
            System.out.printf(Locale.ROOT, "%-8s %9d %9.3f %-10s %-16s %9.3f %9.3f %s%n", f.target(), f.perClass(),
                    f.advice().distance(), rec, winner.candidate().name(), freeze, tune, agrees);
        }
        System.out.println("freeze = head-only, tune = full fine-tuning at a 10x lower rate: mean test accuracy;"
                + " winner picked on validation. Files: " + s.out().toAbsolutePath());
        System.out.printf(Locale.ROOT, "study time %.0f s%n", (System.nanoTime() - start) / 1e9);
        return interrupted ? 130 : 0;
    }

    private static double meanTest(ComparisonReport report, String candidate) {
        double sum = 0;
        List<StrategyRun> runs = report.runsOf(candidate);
        for (StrategyRun r : runs) {
            sum += r.testAccuracy();
        }
        return sum / runs.size();
    }

    private static Finding report(Finding f) {
        System.out.println();
        System.out.printf(Locale.ROOT, "=== %s target, %d training images per class ===%n", f.target(), f.perClass());
        System.out.println(f.advice().explanation());
        System.out.print(f.report().table());
        for (StrategyRun r : f.report().runs()) {
            for (Diagnosis.Finding d : Diagnosis.of(r.result())) {
                System.out.printf("  %s seed %d: %s%n", r.candidate(), r.seed(), d.words());
            }
        }
        return f;
    }

    /**
     * The settings the flags give, as the program reads them.
     *
     * @param args flags
     * @return the settings
     * @throws CommandLine.ParameterException on an unknown flag or a bad value
     */
    static Settings parse(String[] args) {
        return CommandLine.populateCommand(new TransferStudy(), args).settings();
    }

    private Settings settings() {
        return new Settings(
                sizes != null ? ints(sizes) : full ? new int[] {5, 10, 20, 50, 100, 200, 500, 1000} : new int[] {10, 50, 200},
                mnistSizes != null ? ints(mnistSizes) : full ? new int[] {10, 50, 200, 1000} : new int[] {10, 200},
                seeds != null ? seeds : full ? 3 : 2,
                epochs != null ? epochs : full ? 10 : 6,
                out);
    }

    /** The sizes given, without the blanks that stand for none ({@code --mnist-sizes ''}). */
    private static int[] ints(List<Integer> values) {
        return values.stream().filter(Objects::nonNull).mapToInt(Integer::intValue).toArray();
    }

    /** One size of a comma-separated list; a blank one (the whole value {@code ''}) is none. */
    static final class SizeOrNone implements CommandLine.ITypeConverter<Integer> {
        @Override
        public Integer convert(String value) {
            if (value.isBlank()) {
                return null;
            }
            try {
                return Integer.valueOf(value.trim());
            } catch (NumberFormatException e) {
                throw new CommandLine.TypeConversionException("'" + value + "' is not an int");
            }
        }
    }
}
