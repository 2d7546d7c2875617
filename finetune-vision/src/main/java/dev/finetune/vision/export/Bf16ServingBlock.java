package dev.finetune.vision.export;

import ai.djl.MalformedModelException;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Block;
import ai.djl.nn.BlockList;
import ai.djl.nn.Parameter;
import ai.djl.nn.ParameterList;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import dev.finetune.core.internal.MixedPrecision;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;

/**
 * Serves its inner block in bfloat16 ({@link MixedPrecision#serving}): at the first prediction the
 * TorchScript modules and weighted layers get bfloat16 copies of the loaded float32 weights.
 * Invisible in the saved files (the weights are the float32 export's), so an export serves in
 * float32 or bfloat16 by its layout alone: {@code bf16(inner)}.
 */
final class Bf16ServingBlock extends AbstractBlock {

    /** Name in an export's block layout: {@code bf16(inner)}. */
    static final String LAYOUT = "bf16";
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(Bf16ServingBlock.class);

    private final Block inner;
    private volatile Block running;

    Bf16ServingBlock(Block inner) {
        this.inner = inner;
    }

    /** @return the block served */
    Block inner() {
        return inner;
    }

    @Override
    protected NDList forwardInternal(ParameterStore store, NDList inputs, boolean training, PairList<String, Object> params) {
        Block block = running;
        if (block == null) {
            synchronized (this) {
                if (running == null) {
                    running = MixedPrecision.serving(inner, modelManager(inputs), LOG::warn);
                }
                block = running;
            }
        }
        return block.forward(store, inputs, training, params);
    }

    /** The manager of the model's weights: the bfloat16 copies live as long as they do. */
    private NDManager modelManager(NDList inputs) {
        for (Parameter p : inner.getParameters().values()) {
            if (p.isInitialized()) {
                return p.getArray().getManager();
            }
        }
        return inputs.head().getManager();
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
        running = null; // new weights: new copies at the next prediction
    }

    @Override
    public String toString() {
        return "Bf16Serving(" + inner + ")";
    }
}
