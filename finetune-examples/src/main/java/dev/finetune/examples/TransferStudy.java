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

import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.UnaryOperator;

/**
 * The main job: the committed backbone, pretrained on five Fashion-MNIST classes, is fine-tuned to
 * the five others (a near target) and to MNIST digits (a far target) at several data sizes. For each
 * setting the freeze-or-tune advisor (Chu et al. 2016) measures images per class and the source-target
 * distance, five strategies are compared on accuracy and cost over seeds, and the advice is printed
 * beside the measured winner. Tables, CSV and PNG charts go to {@code target/study/}.
 *
 * <p>Ctrl-C stops the study at the next training step; the settings already complete are summarised.
 *
 * <p>Flags: {@code --full} (more sizes and seeds, ~10x longer), {@code --sizes 10,50,200},
 * {@code --mnist-sizes 10,200}, {@code --seeds 2}, {@code --epochs 6}, {@code --out DIR}.
 */
public final class TransferStudy {

    static final int[] DIGITS = {0, 1, 2, 3, 4};

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
     * Runs the study.
     *
     * @param args flags
     * @throws Exception if data is missing or a run fails
     */
    public static void main(String[] args) throws Exception {
        Settings s = parse(args);
        long start = System.nanoTime();
        IdxImages fashion = IdxImages.readSplit(StudyData.FASHION, true);
        IdxImages fashionTest = IdxImages.readSplit(StudyData.FASHION, false);
        List<Finding> findings = new ArrayList<>();
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
                return;
            }
            System.out.println("The summary below covers the complete settings only.");
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

    static Settings parse(String[] args) {
        int[] sizes = {10, 50, 200};
        int[] mnist = {10, 200};
        int seeds = 2;
        int epochs = 6;
        Path out = Paths.get("target", "study");
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--full":
                    sizes = new int[] {5, 10, 20, 50, 100, 200, 500, 1000};
                    mnist = new int[] {10, 50, 200, 1000};
                    seeds = 3;
                    epochs = 10;
                    break;
                case "--sizes":
                    sizes = ints(args[++i]);
                    break;
                case "--mnist-sizes":
                    mnist = ints(args[++i]);
                    break;
                case "--seeds":
                    seeds = Integer.parseInt(args[++i]);
                    break;
                case "--epochs":
                    epochs = Integer.parseInt(args[++i]);
                    break;
                case "--out":
                    out = Paths.get(args[++i]);
                    break;
                default:
                    throw new IllegalArgumentException("Unknown flag " + args[i]
                            + " (flags: --full, --sizes a,b, --mnist-sizes a,b, --seeds n, --epochs n, --out dir)");
            }
        }
        return new Settings(sizes, mnist, seeds, epochs, out);
    }

    private static int[] ints(String csv) {
        if (csv.isBlank()) {
            return new int[0];
        }
        String[] parts = csv.split(",");
        int[] out = new int[parts.length];
        for (int i = 0; i < parts.length; i++) {
            out[i] = Integer.parseInt(parts[i].trim());
        }
        return out;
    }
}
