package dev.finetune.vision.auto;

import ai.djl.Model;
import ai.djl.training.dataset.RandomAccessDataset;
import dev.finetune.core.FineTuner;
import dev.finetune.core.result.Evaluation;
import dev.finetune.vision.data.ImageCatalog;
import dev.finetune.vision.data.ImageDataset;
import dev.finetune.vision.export.ClassifierExport;

import java.util.List;
import java.util.Locale;

/**
 * What {@link AutoFineTune} chose, what it tried and why: the chosen model (backbone and head, ready
 * to evaluate once on the test images and to export) and the candidates' validation accuracies.
 * Owns the model: close it.
 */
public final class AutoResult implements AutoCloseable {

    /**
     * One candidate and what it measured.
     *
     * @param name what it is
     * @param validationAccuracy its accuracy on the validation images
     * @param seconds its wall time
     * @param settings how it was trained, in words
     */
    public record Tried(String name, double validationAccuracy, double seconds, String settings) {}

    private final Model model;
    private final int classes;
    private final List<String> classNames;
    private final ClassifierExport.Preprocessing preprocessing;
    private final List<Tried> tried;
    private final Tried chosen;
    private final List<String> reasons;
    private final double imagesPerClass;

    AutoResult(Model model, int classes, List<String> classNames, ClassifierExport.Preprocessing preprocessing,
            List<Tried> tried, Tried chosen, List<String> reasons, double imagesPerClass) {
        this.model = model;
        this.classes = classes;
        this.classNames = List.copyOf(classNames);
        this.preprocessing = preprocessing;
        this.tried = List.copyOf(tried);
        this.chosen = chosen;
        this.reasons = List.copyOf(reasons);
        this.imagesPerClass = imagesPerClass;
    }

    /** @return the chosen model: the backbone with its classifier */
    public Model model() {
        return model;
    }

    /** @return the preprocessing the model expects, for {@link ClassifierExport#save} */
    public ClassifierExport.Preprocessing preprocessing() {
        return preprocessing;
    }

    /** @return the candidates, in the order tried */
    public List<Tried> tried() {
        return tried;
    }

    /** @return the chosen candidate */
    public Tried chosen() {
        return chosen;
    }

    /**
     * Measures the chosen model once on held-out images, with the evaluation preprocessing.
     *
     * @param test the test part
     * @return loss, accuracy, macro-F1 and the confusion matrix
     */
    public Evaluation evaluate(ImageCatalog test) {
        RandomAccessDataset data = ImageDataset.builder().setCatalog(test).optPipeline(preprocessing.pipeline())
                .setSampling(AutoFineTune.EVALUATION_BATCH, false).build();
        return FineTuner.from(model).optNumClasses(classes).optClassNames(classNames).evaluate(data);
    }

    /** @return what was chosen and why, with every candidate's figures */
    public String explanation() {
        StringBuilder out = new StringBuilder(String.format(Locale.ROOT, "Automatic fine-tune (%.1f images per class): %s.%n",
                imagesPerClass, reasons.get(0)));
        for (Tried t : tried) {
            out.append(String.format(Locale.ROOT, "  %-40s validation accuracy %.3f in %.1f s (%s)%n", t.name(),
                    t.validationAccuracy(), t.seconds(), t.settings()));
        }
        for (String reason : reasons.subList(1, reasons.size())) {
            out.append("  ").append(reason).append(System.lineSeparator());
        }
        return out.toString();
    }

    @Override
    public String toString() {
        return explanation();
    }

    @Override
    public void close() {
        model.close();
    }
}
