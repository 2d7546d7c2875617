package dev.finetune.core.internal;

import ai.djl.MalformedModelException;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Block;
import ai.djl.nn.BlockList;
import ai.djl.nn.ParameterList;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;

/**
 * A block that stands in for another one and is invisible in names and files: shapes,
 * initialisation, children, parameters and the saved format are the inner block's. Subclasses say
 * only how the forward pass differs (the BatchNorm guard, the bfloat16 islands, bfloat16 serving).
 */
public abstract class TransparentBlock extends AbstractBlock {

    /** The block stood in for. */
    protected final Block inner;

    /**
     * @param inner the block stood in for
     */
    protected TransparentBlock(Block inner) {
        this.inner = inner;
    }

    /** @return the block stood in for */
    public Block inner() {
        return inner;
    }

    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return inner.getOutputShapes(inputShapes);
    }

    @Override
    public void initialize(NDManager manager, DataType dataType, Shape... inputShapes) {
        inner.initialize(manager, dataType, inputShapes);
    }

    @Override
    public boolean isInitialized() {
        return inner.isInitialized();
    }

    @Override
    public BlockList getChildren() {
        return inner.getChildren();
    }

    @Override
    public ParameterList getDirectParameters() {
        return inner.getDirectParameters();
    }

    @Override
    public ParameterList getParameters() {
        return inner.getParameters();
    }

    @Override
    public void saveParameters(DataOutputStream os) throws IOException {
        inner.saveParameters(os);
    }

    @Override
    public void loadParameters(NDManager manager, DataInputStream is) throws IOException, MalformedModelException {
        inner.loadParameters(manager, is);
    }

    @Override
    public String toString() {
        return inner.toString();
    }
}
