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
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.StringJoiner;

/**
 * Rebuilds the empty block of an exported TorchScript classifier so that DJL can stream the saved
 * module and head weights into it; {@link ClassifierExport#save} names it in
 * {@code serving.properties} as DJL's {@code blockFactory}. The layout is a small expression over
 * the parts this library builds: {@code torchscript} (the module), {@code linear} (a DJL
 * {@code Linear} head), {@code sqrt-l2} (the bottleneck scaling, {@code FeatureScaling.SQRT_L2}),
 * {@code a+b} (a sequence), {@code mirror(a)} (test-time mirroring, the outputs averaged) and
 * {@code tta[views](a)} (test-time augmentation of a whole classifier, its probabilities averaged
 * over the views of {@link TestTimeAugmentation}: {@code identity}, {@code mirror},
 * {@code crops=0.875} or {@code mirror,crops=0.875}); for example {@code torchscript+linear},
 * {@code mirror(torchscript+sqrt-l2)+linear} or {@code tta[mirror](torchscript+linear)}.
 */
public final class TorchScriptClassifierBlockFactory implements BlockFactory {

    /** The {@code serving.properties} key that holds the block layout. */
    public static final String LAYOUT = "finetune.layout";
    /** Layout: a TorchScript module that is the whole classifier. */
    public static final String TORCHSCRIPT = "torchscript";
    /** Layout: a TorchScript backbone followed by a DJL {@code Linear} head. */
    public static final String TORCHSCRIPT_LINEAR = "torchscript+linear";
    private static final String LINEAR = "linear";

    private static final long serialVersionUID = 1L;

    /** Creates the factory (DJL instantiates it by class name). */
    public TorchScriptClassifierBlockFactory() {}

    /**
     * The layout of a block this factory can rebuild.
     *
     * @param block a model's block
     * @return its layout, e.g. {@link #TORCHSCRIPT_LINEAR}, or null for a block with other parts
     *     (or with no TorchScript module)
     */
    static String layoutOf(Block block) {
        String layout = describe(block);
        return layout != null && layout.contains(TORCHSCRIPT) ? layout : null;
    }

    private static String describe(Block block) {
        if (block instanceof PtSymbolBlock) {
            return TORCHSCRIPT;
        }
        if (block instanceof Linear) {
            return LINEAR;
        }
        if (block instanceof SqrtL2Block) {
            return SqrtL2Block.LAYOUT;
        }
        if (block instanceof Bf16ServingBlock b) {
            String inner = describe(b.inner());
            return inner == null ? null : Bf16ServingBlock.LAYOUT + "(" + inner + ")";
        }
        if (block instanceof MirrorAverageBlock m) {
            String inner = describe(m.inner());
            return inner == null ? null : MirrorAverageBlock.LAYOUT + "(" + inner + ")";
        }
        if (block instanceof AverageOfViewsBlock v) {
            String inner = describe(v.inner());
            return inner == null ? null
                    : TestTimeAugmentation.LAYOUT + "[" + v.augmentation().layoutSpec() + "](" + inner + ")";
        }
        // a sequence rebuilds as a sequence only with two or more parts, none itself a sequence
        if (block instanceof SequentialBlock && block.getChildren().size() >= 2) {
            StringJoiner parts = new StringJoiner("+");
            for (Block child : block.getChildren().values()) {
                String part = child instanceof SequentialBlock ? null : describe(child);
                if (part == null) {
                    return null;
                }
                parts.add(part);
            }
            return parts.toString();
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
        Block block = layout == null ? null : build(layout.toString(), (PtNDManager) manager);
        if (block == null) {
            throw new IllegalArgumentException(
                    modelPath.resolve("serving.properties") + " has " + LAYOUT + "=" + layout + "; expected a layout"
                            + " such as " + TORCHSCRIPT + " or " + TORCHSCRIPT_LINEAR + " (as ClassifierExport.save writes).");
        }
        return block;
    }

    /** Builds the empty block of a layout, or null if it names an unknown part. */
    private static Block build(String layout, PtNDManager manager) {
        List<String> parts = splitTopLevel(layout);
        if (parts == null || parts.isEmpty()) {
            return null;
        }
        if (parts.size() > 1) {
            SequentialBlock sequence = new SequentialBlock();
            for (String part : parts) {
                Block b = build(part, manager);
                if (b == null) {
                    return null;
                }
                sequence.add(b);
            }
            return sequence;
        }
        String part = parts.get(0);
        if (part.equals(TORCHSCRIPT)) {
            return new PtSymbolBlock(manager);
        }
        if (part.equals(LINEAR)) {
            return Linear.builder().setUnits(1).build(); // the unit count is read back from the saved head
        }
        if (part.equals(SqrtL2Block.LAYOUT)) {
            return new SqrtL2Block();
        }
        String bf16 = Bf16ServingBlock.LAYOUT + "(";
        if (part.startsWith(bf16) && part.endsWith(")")) {
            Block inner = build(part.substring(bf16.length(), part.length() - 1), manager);
            return inner == null ? null : new Bf16ServingBlock(inner);
        }
        String open = MirrorAverageBlock.LAYOUT + "(";
        if (part.startsWith(open) && part.endsWith(")")) {
            Block inner = build(part.substring(open.length(), part.length() - 1), manager);
            return inner == null ? null : new MirrorAverageBlock(inner);
        }
        String views = TestTimeAugmentation.LAYOUT + "[";
        int close = part.indexOf("](");
        if (part.startsWith(views) && close > 0 && part.endsWith(")")) {
            TestTimeAugmentation augmentation = TestTimeAugmentation.fromLayoutSpec(part.substring(views.length(), close));
            Block inner = build(part.substring(close + 2, part.length() - 1), manager);
            return augmentation == null || inner == null ? null : augmentation.wrap(inner);
        }
        return null;
    }

    /** Splits at the '+' signs outside parentheses; null if the parentheses do not balance. */
    private static List<String> splitTopLevel(String layout) {
        List<String> parts = new ArrayList<>();
        int depth = 0;
        int from = 0;
        for (int i = 0; i < layout.length(); i++) {
            char ch = layout.charAt(i);
            if (ch == '(') {
                depth++;
            } else if (ch == ')' && --depth < 0) {
                return null;
            } else if (ch == '+' && depth == 0) {
                parts.add(layout.substring(from, i).trim());
                from = i + 1;
            }
        }
        if (depth != 0) {
            return null;
        }
        parts.add(layout.substring(from).trim());
        return parts;
    }
}
