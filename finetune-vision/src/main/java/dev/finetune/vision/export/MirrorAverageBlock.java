package dev.finetune.vision.export;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Block;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;

/**
 * Test-time augmentation by mirroring: runs its inner block on the NCHW images and on their mirror
 * images (left to right) and returns the mean of the two outputs. Before a linear
 * layer this averages the two predictions' scores; the exported model serves the same average.
 */
final class MirrorAverageBlock extends AbstractBlock {

    private static final byte VERSION = 1;
    /** Name in an export's block layout: {@code mirror(inner)}. */
    static final String LAYOUT = "mirror";

    private final Block inner;

    MirrorAverageBlock(Block inner) {
        super(VERSION);
        this.inner = addChildBlock("inner", inner);
    }

    /** @return the block run on both views */
    Block inner() {
        return inner;
    }

    @Override
    protected NDList forwardInternal(ParameterStore store, NDList inputs, boolean training, PairList<String, Object> params) {
        // two passes of the batch's size, not one of twice the size: on a CPU small batches run
        // fastest per image (see FeatureCache)
        NDArray x = inputs.singletonOrThrow();
        NDArray plain = inner.forward(store, new NDList(x), training, params).singletonOrThrow();
        NDArray mirrored = inner.forward(store, new NDList(x.flip(3)), training, params).singletonOrThrow();
        return new NDList(plain.add(mirrored).div(2));
    }

    @Override
    protected void initializeChildBlocks(NDManager manager, DataType dataType, Shape... inputShapes) {
        inner.initialize(manager, dataType, inputShapes);
    }

    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return inner.getOutputShapes(inputShapes);
    }

    @Override
    public String toString() {
        return "MirrorAverage(" + inner + ")";
    }
}
