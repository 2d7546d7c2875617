package dev.finetune.core.advice;

import dev.finetune.core.compare.Candidate;
import dev.finetune.core.stage.Stage;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * A freeze-or-tune recommendation with the measurements behind it, its explanation in words, and
 * the stage plans that carry it out.
 *
 * @param imagesPerClass training images per target class
 * @param distance cosine distance between the mean penultimate features of source and target
 * @param dataBand the band of the data size
 * @param distanceBand the band of the distance
 * @param recommendation freeze, tune or try both
 */
public record Advice(double imagesPerClass, double distance, Band dataBand, Band distanceBand,
        Recommendation recommendation) {

    /** @return why, in words, with the numbers and the paper's reasoning */
    public String explanation() {
        String data = String.format(Locale.ROOT, "%.0f images per class (%s data: %s)", imagesPerClass,
                dataBand.name().toLowerCase(Locale.ROOT),
                dataBand == Band.LOW ? "1-20" : dataBand == Band.MEDIUM ? "21-99" : "100 or more");
        String dist = Double.isNaN(distance) ? "distance not measured (taken as low)"
                : String.format(Locale.ROOT, "source-target cosine distance %.3f (%s: %s)", distance,
                        distanceBand.name().toLowerCase(Locale.ROOT),
                        distanceBand == Band.LOW ? "0-0.2" : distanceBand == Band.MEDIUM ? "0.2-0.4" : "0.4-1");
        String why;
        switch (recommendation) {
            case FREEZE:
                why = "With few images of a target close to the source, the pretrained features already"
                        + " separate the classes and fine-tuning them mostly overfits: freeze the backbone"
                        + " and train the new head.";
                break;
            case TUNE:
                why = dataBand == Band.HIGH
                        ? "With 100 or more images per class there is enough data to adapt the features"
                                + " without overfitting: fine-tune the whole network at a low rate."
                        : "The target is far enough from the source that frozen features transfer less well,"
                                + " and there is enough data to adapt them: fine-tune.";
                break;
            default:
                why = dataBand == Band.LOW
                        ? "Few images, but a target unlike the source: frozen features may not fit it and"
                                + " tuning may overfit; the paper finds the two close here, so compare both on"
                                + " validation data."
                        : "A target close to the source with a moderate amount of data is where freezing and"
                                + " tuning cross over in the paper: compare both on validation data.";
        }
        return "Chu et al. 2016, Table 3: " + data + ", " + dist + " -> " + recommendation + ". " + why;
    }

    /**
     * The plan for a recommendation: FREEZE trains the head only; TUNE trains the head first and
     * then every group at a rate 10x lower (the seed's full fine-tuning); TRY_BOTH gives the tune plan
     * (use {@link #candidates} to compare).
     *
     * @param epochs epochs of the main stage
     * @return the stages
     */
    public List<Stage> plan(int epochs) {
        if (recommendation == Recommendation.FREEZE) {
            return freeze(epochs);
        }
        return tune(epochs);
    }

    /**
     * The plans to compare: one for FREEZE or TUNE, both for TRY_BOTH.
     *
     * @param epochs epochs of the main stage
     * @return candidates for a {@link dev.finetune.core.compare.Comparison}
     */
    public List<Candidate> candidates(int epochs) {
        List<Candidate> out = new ArrayList<>();
        if (recommendation != Recommendation.TUNE) {
            out.add(new Candidate("freeze", freeze(epochs)));
        }
        if (recommendation != Recommendation.FREEZE) {
            out.add(new Candidate("tune", tune(epochs)));
        }
        return out;
    }

    private static List<Stage> freeze(int epochs) {
        return List.of(Stage.headOnly().withEpochs(epochs).withLearningRate(1e-2));
    }

    private static List<Stage> tune(int epochs) {
        int head = Math.max(1, epochs / 3);
        return List.of(Stage.headOnly().withEpochs(head).withLearningRate(1e-2),
                Stage.full().withEpochs(Math.max(1, epochs - head)).withLearningRate(1e-3));
    }
}
