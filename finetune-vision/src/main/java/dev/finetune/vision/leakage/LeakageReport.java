package dev.finetune.vision.leakage;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * What a {@link LeakageCheck} found: the pairs of files shared by two splits, the files it could not
 * read, counts per pair of splits, and the split lists with the later copies removed. Files on disk
 * are never touched.
 */
public final class LeakageReport {

    private final List<LeakageCheck.Leak> leaks;
    private final List<LeakageCheck.Unreadable> unreadable;
    private final List<String> splitOrder;
    private final int maxDistance;

    LeakageReport(List<LeakageCheck.Leak> leaks, List<LeakageCheck.Unreadable> unreadable, List<String> splitOrder,
            int maxDistance) {
        this.leaks = List.copyOf(leaks);
        this.unreadable = List.copyOf(unreadable);
        this.splitOrder = List.copyOf(splitOrder);
        this.maxDistance = maxDistance;
    }

    /** @return every pair of files found in two splits */
    public List<LeakageCheck.Leak> leaks() {
        return leaks;
    }

    /** @return files that could not be read or decoded (not checked) */
    public List<LeakageCheck.Unreadable> unreadable() {
        return unreadable;
    }

    /** @return true when no leak was found */
    public boolean isClean() {
        return leaks.isEmpty();
    }

    /** @return "train/validation" style keys to the number of leaked pairs between them */
    public Map<String, Integer> countsBySplitPair() {
        Map<String, Integer> out = new LinkedHashMap<>();
        for (LeakageCheck.Leak l : leaks) {
            out.merge(l.firstSplit() + "/" + l.secondSplit(), 1, Integer::sum);
        }
        return out;
    }

    /**
     * The splits with every leaked file of the later split of each pair removed (the copy in the
     * earlier split, e.g. train, is kept).
     *
     * @param splits the lists that were checked
     * @return new lists, same order
     */
    public Map<String, List<Path>> withoutLeaks(Map<String, List<Path>> splits) {
        Map<String, Set<Path>> drop = new LinkedHashMap<>();
        for (LeakageCheck.Leak l : leaks) {
            drop.computeIfAbsent(l.secondSplit(), k -> new HashSet<>()).add(l.second());
        }
        Map<String, List<Path>> out = new LinkedHashMap<>();
        for (Map.Entry<String, List<Path>> e : splits.entrySet()) {
            Set<Path> gone = drop.getOrDefault(e.getKey(), Set.of());
            List<Path> kept = new ArrayList<>();
            for (Path p : e.getValue()) {
                if (!gone.contains(p)) {
                    kept.add(p);
                }
            }
            out.put(e.getKey(), kept);
        }
        return out;
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder();
        sb.append(leaks.size()).append(" leaked pair(s) across ").append(splitOrder)
                .append(" (near copies: perceptual hashes within ").append(maxDistance).append(" of 64 bits)")
                .append(System.lineSeparator());
        countsBySplitPair().forEach((k, v) -> sb.append("  ").append(k).append(": ").append(v).append(System.lineSeparator()));
        for (LeakageCheck.Leak l : leaks) {
            sb.append("  ").append(l.kind()).append(" d=").append(l.distance()).append("  ")
                    .append(l.firstSplit()).append(':').append(l.first()).append("  <->  ")
                    .append(l.secondSplit()).append(':').append(l.second()).append(System.lineSeparator());
        }
        for (LeakageCheck.Unreadable u : unreadable) {
            sb.append("  UNREADABLE ").append(u.split()).append(':').append(u.file()).append(" (").append(u.reason())
                    .append(')').append(System.lineSeparator());
        }
        return sb.toString();
    }
}
