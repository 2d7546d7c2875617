package dev.finetune.core.plan;

/**
 * What BatchNorm layers do during a stage. The default for small data is
 * {@link #KEEP_STATISTICS}: noisy batch statistics of a few hundred images would overwrite good
 * pretrained ones.
 */
public enum BatchNormPolicy {
    /** Training mode: normalise with batch statistics and update the running statistics. */
    TRAIN,
    /** Training mode with scale and shift frozen; running statistics still update. */
    FREEZE_AFFINE,
    /**
     * Evaluation mode: normalise with the pretrained running statistics and never change them;
     * scale and shift train if their group does.
     */
    KEEP_STATISTICS
}
