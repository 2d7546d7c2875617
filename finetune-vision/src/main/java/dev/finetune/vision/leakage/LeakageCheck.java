package dev.finetune.vision.leakage;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Finds images that appear in more than one split of a dataset: exact copies (same bytes) and near
 * copies (perceptual hashes within a Hamming distance), the leakage that makes validation and test
 * scores look better than they are. Works on lists of files per split, so it fits any dataset.
 */
public final class LeakageCheck {

    /** How two files were found to be the same image. */
    public enum Kind {
        /** Identical bytes. */
        EXACT,
        /** Perceptual hashes within the distance limit (re-encoded, resized, retouched copies). */
        NEAR
    }

    /**
     * One image found in two splits.
     *
     * @param firstSplit the split listed first
     * @param first the file there
     * @param secondSplit the split listed later
     * @param second the file there
     * @param kind exact or near
     * @param distance Hamming distance of the perceptual hashes (0..64)
     */
    public record Leak(String firstSplit, Path first, String secondSplit, Path second, Kind kind, int distance) {}

    /**
     * A file that could not be read or decoded, so it was not checked.
     *
     * @param split its split
     * @param file the file
     * @param reason why
     */
    public record Unreadable(String split, Path file, String reason) {}

    private final int maxDistance;

    private LeakageCheck(Builder builder) {
        this.maxDistance = builder.maxDistance;
    }

    /** @return a builder with the default distance limit */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * Hashes every file and compares each pair of files from different splits.
     *
     * @param splits split name to its files, in the order the splits should be kept (e.g. train,
     *     validation, test)
     * @return the leaks and the files that could not be read
     */
    public LeakageReport check(Map<String, List<Path>> splits) {
        List<Entry> entries = new ArrayList<>();
        List<Unreadable> unreadable = new ArrayList<>();
        int splitIndex = 0;
        Map<String, Integer> order = new LinkedHashMap<>();
        for (Map.Entry<String, List<Path>> split : splits.entrySet()) {
            order.put(split.getKey(), splitIndex++);
            for (Path file : split.getValue()) {
                try {
                    entries.add(new Entry(split.getKey(), order.get(split.getKey()), file,
                            ImageHashes.sha256(file), ImageHashes.perceptual(file)));
                } catch (IOException e) {
                    unreadable.add(new Unreadable(split.getKey(), file, e.getMessage()));
                }
            }
        }
        List<Leak> leaks = new ArrayList<>();
        for (int i = 0; i < entries.size(); i++) {
            Entry a = entries.get(i);
            for (int j = i + 1; j < entries.size(); j++) {
                Entry b = entries.get(j);
                if (a.split == b.split) {
                    continue;
                }
                int d = ImageHashes.distance(a.hash, b.hash);
                boolean exact = a.sha.equals(b.sha);
                if (exact || d <= maxDistance) {
                    Entry lo = a.split < b.split ? a : b;
                    Entry hi = lo == a ? b : a;
                    leaks.add(new Leak(lo.name, lo.file, hi.name, hi.file, exact ? Kind.EXACT : Kind.NEAR, d));
                }
            }
        }
        return new LeakageReport(leaks, unreadable, new ArrayList<>(order.keySet()), maxDistance);
    }

    private record Entry(String name, int split, Path file, String sha, long hash) {}

    /** Builds a {@link LeakageCheck}. */
    public static final class Builder {
        private int maxDistance = 6;

        private Builder() {}

        /**
         * @param bits the largest Hamming distance (of 64 bits) counted as a near copy; default 6:
         *     re-encoded, halved and brightened photo copies measured 0-3, while distinct
         *     Fashion-MNIST items (small, centred, alike) came as close as 10. Tiny images upscaled
         *     3x through RGB measured 0-10 (11 of 30 Fashion-MNIST items above 6): such copies are
         *     not reliably found at the default, and a higher limit starts to pair distinct items
         * @return this
         */
        public Builder optMaxDistance(int bits) {
            if (bits < 0 || bits > 64) {
                throw new IllegalArgumentException("maxDistance must be in 0..64 bits, got " + bits);
            }
            maxDistance = bits;
            return this;
        }

        /** @return the check */
        public LeakageCheck build() {
            return new LeakageCheck(this);
        }
    }
}
