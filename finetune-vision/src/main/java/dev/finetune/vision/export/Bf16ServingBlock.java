package dev.finetune.vision.export;

import ai.djl.MalformedModelException;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import dev.finetune.core.internal.MixedPrecision;
import dev.finetune.core.internal.TransparentBlock;

import java.io.DataInputStream;
import java.io.IOException;

/**
 * Serves its inner block in bfloat16 ({@link MixedPrecision#serving}): at the first prediction the
 * TorchScript modules and weighted layers get bfloat16 copies of the loaded float32 weights.
 * Invisible in the saved files (the weights are the float32 export's), so an export serves in
 * float32 or bfloat16 by its layout alone: {@code bf16(inner)}.
 */
final class Bf16ServingBlock extends TransparentBlock {

    /** Name in an export's block layout: {@code bf16(inner)}. */
    static final String LAYOUT = "bf16";
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(Bf16ServingBlock.class);

    private volatile Block running;

    Bf16ServingBlock(Block inner) {
        super(inner);
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
    public void loadParameters(NDManager manager, DataInputStream is) throws IOException, MalformedModelException {
        inner.loadParameters(manager, is);
        running = null; // new weights: new copies at the next prediction
    }
}
