package dev.finetune.core.train;

import ai.djl.MalformedModelException;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Block;
import ai.djl.nn.BlockList;
import ai.djl.nn.ParameterList;
import ai.djl.nn.norm.BatchNorm;
import ai.djl.training.ParameterStore;
import ai.djl.util.Pair;
import ai.djl.util.PairList;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.lang.reflect.Field;
import java.util.ArrayList;
import java.util.List;

/**
 * Puts DJL {@link BatchNorm} layers in evaluation mode while the rest of a model trains, so their
 * pretrained running statistics are used and never updated. DJL forwards one {@code training} flag
 * through a whole block tree and its {@code freezeParameters} leaves running statistics updating;
 * this installs a thin guard around every BatchNorm found in the tree for the duration of a fit and
 * restores the original blocks afterwards. The guard keeps parameter names and the saved format
 * unchanged.
 */
public final class BatchNormControl implements AutoCloseable {

    private static final Field CHILDREN = childrenField();

    private final List<Installed> installed = new ArrayList<>();

    private record Installed(BlockList children, int index, String key, BatchNorm original) {}

    private BatchNormControl() {}

    /**
     * Installs guards around every BatchNorm reachable through {@link AbstractBlock} children.
     *
     * @param root the model's block
     * @return the control; close it to restore the original tree
     */
    public static BatchNormControl install(Block root) {
        BatchNormControl control = new BatchNormControl();
        control.visit(root);
        return control;
    }

    private void visit(Block block) {
        if (!(block instanceof AbstractBlock)) {
            return;
        }
        BlockList children = childrenOf((AbstractBlock) block);
        for (int i = 0; i < children.size(); i++) {
            Pair<String, Block> child = children.get(i);
            if (child.getValue() instanceof BatchNorm) {
                BatchNorm bn = (BatchNorm) child.getValue();
                children.remove(i);
                children.add(i, child.getKey(), new Guard(bn));
                installed.add(new Installed(children, i, child.getKey(), bn));
            } else {
                visit(child.getValue());
            }
        }
    }

    /** @return how many BatchNorm layers are under control */
    public int count() {
        return installed.size();
    }

    /**
     * Sets whether the guarded BatchNorm layers run in evaluation mode during training passes.
     *
     * @param keepStatistics true to use and keep the running statistics
     */
    public void setKeepStatistics(boolean keepStatistics) {
        for (Installed i : installed) {
            ((Guard) i.children().get(i.index()).getValue()).keepStatistics = keepStatistics;
        }
    }

    /** Restores the original BatchNorm blocks. */
    @Override
    public void close() {
        for (int k = installed.size() - 1; k >= 0; k--) {
            Installed i = installed.get(k);
            i.children().remove(i.index());
            i.children().add(i.index(), i.key(), i.original());
        }
        installed.clear();
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

    /** Forwards to a BatchNorm with the training flag overridden; invisible in names and files. */
    private static final class Guard extends AbstractBlock {
        private final BatchNorm inner;
        private volatile boolean keepStatistics;

        Guard(BatchNorm inner) {
            this.inner = inner;
        }

        @Override
        protected NDList forwardInternal(
                ParameterStore parameterStore, NDList inputs, boolean training, PairList<String, Object> params) {
            return inner.forward(parameterStore, inputs, training && !keepStatistics, params);
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
        public void loadParameters(NDManager manager, DataInputStream is)
                throws IOException, MalformedModelException {
            inner.loadParameters(manager, is);
        }

        @Override
        public String toString() {
            return inner.toString();
        }
    }
}
