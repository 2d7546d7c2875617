package dev.finetune.vision.backbone;

import ai.djl.Device;
import ai.djl.MalformedModelException;
import ai.djl.Model;
import ai.djl.engine.EngineException;
import ai.djl.nn.Block;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.Map;
import java.util.WeakHashMap;

/**
 * Loads a pretrained network saved with {@code torch.jit.save} as a trainable DJL model: its
 * parameters carry their dotted PyTorch names ({@code layer4.1.conv2.weight}), so layer groups and
 * freezing work by name. A backbone exported without its head (an embedding module) gets a new
 * linear head from {@code HeadReplacer.append()}.
 *
 * <p>BatchNorm statistics of a TorchScript module are buffers that DJL does not expose, and its
 * train/eval mode switches as a whole: the fine-tuner's {@code KEEP_STATISTICS} policy therefore
 * runs the whole module in eval mode (BatchNorm keeps its statistics, dropout is off) while
 * gradients still flow; a module traced in eval mode keeps its statistics under every policy.
 */
public final class TorchScriptBackbone {

    /** The file each loaded module came from, for error messages that name it. */
    private static final Map<Block, Path> SOURCES = Collections.synchronizedMap(new WeakHashMap<>());

    private TorchScriptBackbone() {}

    /**
     * The file a module was loaded from by this class.
     *
     * @param block a block
     * @return the file, or null if the block was not loaded here
     */
    static Path sourceOf(Block block) {
        return SOURCES.get(block);
    }

    /**
     * Loads a TorchScript file on the engine's default device.
     *
     * @param file the {@code .pt} file
     * @return a model whose block is the module, parameters trainable; the caller closes it
     * @throws IOException if the file is missing or is not a TorchScript module
     */
    public static Model load(Path file) throws IOException {
        return load(file, null);
    }

    /**
     * Loads a TorchScript file on a device.
     *
     * @param file the {@code .pt} file
     * @param device the device, or null for the engine's default
     * @return a model whose block is the module, parameters trainable; the caller closes it
     * @throws IOException if the file is missing or is not a TorchScript module
     */
    public static Model load(Path file, Device device) throws IOException {
        if (Files.isDirectory(file)) {
            throw new IOException(file.toAbsolutePath() + " is a folder, not a TorchScript file: give the .pt file"
                    + " written by torch.jit.save");
        }
        if (!Files.isRegularFile(file)) {
            throw new IOException("TorchScript file not found: " + file.toAbsolutePath());
        }
        if (Files.size(file) == 0) {
            throw new IOException(file.toAbsolutePath() + " is empty (0 bytes), not a TorchScript module: save it"
                    + " again with torch.jit.save");
        }
        String name = file.getFileName().toString().replaceFirst("\\.pt$", "");
        Model model = Model.newInstance(name, device, "PyTorch");
        try {
            model.load(file, null, Map.of("trainParam", "true"));
            SOURCES.put(model.getBlock(), file);
            return model;
        } catch (MalformedModelException | EngineException | IOException e) {
            model.close();
            throw new IOException(
                    file.toAbsolutePath() + " is not a TorchScript module that libtorch can load (save it"
                            + " with torch.jit.script or torch.jit.trace and torch.jit.save): " + e.getMessage(),
                    e);
        }
    }
}
