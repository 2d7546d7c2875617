package dev.finetune.core;

/**
 * The loss became NaN or infinite: the stage stopped. The message names the step and suggests a
 * lower learning rate or clipping; the best checkpoint written before is kept.
 */
public class TrainingDivergedException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    /** The 1-based step within the stage where the loss first became non-finite. */
    private final long step;

    /**
     * @param message the explanation
     * @param step the 1-based step within the stage where the loss first became non-finite
     */
    public TrainingDivergedException(String message, long step) {
        super(message);
        this.step = step;
    }

    /** @return the 1-based step within the stage where the loss first became non-finite */
    public long step() {
        return step;
    }
}
