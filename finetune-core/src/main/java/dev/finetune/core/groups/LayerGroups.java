package dev.finetune.core.groups;

import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.SymbolBlock;
import ai.djl.util.Pair;
import ai.djl.util.PairList;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Predicate;
import java.util.regex.Pattern;

/**
 * The ordered layer groups of a model, from the stem (index 0) to the head (last index), as the
 * strategies speak of them. Derived from a {@link SequentialBlock}'s children, from dotted parameter
 * names ({@code layer4.1.conv2.weight}), or given by the user as name patterns or child indices.
 */
public final class LayerGroups {

    private static final Pattern ENDS_WITH_DIGITS = Pattern.compile("^(.*?)(\\d+)$");

    private final List<LayerGroup> groups;

    /**
     * Creates groups from an ordered list; the last one is the head.
     *
     * @param groups at least one group
     */
    public LayerGroups(List<LayerGroup> groups) {
        if (groups.isEmpty()) {
            throw new IllegalArgumentException(
                    "A model needs at least one layer group with parameters (the head); none was"
                            + " found. Check that the model's block is initialised or loaded.");
        }
        this.groups = List.copyOf(groups);
    }

    /**
     * Derives the groups of a block: one group per child of a {@link SequentialBlock} (children
     * without parameters are folded into the group before them), otherwise from dotted parameter
     * names.
     *
     * @param block the model's block, with its final head in place
     * @return the groups, stem first, head last
     */
    public static LayerGroups of(Block block) {
        if (block instanceof SequentialBlock && block.getChildren().size() > 1) {
            return bySequentialChildren(block);
        }
        return byParameterNames(block.getParameters());
    }

    private static LayerGroups bySequentialChildren(Block block) {
        List<List<Pair<String, Parameter>>> parts = new ArrayList<>();
        List<String> names = new ArrayList<>();
        for (Pair<String, Block> child : block.getChildren()) {
            if (child.getValue() instanceof SymbolBlock) {
                // an imported module (TorchScript): its groups come from its dotted names
                PairList<String, Parameter> inner = new PairList<>();
                for (Pair<String, Parameter> p : child.getValue().getParameters()) {
                    inner.add(p.getKey(), p.getValue());
                }
                if (inner.isEmpty()) {
                    continue;
                }
                LayerGroups expanded = byParameterNamesKeepingLast(inner);
                for (LayerGroup g : expanded.asList()) {
                    List<Pair<String, Parameter>> params = new ArrayList<>();
                    for (Pair<String, Parameter> p : g.parameters()) {
                        params.add(new Pair<>(child.getKey() + "_" + p.getKey(), p.getValue()));
                    }
                    parts.add(params);
                    names.add(g.name());
                }
                continue;
            }
            List<Pair<String, Parameter>> params = new ArrayList<>();
            for (Pair<String, Parameter> p : child.getValue().getParameters()) {
                params.add(new Pair<>(child.getKey() + "_" + p.getKey(), p.getValue()));
            }
            if (params.isEmpty()) {
                continue; // pooling, flatten, activations: nothing to train
            }
            parts.add(params);
            names.add(null);
        }
        List<LayerGroup> groups = new ArrayList<>();
        for (int i = 0; i < parts.size(); i++) {
            String name = names.get(i) != null && i < parts.size() - 1 ? names.get(i) : defaultName(i, parts.size());
            groups.add(new LayerGroup(name, parts.get(i)));
        }
        return new LayerGroups(groups);
    }

    /** Groups by dotted names without calling the last group "head" (it is not the model's head). */
    private static LayerGroups byParameterNamesKeepingLast(PairList<String, Parameter> parameters) {
        LayerGroups g = byParameterNames(parameters);
        if (g.size() < 2) {
            return g;
        }
        List<LayerGroup> renamed = new ArrayList<>(g.asList());
        LayerGroup last = renamed.get(renamed.size() - 1);
        String key = last.parameters().get(0).getKey().split("\\.")[0];
        renamed.set(renamed.size() - 1, new LayerGroup(key, last.parameters()));
        return new LayerGroups(renamed);
    }

    private static String defaultName(int index, int count) {
        if (count == 1) {
            return "head";
        }
        if (index == 0) {
            return "stem";
        }
        if (index == count - 1) {
            return "head";
        }
        return "block" + index;
    }

    /**
     * Groups parameters by their dotted names, as TorchScript exports them: by the first name
     * component ({@code layer4}), splitting any component that holds more than 90% of all values
     * by its next component (so {@code features.3} or {@code encoder.layers.encoder_layer_7} become
     * groups), and folding the leading components before the first repeated block
     * ({@code conv1}, {@code bn1}) into one {@code stem}. The last group is the head.
     *
     * @param parameters the model's parameters with their names
     * @return the groups
     */
    public static LayerGroups byParameterNames(PairList<String, Parameter> parameters) {
        List<Pair<String, Parameter>> all = new ArrayList<>();
        for (Pair<String, Parameter> p : parameters) {
            all.add(p);
        }
        long total = 0;
        for (Pair<String, Parameter> p : all) {
            total += size(p.getValue());
        }
        Map<String, List<Pair<String, Parameter>>> byKey = groupByDepth(all, 1);
        // split dominating groups one level deeper while that makes them smaller
        for (int depth = 2; depth <= 4; depth++) {
            Map<String, List<Pair<String, Parameter>>> next = new LinkedHashMap<>();
            boolean changed = false;
            for (Map.Entry<String, List<Pair<String, Parameter>>> e : byKey.entrySet()) {
                long groupSize = 0;
                for (Pair<String, Parameter> p : e.getValue()) {
                    groupSize += size(p.getValue());
                }
                Map<String, List<Pair<String, Parameter>>> split = groupByDepth(e.getValue(), depth);
                if (total > 0 && groupSize * 10 > total * 9 && split.size() > 1) {
                    next.putAll(split);
                    changed = true;
                } else {
                    next.put(e.getKey(), e.getValue());
                }
            }
            byKey = next;
            if (!changed) {
                break;
            }
        }
        List<String> keys = new ArrayList<>(byKey.keySet());
        int firstRepeated = firstRepeatedBlock(keys);
        List<LayerGroup> groups = new ArrayList<>();
        if (firstRepeated > 1) {
            List<Pair<String, Parameter>> stem = new ArrayList<>();
            for (int i = 0; i < firstRepeated; i++) {
                stem.addAll(byKey.get(keys.get(i)));
            }
            groups.add(new LayerGroup("stem", stem));
        } else {
            firstRepeated = 0;
        }
        for (int i = firstRepeated; i < keys.size(); i++) {
            String name = i == keys.size() - 1 && keys.size() > 1 ? "head" : keys.get(i);
            groups.add(new LayerGroup(name, byKey.get(keys.get(i))));
        }
        return new LayerGroups(groups);
    }

    /** Index of the first key that ends in digits and shares its prefix with another key. */
    private static int firstRepeatedBlock(List<String> keys) {
        for (int i = 0; i < keys.size() - 1; i++) {
            var m = ENDS_WITH_DIGITS.matcher(keys.get(i));
            if (!m.matches()) {
                continue;
            }
            String prefix = m.group(1);
            for (int j = i + 1; j < keys.size(); j++) {
                var other = ENDS_WITH_DIGITS.matcher(keys.get(j));
                if (other.matches() && other.group(1).equals(prefix)) {
                    return i;
                }
            }
        }
        return 0;
    }

    private static Map<String, List<Pair<String, Parameter>>> groupByDepth(
            List<Pair<String, Parameter>> params, int depth) {
        Map<String, List<Pair<String, Parameter>>> byKey = new LinkedHashMap<>();
        for (Pair<String, Parameter> p : params) {
            String[] parts = p.getKey().split("\\.");
            int n = Math.min(depth, Math.max(1, parts.length - 1));
            String key = String.join(".", java.util.Arrays.copyOf(parts, n));
            byKey.computeIfAbsent(key, k -> new ArrayList<>()).add(p);
        }
        return byKey;
    }

    /**
     * Groups parameters by regular expressions matched against their full names (first match wins),
     * in the order the patterns are given; the last pattern must describe the head. Every pattern
     * must match at least one parameter and every parameter must match a pattern.
     *
     * @param block the model's block, head in place
     * @param patterns group name to regular expression, stem first, head last
     * @return the groups
     */
    public static LayerGroups byPatterns(Block block, Map<String, String> patterns) {
        if (patterns.isEmpty()) {
            throw new IllegalArgumentException("At least one layer-group pattern is needed.");
        }
        List<String> names = new ArrayList<>(patterns.keySet());
        List<Predicate<String>> predicates = new ArrayList<>();
        for (String regex : patterns.values()) {
            predicates.add(Pattern.compile(regex).asPredicate());
        }
        List<List<Pair<String, Parameter>>> members = new ArrayList<>();
        for (int i = 0; i < names.size(); i++) {
            members.add(new ArrayList<>());
        }
        List<String> unmatched = new ArrayList<>();
        PairList<String, Parameter> params = block.getParameters();
        for (Pair<String, Parameter> p : params) {
            int hit = -1;
            for (int i = 0; i < predicates.size() && hit < 0; i++) {
                if (predicates.get(i).test(p.getKey())) {
                    hit = i;
                }
            }
            if (hit < 0) {
                unmatched.add(p.getKey());
            } else {
                members.get(hit).add(p);
            }
        }
        List<LayerGroup> groups = new ArrayList<>();
        for (int i = 0; i < names.size(); i++) {
            if (members.get(i).isEmpty()) {
                throw new IllegalArgumentException(
                        String.format(
                                Locale.ROOT,
                                "Layer-group pattern '%s' for group '%s' matches no parameter."
                                        + " Parameter names look like: %s. Fix the pattern or"
                                        + " remove the group.",
                                patterns.get(names.get(i)),
                                names.get(i),
                                sampleNames(params)));
            }
            groups.add(new LayerGroup(names.get(i), members.get(i)));
        }
        if (!unmatched.isEmpty()) {
            throw new IllegalArgumentException(
                    "Parameters matched by no layer-group pattern: "
                            + unmatched.subList(0, Math.min(5, unmatched.size()))
                            + (unmatched.size() > 5 ? " and " + (unmatched.size() - 5) + " more" : "")
                            + ". Add a pattern that covers them (e.g. a catch-all '.*' group).");
        }
        return new LayerGroups(groups);
    }

    /**
     * Groups the children of a {@link SequentialBlock} by index ranges: {@code ends[i]} is the
     * exclusive end child index of group i; the last end must equal the number of children.
     *
     * @param block a sequential block
     * @param names the group names, head last
     * @param ends the exclusive end child index of each group
     * @return the groups
     */
    public static LayerGroups byChildIndices(Block block, List<String> names, int... ends) {
        if (!(block instanceof SequentialBlock)) {
            throw new IllegalArgumentException(
                    "Grouping by child indices needs a SequentialBlock, got "
                            + block.getClass().getSimpleName()
                            + ". Use byPatterns for other blocks.");
        }
        var children = block.getChildren();
        if (names.size() != ends.length || ends.length == 0) {
            throw new IllegalArgumentException("Give one end index per group name.");
        }
        int start = 0;
        List<LayerGroup> groups = new ArrayList<>();
        for (int g = 0; g < ends.length; g++) {
            if (ends[g] <= start || ends[g] > children.size()) {
                throw new IllegalArgumentException(
                        String.format(
                                Locale.ROOT,
                                "Group '%s' ends at child %d, which is not after %d and within the"
                                        + " %d children of the block.",
                                names.get(g),
                                ends[g],
                                start,
                                children.size()));
            }
            List<Pair<String, Parameter>> params = new ArrayList<>();
            for (int c = start; c < ends[g]; c++) {
                String childName = children.get(c).getKey();
                for (Pair<String, Parameter> p : children.get(c).getValue().getParameters()) {
                    params.add(new Pair<>(childName + "_" + p.getKey(), p.getValue()));
                }
            }
            if (params.isEmpty()) {
                throw new IllegalArgumentException(
                        "Group '" + names.get(g) + "' holds no parameters; merge it with another.");
            }
            groups.add(new LayerGroup(names.get(g), params));
            start = ends[g];
        }
        if (start != children.size()) {
            throw new IllegalArgumentException(
                    "The last group must end at the last child (" + children.size() + ").");
        }
        return new LayerGroups(groups);
    }

    private static String sampleNames(PairList<String, Parameter> params) {
        List<String> keys = params.keys();
        return keys.subList(0, Math.min(4, keys.size())) + (keys.size() > 4 ? " ..." : "");
    }

    private static long size(Parameter p) {
        if (p.isInitialized()) {
            return p.getArray().getShape().size();
        }
        return p.getShape() == null ? 0 : p.getShape().size();
    }

    /** @return the number of groups */
    public int size() {
        return groups.size();
    }

    /**
     * @param index 0 for the stem, {@code size()-1} for the head
     * @return the group
     */
    public LayerGroup get(int index) {
        return groups.get(index);
    }

    /** @return the head group (the last) */
    public LayerGroup head() {
        return groups.get(groups.size() - 1);
    }

    /** @return all groups, stem first */
    public List<LayerGroup> asList() {
        return Collections.unmodifiableList(groups);
    }

    /** @return total learnable values over all groups */
    public long parameterCount() {
        long n = 0;
        for (LayerGroup g : groups) {
            n += g.parameterCount();
        }
        return n;
    }

    /**
     * A table of the groups with parameter counts and, per group, the learning-rate multiplier a
     * stage gives it (0 = frozen).
     *
     * @param multipliers one per group, or null to leave the column out
     * @return a printable table
     */
    public String describe(double[] multipliers) {
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "%-3s %-22s %8s %12s %-10s%n", "#", "group", "tensors", "values", multipliers == null ? "" : "trainable"));
        for (int i = 0; i < groups.size(); i++) {
            LayerGroup g = groups.get(i);
            String state = "";
            if (multipliers != null) {
                state = multipliers[i] > 0
                        ? String.format(Locale.ROOT, "yes x%.3g", multipliers[i])
                        : "frozen";
            }
            boolean fresh = g.parameters().stream().anyMatch(p -> !p.getValue().isInitialized());
            String values = fresh ? "new" : String.valueOf(g.parameterCount());
            sb.append(String.format(Locale.ROOT, "%-3d %-22s %8d %12s %-10s%n", i, g.name(), g.parameters().size(), values, state));
        }
        return sb.toString();
    }

    @Override
    public String toString() {
        return describe(null);
    }
}
