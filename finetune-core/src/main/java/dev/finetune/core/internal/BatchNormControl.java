package dev.finetune.core.internal;

import ai.djl.ndarray.NDList;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Block;
import ai.djl.nn.SymbolBlock;
import ai.djl.nn.norm.BatchNorm;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;

import java.util.List;

/**
 * Puts DJL {@link BatchNorm} layers in evaluation mode while the rest of a model trains, so their
 * pretrained running statistics are used and never updated. DJL forwards one {@code training} flag
 * through a whole block tree and its {@code freezeParameters} leaves running statistics updating;
 * this installs a thin guard around every BatchNorm found in the tree for the duration of a fit and
 * restores the original blocks afterwards. Imported modules ({@link SymbolBlock}, e.g. TorchScript)
 * switch train/eval as a whole, so they are guarded whole: in eval mode their BatchNorm keeps its
 * statistics (and dropout is off) while gradients still flow. The guard keeps parameter names and
 * the saved format unchanged.
 */
public final class BatchNormControl implements AutoCloseable {

    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(BatchNormControl.class);

    private final BlockSwaps swaps = new BlockSwaps();
    /** What could not be done as asked, once per module, for the fit's result. */
    private final List<String> warnings = new java.util.concurrent.CopyOnWriteArrayList<>();

    private BatchNormControl() {}

    /**
     * Installs guards around every BatchNorm reachable through {@link AbstractBlock} children.
     *
     * @param root the model's block
     * @return the control; close it to restore the original tree
     */
    public static BatchNormControl install(Block root) {
        BatchNormControl control = new BatchNormControl();
        control.swaps.replace(root, block -> block instanceof BatchNorm || block instanceof SymbolBlock
                ? new Guard(block, control.warnings) : block);
        return control;
    }

    /** @return how many BatchNorm layers (and imported modules) are under control */
    public int count() {
        return swaps.size();
    }

    /**
     * Sets whether the guarded BatchNorm layers run in evaluation mode during training passes.
     *
     * @param keepStatistics true to use and keep the running statistics
     */
    public void setKeepStatistics(boolean keepStatistics) {
        for (Block guard : swaps.standIns()) {
            ((Guard) guard).keepStatistics = keepStatistics;
        }
    }

    /** @return what could not hold as asked (e.g. kept statistics of an imported module that trains), in order */
    public List<String> warnings() {
        return List.copyOf(warnings);
    }

    /** Restores the original BatchNorm blocks. */
    @Override
    public void close() {
        swaps.restore();
    }

    /** Forwards to a block with the training flag overridden; invisible in names and files. */
    private static final class Guard extends TransparentBlock {
        private volatile boolean keepStatistics;
        private final List<String> warnings;
        private boolean warned;

        Guard(Block inner, List<String> warnings) {
            super(inner);
            this.warnings = warnings;
        }

        @Override
        protected NDList forwardInternal(
                ParameterStore parameterStore, NDList inputs, boolean training, PairList<String, Object> params) {
            if (training && keepStatistics && inner instanceof SymbolBlock) {
                if (anyTrainable()) {
                    // DJL runs an imported module in eval mode only without autograd: training its
                    // parameters needs train mode, in which its BatchNorm statistics update
                    warnOnce();
                    return inner.forward(parameterStore, inputs, true, params);
                }
                // frozen module: eval mode, no graph; copy the outputs (made in inference mode)
                // into ordinary tensors so the layers above can backpropagate through them
                NDList out = inner.forward(parameterStore, inputs, false, params);
                NDList copies = new NDList(out.size());
                for (ai.djl.ndarray.NDArray a : out) {
                    copies.add(a.duplicate());
                    a.close();
                }
                return copies;
            }
            return inner.forward(parameterStore, inputs, training && !keepStatistics, params);
        }

        private boolean anyTrainable() {
            for (ai.djl.nn.Parameter p : inner.getParameters().values()) {
                if (p.requiresGradient()) {
                    return true;
                }
            }
            return false;
        }

        private void warnOnce() {
            if (!warned) {
                warned = true;
                Block module = inner;
                while (module instanceof TransparentBlock t) { // a bfloat16 island: name the module it stands in for
                    module = t.inner();
                }
                String message = "KEEP_STATISTICS cannot hold for the imported module " + module.getClass().getSimpleName()
                        + " while its parameters train: DJL runs it in train mode, so its BatchNorm statistics update."
                        + " Export it traced in eval mode (model.eval(); torch.jit.trace) to keep them, or freeze it.";
                warnings.add(message);
                LOG.warn(message);
            }
        }
    }
}
