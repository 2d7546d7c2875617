package dev.finetune.vision.transform;

import ai.djl.translate.Pipeline;
import ai.djl.translate.Transform;

import java.util.List;

/**
 * A DJL pipeline made by an {@link ImagePipeline}, which remembers its description: an
 * {@code ImageDataset} given one composites transparent images over the description's background
 * and checks, when it is built, that every image of its catalog can be framed (see
 * {@link ImagePipeline#outputShape}), so a problem fails before training rather than after it.
 */
public final class DescribedPipeline extends Pipeline {

    private final ImagePipeline description;
    private final boolean training;
    private final long seed;

    DescribedPipeline(ImagePipeline description, boolean training, long seed, List<Transform> steps) {
        super(steps.toArray(new Transform[0]));
        this.description = description;
        this.training = training;
        this.seed = seed;
    }

    /** @return the description this pipeline was made from */
    public ImagePipeline description() {
        return description;
    }

    /** @return whether this is the augmenting training pipeline (otherwise the evaluation one) */
    public boolean isTraining() {
        return training;
    }

    /**
     * A new pipeline of the same description, kind and seed, whose random draws start afresh
     * (transforms added to this one after it was made are not carried over).
     *
     * @return the new pipeline
     */
    public DescribedPipeline twin() {
        return training ? description.training(seed) : description.evaluation();
    }
}
