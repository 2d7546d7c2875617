package dev.finetune.core.internal;

import ai.djl.training.dataset.BatchSampler;
import ai.djl.training.dataset.RandomAccessDataset;
import ai.djl.training.dataset.RandomSampler;
import ai.djl.training.dataset.Sampler;

import java.lang.reflect.Field;
import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.Random;

/**
 * Shuffles a dataset whose sampling is random with a generator of the fit's own, seeded per epoch:
 * DJL's {@link RandomSampler} draws from one process-wide generator, so two fits in two threads
 * would take each other's draws, and a run resumed at epoch k would not see the order epoch k had
 * in the uninterrupted run. Datasets read in order, or sampled otherwise, keep their own sampler.
 */
public final class SeededSampling {

    private SeededSampling() {}

    /**
     * @param seed the fit's seed
     * @param epoch the 1-based epoch over the whole fit
     * @return the seed of that epoch's draws
     */
    public static long epochSeed(long seed, long epoch) {
        long z = seed * 0x9E3779B97F4A7C15L + epoch;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /**
     * The seed of one batch's draws within a pass (MixUp and CutMix), apart from the pass's shuffle.
     *
     * @param passSeed the seed of the pass ({@link #epochSeed}, or a trial's pass seed)
     * @param batch the 0-based batch within the pass
     * @return the batch's seed
     */
    public static long batchSeed(long passSeed, long batch) {
        return epochSeed(passSeed ^ 0x4D49585550L, batch); // "MIXUP": a stream apart from the shuffle's
    }

    /**
     * A sampler equal to the dataset's own but shuffling with {@code new Random(epochSeed)}, or null
     * when the dataset does not shuffle (or samples in a way this class does not know).
     *
     * @param data the dataset
     * @param epochSeed the epoch's seed
     * @return the sampler, or null to use the dataset's
     */
    public static Sampler forEpoch(RandomAccessDataset data, long epochSeed) {
        Object own = field(RandomAccessDataset.class, data, "sampler");
        if (!(own instanceof BatchSampler)) {
            return null;
        }
        Object sub = field(BatchSampler.class, own, "subSampler");
        if (sub == null || sub.getClass() != RandomSampler.class) {
            return null;
        }
        int batchSize = ((BatchSampler) own).getBatchSize();
        Object dropLast = field(BatchSampler.class, own, "dropLast");
        return new BatchSampler(new Shuffle(epochSeed), batchSize, Boolean.TRUE.equals(dropLast));
    }

    private static Object field(Class<?> owner, Object target, String name) {
        try {
            Field f = owner.getDeclaredField(name);
            f.setAccessible(true);
            return f.get(target);
        } catch (ReflectiveOperationException | RuntimeException e) {
            return null;
        }
    }

    /** A Fisher-Yates shuffle of the indices with a seeded generator. */
    private static final class Shuffle implements Sampler.SubSampler {
        private final long seed;

        Shuffle(long seed) {
            this.seed = seed;
        }

        @Override
        public Iterator<Long> sample(RandomAccessDataset dataset) {
            int n = Math.toIntExact(dataset.size());
            long[] order = new long[n];
            for (int i = 0; i < n; i++) {
                order[i] = i;
            }
            Random random = new Random(seed);
            for (int i = n - 1; i > 0; i--) {
                int j = random.nextInt(i + 1);
                long t = order[i];
                order[i] = order[j];
                order[j] = t;
            }
            return new Iterator<>() {
                private int next;

                @Override
                public boolean hasNext() {
                    return next < n;
                }

                @Override
                public Long next() {
                    if (next >= n) {
                        throw new NoSuchElementException();
                    }
                    return order[next++];
                }
            };
        }
    }
}
