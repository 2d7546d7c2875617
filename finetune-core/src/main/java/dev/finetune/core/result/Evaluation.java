package dev.finetune.core.result;

/**
 * The model measured once on a dataset (e.g. the held-out test set): mean loss and the confusion
 * matrix, from which accuracy and macro-F1 follow.
 *
 * @param loss mean loss per sample
 * @param confusion counts of (true, predicted) classes
 */
public record Evaluation(double loss, ConfusionMatrix confusion) {

    /** @return the share of correct predictions */
    public double accuracy() {
        return confusion.accuracy();
    }

    /** @return macro-F1 over the classes present */
    public double macroF1() {
        return confusion.macroF1();
    }

    @Override
    public String toString() {
        return String.format(java.util.Locale.ROOT, "loss %.4f, accuracy %.4f, macro-F1 %.4f over %d samples",
                loss, accuracy(), macroF1(), confusion.total());
    }
}
