package dev.finetune.core.internal;

import ai.djl.ndarray.NDManager;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.nn.SequentialBlock;
import ai.djl.training.dataset.Dataset;
import ai.djl.training.dataset.RandomAccessDataset;
import ai.djl.util.Pair;
import ai.djl.util.PairList;
import dev.finetune.core.features.FeatureCache;
import dev.finetune.core.plan.EpochPlan;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Path;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;

/**
 * A stage trained on cached outputs of its frozen leading children: the frozen prefix of a
 * {@link SequentialBlock} runs once over the training and validation data, and the stage's epochs
 * run only the rest. Close it to free the caches (in memory or a memory-mapped file).
 */
public final class CacheSplit implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(CacheSplit.class);
    private static final int CHUNK = 256;

    private final SequentialBlock rest;
    private final FeatureCache trainCache;
    private final FeatureCache validationCache;
    private final Dataset train;
    private final Dataset validation;

    private CacheSplit(SequentialBlock rest, FeatureCache trainCache, FeatureCache validationCache, int trainBatch,
            int validationBatch) {
        this.rest = rest;
        this.trainCache = trainCache;
        this.validationCache = validationCache;
        this.train = trainCache.dataset(trainBatch, true);
        this.validation = validationCache.dataset(validationBatch, false);
    }

    /**
     * Caches the frozen prefix of a stage when it can: the block is a {@link SequentialBlock}, every
     * epoch left keeps BatchNorm statistics, both datasets are random-access, and the children before
     * the first trained one hold parameters.
     *
     * @param block the model
     * @param plans the plans of the stage's epochs still to run
     * @param train the training data
     * @param validation the validation data
     * @param batchSizes the training and validation batch sizes
     * @param manager the parameters' manager (device)
     * @param memoryLimit bytes kept on the device before the cache goes to a file
     * @param directory where file caches go, or null for the temporary folder
     * @param averaged parameters whose weight average may differ from their value (trained before):
     *     they stay out of the cached prefix, which validation runs with the live weights
     * @param bfloat16 whether the features are stored as bfloat16 (a bfloat16 fit)
     * @return the split, or null when the stage trains on the whole model
     */
    public static CacheSplit prepare(Block block, List<EpochPlan> plans, Dataset train, Dataset validation,
            int[] batchSizes, NDManager manager, long memoryLimit, Path directory, Set<Parameter> averaged,
            boolean bfloat16) {
        int split = splitChild(block, plans, train, validation, averaged);
        if (split <= 0) {
            return null;
        }
        SequentialBlock frozen = new SequentialBlock();
        SequentialBlock rest = new SequentialBlock();
        PairList<String, Block> children = block.getChildren();
        for (int c = 0; c < children.size(); c++) {
            (c < split ? frozen : rest).add(children.get(c).getValue());
        }
        FeatureCache trainCache = FeatureCache.compute(frozen, manager, (RandomAccessDataset) train, CHUNK, memoryLimit,
                directory, bfloat16);
        FeatureCache validationCache;
        try {
            validationCache = FeatureCache.compute(frozen, manager, (RandomAccessDataset) validation, CHUNK,
                    memoryLimit, directory, bfloat16);
        } catch (RuntimeException e) {
            trainCache.close();
            throw e;
        }
        LOG.info("training children {}.. on cached outputs of the first {} ({} + {} samples of {}, {} MB, {})", split,
                split, trainCache.size(), validationCache.size(), trainCache.sampleShape(),
                (trainCache.bytes() + validationCache.bytes()) / (1 << 20),
                (trainCache.onDisk() ? "memory-mapped file" : "in memory") + (bfloat16 ? ", bfloat16" : ""));
        return new CacheSplit(rest, trainCache, validationCache, batchSizes[0], batchSizes[1]);
    }

    /**
     * The index of the first child that any of the plans trains, when the children before it hold
     * only parameters the plans keep frozen; else -1.
     */
    private static int splitChild(Block block, List<EpochPlan> plans, Dataset train, Dataset validation,
            Set<Parameter> averaged) {
        if (!(block instanceof SequentialBlock) || !(train instanceof RandomAccessDataset)
                || !(validation instanceof RandomAccessDataset) || plans.isEmpty()) {
            return -1;
        }
        Set<Parameter> trained = Collections.newSetFromMap(new IdentityHashMap<>());
        trained.addAll(averaged);
        for (EpochPlan plan : plans) {
            if (!plan.keepsBatchNormStatistics()) {
                return -1;
            }
            for (EpochPlan.Trainable t : plan.trainable()) {
                trained.add(t.parameter());
            }
        }
        PairList<String, Block> children = block.getChildren();
        for (int c = 0; c < children.size(); c++) {
            for (Pair<String, Parameter> p : children.get(c).getValue().getParameters()) {
                if (trained.contains(p.getValue())) {
                    return c > 0 && hasParameters(children, c) ? c : -1;
                }
            }
        }
        return -1;
    }

    /** Whether any child before {@code end} has parameters (else there is nothing worth caching). */
    private static boolean hasParameters(PairList<String, Block> children, int end) {
        for (int c = 0; c < end; c++) {
            if (!children.get(c).getValue().getParameters().isEmpty()) {
                return true;
            }
        }
        return false;
    }

    /** @return the children after the cached prefix, to train */
    public Block rest() {
        return rest;
    }

    /** @return the cached training outputs, shuffled per epoch */
    public Dataset train() {
        return train;
    }

    /** @return the cached validation outputs */
    public Dataset validation() {
        return validation;
    }

    @Override
    public void close() {
        try {
            trainCache.close();
        } finally {
            validationCache.close();
        }
    }
}
