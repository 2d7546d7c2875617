package dev.finetune.vision.bottleneck;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Stratified, seeded assignment of rows to cross-validation folds, a group at a time: the rows of
 * one group (an image and its mirror image, the photos of one patient) share a fold and a label.
 */
final class Folds {

    private Folds() {}

    /**
     * @param y labels in 0..classes-1
     * @param classes number of classes
     * @param folds number of folds, at least 2 and at most the smallest class's group count
     * @param seed shuffles each class's groups
     * @param groups a group id per row, or null for one group per row
     * @return the fold of each row
     */
    static int[] assign(int[] y, int classes, int folds, long seed, int[] groups) {
        // per class, the distinct groups in order of first appearance
        List<List<Integer>> byClass = new ArrayList<>();
        for (int c = 0; c < classes; c++) {
            byClass.add(new ArrayList<>());
        }
        Map<Integer, Integer> labelOfGroup = new LinkedHashMap<>();
        for (int i = 0; i < y.length; i++) {
            if (y[i] < 0 || y[i] >= classes) {
                throw new IllegalArgumentException("Label " + y[i] + " of sample " + i + " is outside 0.." + (classes - 1));
            }
            int group = groups == null ? i : groups[i];
            Integer known = labelOfGroup.putIfAbsent(group, y[i]);
            if (known == null) {
                byClass.get(y[i]).add(group);
            } else if (known != y[i]) {
                throw new IllegalArgumentException("Group " + group + " holds rows of classes " + known + " and " + y[i]
                        + ": the rows of a group must share one label.");
            }
        }
        int smallest = Integer.MAX_VALUE;
        for (List<Integer> members : byClass) {
            if (!members.isEmpty()) {
                smallest = Math.min(smallest, members.size());
            }
        }
        if (folds < 2 || folds > smallest) {
            throw new IllegalArgumentException(folds + " folds need 2 <= folds <= the smallest class size (" + smallest
                    + (groups == null ? ")." : " groups)."));
        }
        Random random = new Random(seed);
        Map<Integer, Integer> foldOfGroup = new LinkedHashMap<>();
        for (List<Integer> members : byClass) {
            Collections.shuffle(members, random);
            for (int k = 0; k < members.size(); k++) {
                foldOfGroup.put(members.get(k), k % folds);
            }
        }
        int[] fold = new int[y.length];
        for (int i = 0; i < y.length; i++) {
            fold[i] = foldOfGroup.get(groups == null ? i : groups[i]);
        }
        return fold;
    }
}
