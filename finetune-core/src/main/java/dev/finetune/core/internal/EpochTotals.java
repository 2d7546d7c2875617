package dev.finetune.core.internal;

/**
 * Totals of one pass over a dataset, read from the device once at its end.
 *
 * @param samples the number of samples seen
 * @param batches the number of batches
 * @param meanLoss the mean loss per sample
 * @param accuracy the share of correct predictions
 * @param confusion counts[true][predicted], or null when not collected
 * @param hostReads values read from the device to the host during the pass
 * @param lastLearningRate the base learning rate of the last training step (NaN for evaluation)
 * @param labelCounts samples per class seen in a training pass that checked its labels, else null
 */
public record EpochTotals(
        long samples, long batches, double meanLoss, double accuracy, long[][] confusion, int hostReads, double lastLearningRate,
        long[] labelCounts) {}
