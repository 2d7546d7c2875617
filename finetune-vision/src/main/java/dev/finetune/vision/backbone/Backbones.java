package dev.finetune.vision.backbone;

import ai.djl.Device;
import ai.djl.MalformedModelException;
import ai.djl.Model;
import ai.djl.basicmodelzoo.cv.classification.MobileNetV2;
import ai.djl.basicmodelzoo.cv.classification.ResNetV1;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.ParallelBlock;
import ai.djl.nn.Parameter;
import ai.djl.nn.SequentialBlock;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ModelNotFoundException;
import ai.djl.repository.zoo.ZooModel;
import ai.djl.util.Pair;
import ai.djl.util.Utils;
import dev.finetune.core.groups.LayerGroup;
import dev.finetune.core.groups.LayerGroups;

import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * DJL-built architectures ({@link ResNetV1}, {@link MobileNetV2}) as backbones with named layer
 * groups, and loading of their pretrained weights from a DJL model directory or a model-zoo
 * {@link Criteria}, for fine-tuning without a TorchScript file.
 */
public final class Backbones {

    private static final int DJL_MODEL_VERSION = 1;

    private Backbones() {}

    /**
     * Builds DJL's ResNet (v1) for images of {@code imageShape}: up to 28 pixels high a CIFAR-style
     * net of three stages ({@code layers} = 6n+2, e.g. 8, 14, 20, 56; or 9n+2 from 164), above that
     * the ImageNet layout of four stages ({@code layers} = 18, 34, 50, 101, 152, 200 or 269).
     *
     * @param layers the depth
     * @param imageShape (channels, height, width) of one image
     * @param classes the head's output units
     * @return the uninitialised block: stem, residual units, pooling, {@code Linear(classes)}
     */
    public static SequentialBlock resnet(int layers, Shape imageShape, int classes) {
        if (imageShape == null || imageShape.dimension() != 3) {
            throw new IllegalArgumentException(
                    "Backbones.resnet needs the image shape as (channels, height, width), got "
                            + imageShape + ".");
        }
        requireClasses(classes);
        try {
            return ResNetV1.builder()
                    .setImageShape(imageShape)
                    .setNumLayers(layers)
                    .setOutSize(classes)
                    .build();
        } catch (IllegalArgumentException e) {
            String allowed = imageShape.get(1) <= 28
                    ? "6n+2 (8, 14, 20, 26, 32, 44, 56, 110) or 9n+2 from 164"
                    : "18, 34, 50, 101, 152, 200 or 269";
            throw new IllegalArgumentException(
                    "DJL's ResNetV1 has no " + layers + "-layer variant for " + imageShape.get(1)
                            + "-pixel-high images; use " + allowed + " layers.",
                    e);
        }
    }

    /**
     * Builds DJL's MobileNetV2 (1x1-convolution stem, seven bottleneck stages, a 1x1 convolution
     * to 1280 channels, global pooling and a 1x1-convolution classifier).
     *
     * @param classes the head's output units
     * @return the uninitialised block
     */
    public static SequentialBlock mobileNetV2(int classes) {
        requireClasses(classes);
        return (SequentialBlock) MobileNetV2.builder().setOutSize(classes).build();
    }

    private static void requireClasses(int classes) {
        if (classes < 1) {
            throw new IllegalArgumentException("The head needs at least one class, got " + classes + ".");
        }
    }

    /**
     * Layer groups of a {@link #resnet} block, with or without its head replaced: {@code stem} (the
     * children before the first residual unit), {@code stage1}..{@code stageK} (a stage starts at
     * each residual unit whose shortcut is a projection) and {@code head}.
     *
     * @return the grouping, for {@code FineTuner.optLayerGroups}
     */
    public static Function<Block, LayerGroups> resnetGroups() {
        return Backbones::resnetGroupsOf;
    }

    private static LayerGroups resnetGroupsOf(Block block) {
        List<Pair<String, Block>> children = childrenOf(block, "resnetGroups", "Backbones.resnet");
        int first = -1;
        int last = -1;
        for (int i = 0; i < children.size(); i++) {
            if (children.get(i).getValue() instanceof ParallelBlock) {
                first = first < 0 ? i : first;
                last = i;
            }
        }
        if (first < 0) {
            throw new IllegalArgumentException(
                    "resnetGroups: the block has no residual unit (ParallelBlock) among its "
                            + children.size() + " children; it is not a ResNetV1 from"
                            + " Backbones.resnet. Use LayerGroups.of or byPatterns for other blocks.");
        }
        List<LayerGroup> groups = new ArrayList<>();
        groups.add(group("stem", children, 0, first));
        int stage = 0;
        int start = first;
        for (int i = first + 1; i <= last + 1; i++) {
            if (i == last + 1 || startsStage(children.get(i).getValue())) {
                stage++;
                groups.add(group("stage" + stage, children, start, i));
                start = i;
            }
        }
        groups.add(group("head", children, last + 1, children.size()));
        return new LayerGroups(groups);
    }

    /** A residual unit starts a stage when its shortcut (second branch) has a projection. */
    private static boolean startsStage(Block unit) {
        var branches = unit.getChildren();
        return branches.size() > 1 && !branches.get(1).getValue().getParameters().isEmpty();
    }

    /**
     * Layer groups of a {@link #mobileNetV2} block, with or without its head replaced:
     * {@code stem}, {@code stage1}..{@code stage7} (the bottleneck stages), {@code lastconv} (the
     * 1x1 convolution to 1280 channels) and {@code head}.
     *
     * @return the grouping, for {@code FineTuner.optLayerGroups}
     */
    public static Function<Block, LayerGroups> mobileNetV2Groups() {
        return Backbones::mobileNetV2GroupsOf;
    }

    private static LayerGroups mobileNetV2GroupsOf(Block block) {
        List<Pair<String, Block>> children = childrenOf(block, "mobileNetV2Groups", "Backbones.mobileNetV2");
        List<Integer> withParameters = new ArrayList<>();
        for (int i = 0; i < children.size(); i++) {
            if (!children.get(i).getValue().getParameters().isEmpty()) {
                withParameters.add(i);
            }
        }
        int stages = MobileNetV2.MULTILENGTH;
        if (withParameters.size() != stages + 3) {
            throw new IllegalArgumentException(
                    "mobileNetV2Groups: expected " + (stages + 3) + " children with parameters (stem, "
                            + stages + " stages, last convolution, head) but the block has "
                            + withParameters.size() + "; it is not a MobileNetV2 from"
                            + " Backbones.mobileNetV2. Use LayerGroups.of or byPatterns for other blocks.");
        }
        List<LayerGroup> groups = new ArrayList<>();
        int start = 0;
        for (int g = 0; g < withParameters.size(); g++) {
            int end = g == withParameters.size() - 1 ? children.size() : withParameters.get(g) + 1;
            String name = g == 0 ? "stem"
                    : g <= stages ? "stage" + g
                    : g == stages + 1 ? "lastconv" : "head";
            groups.add(group(name, children, start, end));
            start = end;
        }
        return new LayerGroups(groups);
    }

    private static List<Pair<String, Block>> childrenOf(Block block, String grouping, String factory) {
        if (!(block instanceof SequentialBlock)) {
            throw new IllegalArgumentException(
                    grouping + " needs the SequentialBlock built by " + factory + ", got "
                            + block.getClass().getSimpleName() + ".");
        }
        List<Pair<String, Block>> out = new ArrayList<>();
        for (Pair<String, Block> child : block.getChildren()) {
            out.add(child);
        }
        return out;
    }

    /** The parameters of children [from, to) under the names {@code Block.getParameters} gives. */
    private static LayerGroup group(String name, List<Pair<String, Block>> children, int from, int to) {
        List<Pair<String, Parameter>> params = new ArrayList<>();
        for (int c = from; c < to; c++) {
            for (Pair<String, Parameter> p : children.get(c).getValue().getParameters()) {
                params.add(new Pair<>(children.get(c).getKey() + "_" + p.getKey(), p.getValue()));
            }
        }
        if (params.isEmpty()) {
            throw new IllegalArgumentException(
                    "Layer group '" + name + "' (children " + from + ".." + (to - 1) + ") holds no parameters.");
        }
        return new LayerGroup(name, params);
    }

    /**
     * Loads pretrained weights saved with {@code Model.save(dir, name)} (the newest
     * {@code name-NNNN.params}) into the block the user builds, checking that every parameter has
     * the shape the block expects.
     *
     * @param dir the model directory
     * @param name the model name, the prefix of the parameter file
     * @param block the architecture the weights were saved from, uninitialised or initialised
     * @return a PyTorch-engine model holding the block with the weights; the caller closes it
     * @throws IOException if the directory or parameter file is missing or unreadable
     * @throws MalformedModelException if the file is not a DJL parameter file or holds another
     *     architecture
     */
    public static Model load(Path dir, String name, Block block) throws IOException, MalformedModelException {
        return load(dir, name, block, null);
    }

    /**
     * Loads pretrained weights from a DJL model directory onto a device; see
     * {@link #load(Path, String, Block)}.
     *
     * @param dir the model directory
     * @param name the model name, the prefix of the parameter file
     * @param block the architecture the weights were saved from
     * @param device the device, or null for the engine's default
     * @return the model; the caller closes it
     * @throws IOException if the directory or parameter file is missing or unreadable
     * @throws MalformedModelException if the file is not a DJL parameter file or holds another
     *     architecture
     */
    public static Model load(Path dir, String name, Block block, Device device)
            throws IOException, MalformedModelException {
        Path file = parameterFile(dir, name);
        Model model = Model.newInstance(name, device, "PyTorch");
        try {
            model.setBlock(block);
            readInto(file, model);
            return model;
        } catch (IOException | MalformedModelException | RuntimeException e) {
            model.close();
            throw e;
        }
    }

    private static Path parameterFile(Path dir, String name) throws IOException {
        if (!Files.isDirectory(dir)) {
            throw new FileNotFoundException(
                    "DJL model directory not found: " + dir.toAbsolutePath() + " (it should hold "
                            + name + "-0000.params, as written by Model.save(dir, \"" + name + "\")).");
        }
        int epoch = Utils.getCurrentEpoch(dir, name);
        if (epoch < 0) {
            List<String> present;
            try (Stream<Path> files = Files.list(dir)) {
                present = files.map(p -> p.getFileName().toString())
                        .filter(n -> n.endsWith(".params"))
                        .sorted()
                        .collect(Collectors.toList());
            }
            throw new FileNotFoundException(
                    "No parameter file " + name + "-NNNN.params in " + dir.toAbsolutePath()
                            + (present.isEmpty() ? " (it holds no .params file)"
                                    : "; it holds " + present + ": pass the part before -NNNN.params as the name")
                            + ".");
        }
        return dir.resolve(String.format(Locale.ROOT, "%s-%04d.params", name, epoch));
    }

    /** Reads a file written by {@code Model.save}: header, then the block's parameter stream. */
    private static void readInto(Path file, Model model) throws IOException, MalformedModelException {
        Block block = model.getBlock();
        try (DataInputStream in = new DataInputStream(new BufferedInputStream(Files.newInputStream(file)))) {
            byte[] magic = new byte[4];
            int read = in.readNBytes(magic, 0, 4);
            String start = new String(magic, 0, read, StandardCharsets.ISO_8859_1);
            if (!"DJL@".equals(start)) {
                String hint = start.startsWith("PK")
                        ? " It looks like a PyTorch/TorchScript archive: load TorchScript files with"
                                + " TorchScriptBackbone.load(file)."
                        : " Give the directory and name that Model.save(dir, name) wrote.";
                throw new MalformedModelException(file.toAbsolutePath() + " is not a DJL parameter file"
                        + " (it does not start with DJL@)." + hint);
            }
            int version = in.readInt();
            if (version != DJL_MODEL_VERSION) {
                throw new MalformedModelException(file.toAbsolutePath() + " has DJL model format version "
                        + version + "; this DJL reads version " + DJL_MODEL_VERSION + ".");
            }
            in.readUTF(); // the name it was saved under
            DataType dataType = DataType.valueOf(in.readUTF());
            int inputs = in.readInt();
            List<Shape> inputShapes = new ArrayList<>();
            for (int i = 0; i < inputs; i++) {
                in.readUTF();
                inputShapes.add(Shape.decode(in));
            }
            int properties = in.readInt();
            for (int i = 0; i < properties; i++) {
                model.setProperty(in.readUTF(), in.readUTF());
            }
            Map<String, Shape> expected;
            if (!block.isInitialized() && !inputShapes.isEmpty()) {
                // the expected shape of every parameter, from the input shape the file was saved with;
                // the placeholder values are freed before the file's values are read
                block.initialize(model.getNDManager(), dataType, inputShapes.toArray(new Shape[0]));
                expected = shapes(block);
                for (Parameter p : block.getParameters().values()) {
                    p.close();
                }
            } else {
                expected = shapes(block);
            }
            try {
                block.loadParameters(model.getNDManager(), in);
            } catch (EOFException e) {
                throw anotherArchitecture(file, block, "it ends before the block's last parameter", e);
            } catch (MalformedModelException | IOException | RuntimeException e) {
                throw anotherArchitecture(file, block, String.valueOf(e.getMessage()), e);
            }
            if (in.read() != -1) {
                throw anotherArchitecture(file, block, "it holds more parameters than the block", null);
            }
            checkShapes(file, block, expected);
        }
    }

    private static Map<String, Shape> shapes(Block block) {
        Map<String, Shape> out = new LinkedHashMap<>();
        for (Pair<String, Parameter> p : block.getParameters()) {
            if (p.getValue().isInitialized()) {
                out.put(p.getKey(), p.getValue().getArray().getShape());
            }
        }
        return out;
    }

    private static void checkShapes(Path file, Block block, Map<String, Shape> expected)
            throws MalformedModelException {
        List<Pair<String, Parameter>> params = new ArrayList<>();
        for (Pair<String, Parameter> p : block.getParameters()) {
            params.add(p);
        }
        String lastWeight = null;
        for (Pair<String, Parameter> p : params) {
            if (p.getValue().getType() == Parameter.Type.WEIGHT) {
                lastWeight = p.getKey();
            }
        }
        for (Pair<String, Parameter> p : params) {
            if (!p.getValue().isInitialized()) {
                throw anotherArchitecture(file, block, "it has no value for parameter " + p.getKey(), null);
            }
            Shape want = expected.get(p.getKey());
            Shape got = p.getValue().getArray().getShape();
            if (want != null && !want.equals(got)) {
                String what = "parameter " + p.getKey() + " is " + got + " in the file but " + want
                        + " in the block";
                if (p.getKey().equals(lastWeight) && got.dimension() == 2 && want.dimension() == 2
                        && got.get(1) == want.get(1)) {
                    throw new MalformedModelException(String.format(Locale.ROOT,
                            "%s holds a head for %d classes but the block was built for %d (%s): build"
                                    + " the block with %d classes to load the file, then replace the"
                                    + " head with FineTuner.replaceHead(%d).",
                            file.toAbsolutePath(), got.get(0), want.get(0), what, got.get(0), want.get(0)));
                }
                throw anotherArchitecture(file, block, what, null);
            }
        }
    }

    private static MalformedModelException anotherArchitecture(Path file, Block block, String why, Throwable cause) {
        return new MalformedModelException(
                file.toAbsolutePath() + " does not fit the " + block.getClass().getSimpleName() + " given ("
                        + why + "): it was saved from another architecture. Build the block the file was"
                        + " saved from (for Backbones.resnet: the same layers, image shape and classes).",
                cause);
    }

    /**
     * Loads a pretrained model through DJL's {@link Criteria} (a model zoo, URL or local path),
     * with the {@code trainParam} option set so that an imported TorchScript module's parameters
     * can be fine-tuned. Model zoos download their files on first use, so offline (no network,
     * or {@code -Dai.djl.offline=true}) only local paths load; the error then says so.
     *
     * @param criteria what to load
     * @param <I> the input type
     * @param <O> the output type
     * @return the loaded model; the caller closes it
     * @throws ModelNotFoundException if nothing matches the criteria, with what to do
     * @throws MalformedModelException if the model files are broken
     * @throws IOException if reading fails
     */
    public static <I, O> ZooModel<I, O> fromCriteria(Criteria<I, O> criteria)
            throws ModelNotFoundException, MalformedModelException, IOException {
        Criteria<I, O> trainable = criteria.toBuilder().optOption("trainParam", "true").build();
        try {
            return trainable.loadModel();
        } catch (ModelNotFoundException e) {
            boolean offline = Boolean.parseBoolean(System.getProperty("ai.djl.offline",
                    System.getenv().getOrDefault("DJL_OFFLINE", "false")));
            throw new ModelNotFoundException(
                    "No model found for " + describe(criteria) + " (" + e.getMessage() + "). DJL model"
                            + " zoos need their model-zoo artifact on the class path (e.g."
                            + " ai.djl.pytorch:pytorch-model-zoo) and download their files on first use"
                            + (offline ? ", which DJL does not do offline (ai.djl.offline=true)" : "")
                            + ": download the model once and load its directory with"
                            + " Backbones.load(dir, name, block), or a TorchScript file with"
                            + " TorchScriptBackbone.load(file).",
                    e);
        }
    }

    private static String describe(Criteria<?, ?> criteria) {
        List<String> parts = new ArrayList<>();
        if (criteria.getApplication() != null) {
            parts.add("application " + criteria.getApplication());
        }
        if (criteria.getGroupId() != null) {
            parts.add("group " + criteria.getGroupId());
        }
        if (criteria.getArtifactId() != null) {
            parts.add("artifact " + criteria.getArtifactId());
        }
        if (criteria.getFilters() != null && !criteria.getFilters().isEmpty()) {
            parts.add("filters " + criteria.getFilters());
        }
        if (criteria.getEngine() != null) {
            parts.add("engine " + criteria.getEngine());
        }
        return parts.isEmpty() ? "the criteria" : "the criteria (" + String.join(", ", parts) + ")";
    }
}
