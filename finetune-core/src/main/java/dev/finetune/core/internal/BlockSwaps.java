package dev.finetune.core.internal;

import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Block;
import ai.djl.nn.BlockList;
import ai.djl.util.Pair;

import java.lang.reflect.Field;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

/**
 * Puts stand-ins in place of some blocks of a model's tree for the duration of a fit, and puts the
 * originals back. DJL offers no way to replace a child, so the children list of {@link AbstractBlock}
 * is reached by reflection; names (and so parameter names and saved files) are kept.
 */
final class BlockSwaps {

    private static final Field CHILDREN = childrenField();

    private record Swap(BlockList children, int index, String key, Block original) {}

    private final List<Swap> swaps = new ArrayList<>();

    /**
     * Walks the tree under {@code root} (through {@link AbstractBlock} children) and, for each child
     * that {@code standIn} maps to another block, puts that block in its place; a replaced child is
     * not walked into.
     *
     * @param root the model's block (itself never replaced here)
     * @param standIn the stand-in for a block, or the block itself to keep it
     */
    void replace(Block root, Function<Block, Block> standIn) {
        if (!(root instanceof AbstractBlock)) {
            return;
        }
        BlockList children = childrenOf((AbstractBlock) root);
        for (int i = 0; i < children.size(); i++) {
            Pair<String, Block> child = children.get(i);
            Block replacement = standIn.apply(child.getValue());
            if (replacement != child.getValue()) {
                children.remove(i);
                children.add(i, child.getKey(), replacement);
                swaps.add(new Swap(children, i, child.getKey(), child.getValue()));
            } else {
                replace(child.getValue(), standIn);
            }
        }
    }

    /** @return the stand-ins in place, in the order they were put there */
    List<Block> standIns() {
        List<Block> out = new ArrayList<>(swaps.size());
        for (Swap s : swaps) {
            out.add(s.children().get(s.index()).getValue());
        }
        return out;
    }

    /** @return how many blocks are replaced */
    int size() {
        return swaps.size();
    }

    /** Puts the original blocks back, last replaced first. */
    void restore() {
        for (int k = swaps.size() - 1; k >= 0; k--) {
            Swap s = swaps.get(k);
            s.children().remove(s.index());
            s.children().add(s.index(), s.key(), s.original());
        }
        swaps.clear();
    }

    private static BlockList childrenOf(AbstractBlock block) {
        try {
            return (BlockList) CHILDREN.get(block);
        } catch (IllegalAccessException e) {
            throw new IllegalStateException("Cannot reach the children of " + block.getClass(), e);
        }
    }

    private static Field childrenField() {
        try {
            Field f = AbstractBlock.class.getDeclaredField("children");
            f.setAccessible(true);
            return f;
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }
}
