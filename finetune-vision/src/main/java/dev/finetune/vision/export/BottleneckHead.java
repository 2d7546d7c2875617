package dev.finetune.vision.export;

import ai.djl.Model;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.core.Linear;
import dev.finetune.vision.bottleneck.FeatureScaling;
import dev.finetune.vision.bottleneck.LinearClassifier;

import java.nio.FloatBuffer;
import java.util.Locale;

/**
 * Puts a bottleneck classifier ({@link LinearClassifier}) on its backbone as an ordinary linear
 * head, so that {@link ClassifierExport#save} exports and serves backbone + head like any
 * fine-tuned classifier (a TorchScript backbone reloads with {@link ClassifierExport#load}):
 *
 * <pre>{@code
 * try (Model model = TorchScriptBackbone.load(embedding)) {
 *     BottleneckHead.attach(model, selection.classifier(), preprocessing);
 *     ClassifierExport.save(model, dir, "clipart", classNames, preprocessing);
 * }
 * }</pre>
 *
 * A standardisation is folded into the layer: {@code W' = W / std}, {@code b' = b - W' mean}; the
 * per-image {@link FeatureScaling#SQRT_L2} scaling becomes a parameterless block before it. Served
 * with softmax, the export reports {@link LinearClassifier#probabilities} of the backbone's
 * features. With mirroring, the model scores each image and its mirror image and serves the mean
 * (test-time augmentation, for classes that a left-right flip does not change).
 */
public final class BottleneckHead {

    private BottleneckHead() {}

    /**
     * Replaces the model's block by {@code backbone -> [scaling] -> Linear} holding the
     * classifier's weights.
     *
     * @param model a model whose block is the backbone the training features came from
     * @param head the classifier trained on that backbone's features
     * @param preprocessing the preprocessing the features were computed with (gives the input shape)
     * @return the same model, for chaining
     */
    public static Model attach(Model model, LinearClassifier head, ClassifierExport.Preprocessing preprocessing) {
        return attach(model, head, preprocessing, false);
    }

    /**
     * Replaces the model's block by {@code backbone -> [scaling] -> Linear}, or with mirroring by
     * {@code mirror(backbone -> [scaling]) -> Linear}, which averages each image's scores with its
     * mirror image's.
     *
     * @param model a model whose block is the backbone the training features came from
     * @param head the classifier trained on that backbone's features
     * @param preprocessing the preprocessing the features were computed with (gives the input shape)
     * @param mirror whether to average each prediction with the mirror image's
     * @return the same model, for chaining
     */
    public static Model attach(Model model, LinearClassifier head, ClassifierExport.Preprocessing preprocessing,
            boolean mirror) {
        Block backbone = model.getBlock();
        if (backbone == null) {
            throw new IllegalArgumentException("The model has no block: load the backbone first.");
        }
        Shape input = new Shape(1, preprocessing.grey() ? 1 : 3, preprocessing.height(), preprocessing.width());
        Shape out;
        try {
            out = backbone.getOutputShapes(new Shape[] {input})[0];
        } catch (RuntimeException e) {
            throw new IllegalArgumentException("The backbone cannot run on the input the preprocessing gives, " + input
                    + ": " + String.valueOf(e.getMessage()).lines().findFirst().orElse(""), e);
        }
        if (out.dimension() != 2 || out.get(1) != head.featureCount()) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "The backbone outputs %s for input %s, but the classifier takes %d features: attach it to"
                            + " the backbone (and preprocessing) its training features came from.",
                    out, input, head.featureCount()));
        }
        boolean folds = head.scaling() == FeatureScaling.STANDARDISE;
        SequentialBlock block = new SequentialBlock();
        if (mirror) {
            block.add(new MirrorAverageBlock(folds ? backbone : new SequentialBlock().add(backbone).add(new SqrtL2Block())));
        } else {
            block.add(backbone);
            if (!folds) {
                block.add(new SqrtL2Block());
            }
        }
        Linear linear = Linear.builder().setUnits(head.classCount()).build();
        block.add(linear);
        block.initialize(model.getNDManager(), DataType.FLOAT32, input);
        double[][] w = folds ? head.foldedWeights() : head.weights();
        double[] b = folds ? head.foldedBias() : head.bias();
        int d = head.featureCount();
        float[] weights = new float[w.length * d];
        float[] bias = new float[b.length];
        for (int c = 0; c < w.length; c++) {
            for (int j = 0; j < d; j++) {
                weights[c * d + j] = (float) w[c][j];
            }
            bias[c] = (float) b[c];
        }
        linear.getParameters().get("weight").getArray().set(FloatBuffer.wrap(weights));
        linear.getParameters().get("bias").getArray().set(FloatBuffer.wrap(bias));
        model.setBlock(block);
        return model;
    }
}
