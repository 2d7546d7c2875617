package dev.finetune.vision.backbone;

import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.Blocks;
import ai.djl.nn.Parameter;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.SymbolBlock;
import ai.djl.nn.convolutional.Convolution;
import ai.djl.nn.core.Linear;
import ai.djl.util.Pair;
import dev.finetune.core.head.HeadReplacer;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * Architecture-aware head replacement: recognises DJL {@link SequentialBlock}s (a last
 * {@link Linear}, or a 1x1-convolution classifier as in MobileNetV2), TorchScript modules exported
 * without their head (a new linear head is appended once their output is checked to be
 * (N, features)), and TorchScript classifiers that still hold their head (kept when the class count
 * matches; otherwise a clear error, since a TorchScript graph cannot be cut from Java).
 */
public final class Heads {

    /** Classifier parameters of torchvision/timm families, by name; the last match is the head. */
    private static final Pattern HEAD_WEIGHT = Pattern.compile(
            "^(fc|classifier(\\.\\d+)?|heads\\.head|head|head\\.fc)\\.weight$");
    private static final long PROBE_SIDE = 224;

    private Heads() {}

    /**
     * The architecture-aware replacer; a headless TorchScript module's output shape is probed with
     * one (1, C, 224, 224) input, C read from its first convolution.
     *
     * @return the replacer, for {@code FineTuner.optHeadReplacer}
     */
    public static HeadReplacer auto() {
        return new Auto(null);
    }

    /**
     * The architecture-aware replacer, probing a headless module's output with an input of this
     * shape (use it for modules that take one input size only, or to check the size you train at).
     *
     * @param sampleInput (C, H, W) or (N, C, H, W)
     * @return the replacer, for {@code FineTuner.optHeadReplacer}
     */
    public static HeadReplacer auto(Shape sampleInput) {
        if (sampleInput == null || sampleInput.dimension() < 2) {
            throw new IllegalArgumentException(
                    "Heads.auto needs a sample input shape such as (1, 3, 224, 224), got " + sampleInput + ".");
        }
        return new Auto(sampleInput.dimension() == 3 ? new Shape(1).addAll(sampleInput) : sampleInput);
    }

    private static final class Auto implements HeadReplacer {

        private final Shape sampleInput;

        Auto(Shape sampleInput) {
            this.sampleInput = sampleInput;
        }

        @Override
        public Block replace(Block block, int numClasses) {
            if (block instanceof SymbolBlock) {
                return symbol(block, block, numClasses);
            }
            if (block instanceof SequentialBlock) {
                return sequential((SequentialBlock) block, numClasses);
            }
            throw new IllegalArgumentException(
                    "Heads.auto cannot find the classifier of a " + block.getClass().getSimpleName()
                            + ": it handles SequentialBlocks and TorchScript modules. Give a replacer"
                            + " for this block with FineTuner.optHeadReplacer.");
        }

        private Block sequential(SequentialBlock seq, int numClasses) {
            List<Pair<String, Block>> children = new ArrayList<>();
            for (Pair<String, Block> child : seq.getChildren()) {
                children.add(child);
            }
            int headIndex = HeadReplacer.headIndex(seq);
            if (headIndex < 0) {
                throw new IllegalArgumentException(
                        "Heads.auto: the SequentialBlock has no block with parameters, so no classifier"
                                + " to replace; load its weights first.");
            }
            Block head = children.get(headIndex).getValue();
            if (head instanceof Linear) {
                return HeadReplacer.sequential().replace(seq, numClasses);
            }
            if (head instanceof Convolution && isPointwise((Convolution) head)) {
                // a convolutional classifier (MobileNetV2): it and the reshapes after it, tied to the
                // old class count, become flatten + Linear
                for (int i = children.size() - 1; i >= headIndex; i--) {
                    seq.removeLastBlock();
                }
                seq.add(Blocks.batchFlattenBlock());
                seq.add(HeadReplacer.newHead(numClasses));
                return seq;
            }
            if (head instanceof SymbolBlock) {
                return symbol(seq, head, numClasses);
            }
            if (head instanceof SequentialBlock) {
                sequential((SequentialBlock) head, numClasses);
                return seq;
            }
            throw new IllegalArgumentException(
                    "Heads.auto cannot tell the classifier of this SequentialBlock: its last block with"
                            + " parameters (" + children.get(headIndex).getKey() + ") is a "
                            + head.getClass().getSimpleName() + ", not a Linear, a 1x1 convolution or a"
                            + " TorchScript module. Give a replacer with FineTuner.optHeadReplacer.");
        }

        private static boolean isPointwise(Convolution conv) {
            Shape k = conv.getKernelShape();
            for (long side : k.getShape()) {
                if (side != 1) {
                    return false;
                }
            }
            return true;
        }

        /**
         * A TorchScript module, alone ({@code whole == module}) or as the last child with
         * parameters of {@code whole}.
         */
        private Block symbol(Block whole, Block module, int numClasses) {
            String source = describe(module);
            Pair<String, Parameter> head = null;
            for (Pair<String, Parameter> p : module.getParameters()) {
                if (HEAD_WEIGHT.matcher(p.getKey()).matches() && p.getValue().isInitialized()
                        && p.getValue().getArray().getShape().dimension() == 2) {
                    head = p;
                }
            }
            if (head != null) {
                Shape shape = head.getValue().getArray().getShape();
                if (shape.get(0) == numClasses) {
                    return whole; // the pretrained head already fits: keep and fine-tune it
                }
                String attribute = head.getKey().split("\\.")[0];
                throw new IllegalArgumentException(String.format(Locale.ROOT,
                        "%s still holds its classifier: parameter %s has shape %s, i.e. %d classes, not"
                                + " the %d asked for. A TorchScript graph cannot be cut from Java, so"
                                + " export the backbone without its head: set `model.%s ="
                                + " torch.nn.Identity()` before `torch.jit.script(model)` and"
                                + " `torch.jit.save`, then load that file.",
                        source, head.getKey(), shape, shape.get(0), numClasses, attribute));
            }
            Shape probe = sampleInput != null ? sampleInput : defaultProbe(module);
            Shape out;
            try {
                out = whole.getOutputShapes(new Shape[] {probe})[0];
            } catch (RuntimeException e) {
                throw new IllegalArgumentException(String.format(Locale.ROOT,
                        "Could not run %s on a probe input of shape %s to check that it outputs"
                                + " (N, features): %s. Pass the input shape it takes:"
                                + " Heads.auto(new Shape(1, C, H, W)).",
                        source, probe, firstLine(e.getMessage())), e);
            }
            if (out.dimension() != 2) {
                throw new IllegalArgumentException(String.format(Locale.ROOT,
                        "%s outputs shape %s for an input of shape %s, but a linear head needs"
                                + " (N, features). Pool and flatten before exporting (e.g. end forward"
                                + " with `torch.flatten(torch.nn.functional.adaptive_avg_pool2d(x, 1), 1)`),"
                                + " or wrap the module: new SequentialBlock().add(module)"
                                + ".add(Pool.globalAvgPool2dBlock()).",
                        source, out, probe));
            }
            if (whole == module) {
                return HeadReplacer.append().replace(whole, numClasses);
            }
            ((SequentialBlock) whole).add(HeadReplacer.newHead(numClasses));
            return whole;
        }

        private static Shape defaultProbe(Block module) {
            long channels = 3;
            for (Pair<String, Parameter> p : module.getParameters()) {
                if (p.getValue().isInitialized()) {
                    Shape s = p.getValue().getArray().getShape();
                    if (s.dimension() == 4) {
                        channels = s.get(1);
                        break;
                    }
                }
            }
            return new Shape(1, channels, PROBE_SIDE, PROBE_SIDE);
        }

        private static String describe(Block module) {
            Path file = TorchScriptBackbone.sourceOf(module);
            return file != null ? file.toString() : "The TorchScript module";
        }

        private static String firstLine(String message) {
            if (message == null) {
                return "no message";
            }
            int nl = message.indexOf('\n');
            return nl < 0 ? message : message.substring(0, nl);
        }
    }
}
