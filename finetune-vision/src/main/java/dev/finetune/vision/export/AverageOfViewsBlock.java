package dev.finetune.vision.export;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Block;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;

import java.util.List;

/**
 * Test-time augmentation of a whole classifier: runs it on each view of the NCHW batch
 * ({@link TestTimeAugmentation#views()}) and returns the log of the mean of the views' softmax
 * probabilities, computed stably as {@code logsumexp(log_softmax) - log(views)}; a served model's
 * softmax turns it back into the averaged probabilities. With the original view alone the output
 * is the classifier's {@code log_softmax}. Unlike {@link MirrorAverageBlock}, which averages
 * whatever its inner block outputs (scores before a linear layer), this averages probabilities.
 */
final class AverageOfViewsBlock extends AbstractBlock {

    private static final byte VERSION = 1;

    private final TestTimeAugmentation augmentation;
    private final Block inner;

    AverageOfViewsBlock(TestTimeAugmentation augmentation, Block inner) {
        super(VERSION);
        this.augmentation = augmentation;
        this.inner = addChildBlock("classifier", inner);
    }

    /** @return the classifier run on every view */
    Block inner() {
        return inner;
    }

    /** @return the views */
    TestTimeAugmentation augmentation() {
        return augmentation;
    }

    @Override
    protected NDList forwardInternal(ParameterStore store, NDList inputs, boolean training,
            PairList<String, Object> params) {
        NDArray x = inputs.singletonOrThrow();
        List<TestTimeAugmentation.View> views = augmentation.views();
        NDList logProbabilities = new NDList(views.size());
        // one pass per view of the batch's size, not one of views times the size: on a CPU small
        // batches run fastest per image (see FeatureCache)
        for (TestTimeAugmentation.View view : views) {
            NDArray logits = inner.forward(store, new NDList(augmentation.viewOrSame(view, x)), training, params)
                    .singletonOrThrow();
            logProbabilities.add(logits.logSoftmax(1));
        }
        if (views.size() == 1) {
            return new NDList(logProbabilities.head());
        }
        NDArray stacked = NDArrays.stack(logProbabilities); // views x N x classes
        NDArray top = stacked.max(new int[] {0}, true);
        NDArray mean = stacked.sub(top).exp().sum(new int[] {0}).log().add(top.squeeze(0))
                .sub((float) Math.log(views.size()));
        return new NDList(mean);
    }

    @Override
    protected void initializeChildBlocks(NDManager manager, DataType dataType, Shape... inputShapes) {
        // a fitted classifier keeps its values; an empty one (rebuilt for loading) is initialised
        if (!inner.isInitialized()) {
            inner.initialize(manager, dataType, inputShapes);
        }
    }

    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return inner.getOutputShapes(inputShapes);
    }

    @Override
    public String toString() {
        return "AverageOfViews(" + augmentation.layoutSpec() + ", " + inner + ")";
    }
}
