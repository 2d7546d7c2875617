package dev.finetune.core.result;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * The outcome of a fine-tune: per-epoch metrics, the best epoch by the checkpoint metric with its
 * confusion matrix, trainable values per stage, where the best checkpoint was written, and warnings
 * drawn from the curves (overfitting). {@link #toString()} prints a readable table.
 *
 * <pre>{@code
 * FineTuneResult result = tuner.fit(train, validation);
 * System.out.println(result);                      // per-epoch table, best epoch, confusion matrix, warnings
 * EpochMetrics best = result.bestEpoch();          // picked by result.metric(), e.g. CheckpointMetric.ACCURACY
 * System.out.printf("best epoch %d: validation accuracy %.3f, macro-F1 %.3f%n",
 *         best.epoch(), best.validationAccuracy(), best.validationMacroF1());
 * for (EpochMetrics e : result.epochs()) {
 *     System.out.println(e.epoch() + ": train loss " + e.trainLoss() + ", validation loss " + e.validationLoss());
 * }
 * System.out.println(result.bestConfusionMatrix()); // rows true classes, columns predictions
 * result.checkpoint().ifPresent(file -> System.out.println("best weights in " + file));
 * result.warnings().forEach(System.out::println);   // e.g. a class without validation samples, overfitting
 * }</pre>
 */
public final class FineTuneResult {

    private static final com.google.gson.Gson JSON = new com.google.gson.GsonBuilder().setPrettyPrinting()
            .serializeSpecialFloatingPointValues().serializeNulls().create();

    private final List<EpochMetrics> epochs;
    private final List<String> stageDescriptions;
    private final CheckpointMetric metric;
    private final int bestIndex;
    private final ConfusionMatrix bestConfusion;
    private final Path checkpoint;
    private final long seed;
    private final List<String> fitWarnings;

    /**
     * Creates a result.
     *
     * @param epochs metrics of every epoch, in order
     * @param stageDescriptions the full description of each stage
     * @param metric the metric that picks the best epoch
     * @param bestIndex index into {@code epochs} of the best epoch
     * @param bestConfusion the validation confusion matrix of the best epoch
     * @param checkpoint the best checkpoint written, or null
     * @param seed the random seed of the run
     */
    public FineTuneResult(
            List<EpochMetrics> epochs,
            List<String> stageDescriptions,
            CheckpointMetric metric,
            int bestIndex,
            ConfusionMatrix bestConfusion,
            Path checkpoint,
            long seed) {
        this(epochs, stageDescriptions, metric, bestIndex, bestConfusion, checkpoint, seed, List.of());
    }

    /**
     * Creates a result with what the fit found that a user must know (a class without training
     * samples, a setting that could not hold, a resume that is not exact).
     *
     * @param epochs metrics of every epoch, in order
     * @param stageDescriptions the full description of each stage
     * @param metric the metric that picks the best epoch
     * @param bestIndex index into {@code epochs} of the best epoch
     * @param bestConfusion the validation confusion matrix of the best epoch
     * @param checkpoint the best checkpoint written, or null
     * @param seed the random seed of the run
     * @param fitWarnings what the fit found, listed first by {@link #warnings()}
     */
    public FineTuneResult(
            List<EpochMetrics> epochs,
            List<String> stageDescriptions,
            CheckpointMetric metric,
            int bestIndex,
            ConfusionMatrix bestConfusion,
            Path checkpoint,
            long seed,
            List<String> fitWarnings) {
        if (epochs.isEmpty()) {
            throw new IllegalArgumentException("A result needs at least one epoch.");
        }
        this.epochs = List.copyOf(epochs);
        this.stageDescriptions = List.copyOf(stageDescriptions);
        this.metric = metric;
        this.bestIndex = bestIndex;
        this.bestConfusion = bestConfusion;
        this.checkpoint = checkpoint;
        this.seed = seed;
        this.fitWarnings = List.copyOf(fitWarnings);
    }

    /** @return every epoch's metrics */
    public List<EpochMetrics> epochs() {
        return epochs;
    }

    /** @return the best epoch by {@link #metric()} */
    public EpochMetrics bestEpoch() {
        return epochs.get(bestIndex);
    }

    /** @return the last epoch */
    public EpochMetrics lastEpoch() {
        return epochs.get(epochs.size() - 1);
    }

    /** @return the metric that picked the best epoch */
    public CheckpointMetric metric() {
        return metric;
    }

    /** @return the best epoch's value of the metric */
    public double bestMetricValue() {
        return metric.of(bestEpoch());
    }

    /** @return the validation confusion matrix of the best epoch */
    public ConfusionMatrix bestConfusionMatrix() {
        return bestConfusion;
    }

    /** @return where the best checkpoint is, if one was written */
    public Optional<Path> checkpoint() {
        return Optional.ofNullable(checkpoint);
    }

    /** @return the full description of each stage */
    public List<String> stageDescriptions() {
        return stageDescriptions;
    }

    /** @return the random seed of the run */
    public long seed() {
        return seed;
    }

    /**
     * The most values trained in any epoch of a stage.
     *
     * @param stage 0-based stage index
     * @return trainable values
     */
    public long trainableParameters(int stage) {
        long n = 0;
        for (EpochMetrics m : epochs) {
            if (m.stage() == stage) {
                n = Math.max(n, m.trainableParameters());
            }
        }
        return n;
    }

    /** @return total wall time of all epochs, seconds */
    public double totalSeconds() {
        double s = 0;
        for (EpochMetrics m : epochs) {
            s += m.seconds();
        }
        return s;
    }

    /**
     * What the fit found (classes without training or validation samples, found in the first
     * epoch; settings that could not hold, such as kept BatchNorm statistics in an imported module
     * that trains; a resume from a best checkpoint, which is not exact), then what the curves show:
     * overfitting when validation loss rises after its minimum while training loss keeps falling.
     * The same lines go to the SLF4J log as warnings.
     *
     * @return human-readable warnings; empty when none
     */
    public List<String> warnings() {
        List<String> out = new ArrayList<>(fitWarnings);
        int minAt = 0;
        for (int i = 1; i < epochs.size(); i++) {
            if (epochs.get(i).validationLoss() < epochs.get(minAt).validationLoss()) {
                minAt = i;
            }
        }
        EpochMetrics min = epochs.get(minAt);
        EpochMetrics last = lastEpoch();
        if (minAt < epochs.size() - 1
                && last.validationLoss() > min.validationLoss() * 1.05
                && last.trainLoss() < min.trainLoss()) {
            out.add(String.format(
                    Locale.ROOT,
                    "Overfitting: validation loss rose from %.4f (epoch %d) to %.4f (epoch %d) while"
                            + " training loss fell from %.4f to %.4f. The checkpoint keeps epoch %d;"
                            + " train fewer epochs or layers, lower the rate, or add data/augmentation.",
                    min.validationLoss(), min.epoch(), last.validationLoss(), last.epoch(),
                    min.trainLoss(), last.trainLoss(), bestEpoch().epoch()));
        }
        return out;
    }

    /**
     * The per-epoch history as CSV: one row per epoch (stage 1-based), the last column marking the
     * best epoch. Full precision, for a host's own charts or spreadsheets.
     *
     * <pre>{@code
     * Files.writeString(Path.of("history.csv"), result.historyCsv());
     * }</pre>
     *
     * @return the CSV text with a header row
     */
    public String historyCsv() {
        List<List<?>> rows = new ArrayList<>();
        for (int i = 0; i < epochs.size(); i++) {
            EpochMetrics m = epochs.get(i);
            rows.add(List.of(m.epoch(), m.stage() + 1, m.stageName(), m.epochInStage(), m.trainLoss(),
                    m.trainAccuracy(), m.learningRate(), m.trainSamples(), m.trainSeconds(), m.validationLoss(),
                    m.validationAccuracy(), m.validationMacroF1(), m.seconds(), m.trainableParameters(),
                    i == bestIndex));
        }
        return dev.finetune.core.internal.Csv.write(List.of("epoch", "stage", "stage_name", "epoch_in_stage",
                "train_loss", "train_accuracy", "learning_rate", "train_samples", "train_seconds", "val_loss",
                "val_accuracy", "val_macro_f1", "seconds", "trainable_parameters", "best"), rows);
    }

    /**
     * The whole result as JSON: seed, metric, stages, best epoch, checkpoint, warnings, the best
     * epoch's confusion matrix and every epoch's metrics (the fields of {@link EpochMetrics}).
     *
     * @return the JSON text
     */
    public String historyJson() {
        java.util.Map<String, Object> out = new java.util.LinkedHashMap<>();
        out.put("seed", seed);
        out.put("metric", metric.name());
        out.put("stages", stageDescriptions);
        out.put("bestEpoch", bestEpoch().epoch());
        out.put("bestMetricValue", bestMetricValue());
        out.put("checkpoint", checkpoint == null ? null : checkpoint.toString());
        out.put("warnings", warnings());
        java.util.Map<String, Object> confusion = new java.util.LinkedHashMap<>();
        confusion.put("classes", bestConfusion.classNames());
        long[][] counts = new long[bestConfusion.classCount()][bestConfusion.classCount()];
        for (int i = 0; i < counts.length; i++) {
            for (int j = 0; j < counts.length; j++) {
                counts[i][j] = bestConfusion.count(i, j);
            }
        }
        confusion.put("counts", counts);
        out.put("bestConfusion", confusion);
        out.put("epochs", epochs);
        return JSON.toJson(out);
    }

    /**
     * Writes the history to a file: CSV ({@link #historyCsv()}) for a {@code .csv} name, JSON
     * ({@link #historyJson()}) for a {@code .json} name.
     *
     * @param file the file, ending in .csv or .json; its folder is created if needed
     * @return the file
     * @throws java.io.IOException if it cannot be written
     */
    public Path writeHistory(Path file) throws java.io.IOException {
        String name = file.getFileName().toString().toLowerCase(Locale.ROOT);
        String text;
        if (name.endsWith(".csv")) {
            text = historyCsv();
        } else if (name.endsWith(".json")) {
            text = historyJson();
        } else {
            throw new IllegalArgumentException("writeHistory(" + file + "): name the file .csv or .json, for the"
                    + " format to write.");
        }
        Path dir = file.toAbsolutePath().getParent();
        if (dir != null) {
            java.nio.file.Files.createDirectories(dir);
        }
        return java.nio.file.Files.writeString(file, text, java.nio.charset.StandardCharsets.UTF_8);
    }

    /** @return the per-epoch table, the best epoch, its confusion matrix and any warnings */
    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder();
        String nl = System.lineSeparator();
        sb.append(String.format(Locale.ROOT,
                "%5s  %-26s %9s %9s %9s %9s %9s %9s %8s %11s%n",
                "epoch", "stage", "trainLoss", "trainAcc", "valLoss", "valAcc", "valF1", "lr", "seconds", "trainable"));
        for (int i = 0; i < epochs.size(); i++) {
            EpochMetrics m = epochs.get(i);
            String stage = shorten(m.stage() + 1 + ":" + m.stageName() + " " + m.epochInStage(), 26);
            sb.append(String.format(Locale.ROOT,
                    "%5d%s %-26s %9.4f %9.4f %9.4f %9.4f %9.4f %9.2e %8.2f %11d%n",
                    m.epoch(), i == bestIndex ? "*" : " ", stage, m.trainLoss(), m.trainAccuracy(),
                    m.validationLoss(), m.validationAccuracy(), m.validationMacroF1(), m.learningRate(), m.seconds(),
                    m.trainableParameters()));
        }
        sb.append(String.format(Locale.ROOT,
                "best: epoch %d, validation %s %.4f (seed %d, %.1f s in all)%n",
                bestEpoch().epoch(), metric.name().toLowerCase(Locale.ROOT), bestMetricValue(), seed, totalSeconds()));
        if (checkpoint != null) {
            sb.append("checkpoint: ").append(checkpoint).append(nl);
        }
        sb.append("validation confusion matrix of the best epoch:").append(nl).append(bestConfusion);
        for (String w : warnings()) {
            sb.append("WARNING ").append(w).append(nl);
        }
        return sb.toString();
    }

    private static String shorten(String s, int max) {
        return s.length() <= max ? s : s.substring(0, max - 1) + "~";
    }
}
