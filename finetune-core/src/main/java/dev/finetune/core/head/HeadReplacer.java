package dev.finetune.core.head;

import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.training.initializer.XavierInitializer;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.core.Linear;
import ai.djl.util.Pair;

/**
 * Replaces a model's classifier with a new, randomly initialised linear layer for the target
 * classes. Replace after loading pretrained weights: loading a parameter file restores whatever head
 * the file holds, silently. finetune-vision adds replacers for architecture families.
 */
public interface HeadReplacer {

    /**
     * Replaces the head.
     *
     * @param block the model's block, weights loaded
     * @param numClasses the number of target classes
     * @return the block to train (the same block when replaced in place)
     */
    Block replace(Block block, int numClasses);

    /**
     * The default: the last child with parameters of a {@link SequentialBlock} is the head; it is
     * replaced by {@code Linear(numClasses)} (children after it, e.g. a softmax, are kept).
     *
     * @return the replacer
     */
    static HeadReplacer sequential() {
        return (block, numClasses) -> {
            if (!(block instanceof SequentialBlock)) {
                throw new IllegalArgumentException(
                        "Cannot find the head of a " + block.getClass().getSimpleName()
                                + ": the default head replacement needs a SequentialBlock whose last"
                                + " block with parameters is the classifier. Use an architecture-aware"
                                + " replacer (finetune-vision's Heads.auto()), or HeadReplacer.append() for a headless"
                                + " backbone (exported without its head): optHeadReplacer(...) before replaceHead.");
            }
            SequentialBlock seq = (SequentialBlock) block;
            var children = seq.getChildren();
            int headIndex = headIndex(seq);
            if (headIndex < 0) {
                throw new IllegalArgumentException("The SequentialBlock has no block with parameters to replace.");
            }
            Block head = newHead(numClasses);
            var tail = new java.util.ArrayList<Block>();
            for (int i = children.size() - 1; i > headIndex; i--) {
                tail.add(0, children.get(i).getValue());
                seq.removeLastBlock();
            }
            seq.replaceLastBlock(head);
            for (Block b : tail) {
                seq.add(b);
            }
            return seq;
        };
    }

    /**
     * Where the classifier of a {@link SequentialBlock} is: its last child with parameters (children
     * after it, such as a softmax or a reshape, hold none).
     *
     * @param block the model
     * @return the child's index, or -1 when no child has parameters
     */
    static int headIndex(SequentialBlock block) {
        var children = block.getChildren();
        for (int i = children.size() - 1; i >= 0; i--) {
            if (!children.get(i).getValue().getParameters().isEmpty()) {
                return i;
            }
        }
        return -1;
    }

    /**
     * Appends a new {@code Linear(numClasses)} after a headless backbone (one that outputs
     * features), wrapping both in a {@link SequentialBlock} with groups {backbone..., head}.
     *
     * @return the replacer
     */
    static HeadReplacer append() {
        return (block, numClasses) -> {
            SequentialBlock seq = new SequentialBlock();
            if (block instanceof SequentialBlock) {
                for (Pair<String, Block> child : block.getChildren()) {
                    seq.add(child.getValue());
                }
            } else {
                seq.add(block);
            }
            seq.add(newHead(numClasses));
            return seq;
        };
    }

    /**
     * A new classifier layer initialised as PyTorch initialises {@code nn.Linear}: weights uniform
     * in +-1/sqrt(fan_in), biases zero.
     *
     * @param numClasses output units
     * @return the uninitialised layer
     */
    static Block newHead(int numClasses) {
        Block head = Linear.builder().setUnits(numClasses).build();
        head.setInitializer(
                new XavierInitializer(XavierInitializer.RandomType.UNIFORM, XavierInitializer.FactorType.IN, 1f),
                Parameter.Type.WEIGHT);
        return head;
    }
}
