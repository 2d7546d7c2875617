package dev.finetune.vision.export;

import ai.djl.Model;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Block;
import ai.djl.nn.BlockFactory;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.core.Linear;
import ai.djl.pytorch.engine.PtNDManager;
import ai.djl.pytorch.engine.PtSymbolBlock;

import java.nio.file.Path;
import java.util.Map;

/**
 * Rebuilds the empty block of an exported TorchScript classifier (a TorchScript module, alone or
 * followed by a linear head) so that DJL can stream the saved module and head weights into it;
 * {@link ClassifierExport#save} names it in {@code serving.properties} as DJL's {@code blockFactory}.
 */
public final class TorchScriptClassifierBlockFactory implements BlockFactory {

    /** The {@code serving.properties} key that holds the block layout. */
    public static final String LAYOUT = "finetune.layout";
    /** Layout: a TorchScript module that is the whole classifier. */
    public static final String TORCHSCRIPT = "torchscript";
    /** Layout: a TorchScript backbone followed by a DJL {@code Linear} head. */
    public static final String TORCHSCRIPT_LINEAR = "torchscript+linear";

    private static final long serialVersionUID = 1L;

    /** Creates the factory (DJL instantiates it by class name). */
    public TorchScriptClassifierBlockFactory() {}

    /**
     * The layout of a block this factory can rebuild.
     *
     * @param block a model's block
     * @return {@link #TORCHSCRIPT}, {@link #TORCHSCRIPT_LINEAR}, or null for any other block
     */
    static String layoutOf(Block block) {
        if (block instanceof PtSymbolBlock) {
            return TORCHSCRIPT;
        }
        if (block instanceof SequentialBlock) {
            var children = block.getChildren();
            if (children.size() == 2 && children.get(0).getValue() instanceof PtSymbolBlock
                    && children.get(1).getValue() instanceof Linear) {
                return TORCHSCRIPT_LINEAR;
            }
        }
        return null;
    }

    @Override
    public Block newBlock(Model model, Path modelPath, Map<String, ?> arguments) {
        NDManager manager = model.getNDManager();
        if (!(manager instanceof PtNDManager)) {
            throw new IllegalArgumentException(
                    modelPath + " holds a TorchScript classifier: load it with the PyTorch engine"
                            + " (Criteria.Builder.optEngine(\"PyTorch\")), not " + manager.getEngine().getEngineName() + ".");
        }
        Object layout = arguments.get(LAYOUT);
        PtSymbolBlock module = new PtSymbolBlock((PtNDManager) manager);
        if (TORCHSCRIPT.equals(layout)) {
            return module;
        }
        if (TORCHSCRIPT_LINEAR.equals(layout)) {
            // the unit count is read back from the saved head
            return new SequentialBlock().add(module).add(Linear.builder().setUnits(1).build());
        }
        throw new IllegalArgumentException(
                modelPath.resolve("serving.properties") + " has " + LAYOUT + "=" + layout + "; expected "
                        + TORCHSCRIPT + " or " + TORCHSCRIPT_LINEAR + " (as ClassifierExport.save writes).");
    }
}
