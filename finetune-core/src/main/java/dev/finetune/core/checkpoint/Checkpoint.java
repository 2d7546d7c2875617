package dev.finetune.core.checkpoint;

import ai.djl.MalformedModelException;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.util.Pair;
import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonParseException;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.zip.CRC32;

/**
 * A saved model state: all parameters of the block plus what is needed to use or resume it (class
 * names, epoch, stage plan, metric, seed; for an exact resume the optimizer's state and, when the
 * fit averages its weights, the average). One file, written atomically (temporary file, fsync,
 * move), checked by a CRC on read, so a crash mid-write never leaves a half-written checkpoint in
 * place of a good one.
 */
public final class Checkpoint {

    private static final byte[] MAGIC = "FTCKPT02".getBytes(StandardCharsets.US_ASCII);
    /** With a third section, the weight average's arrays; written only when there is an average. */
    private static final byte[] MAGIC_V3 = "FTCKPT03".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] MAGIC_V1 = "FTCKPT01".getBytes(StandardCharsets.US_ASCII);
    private static final Gson GSON = new GsonBuilder().setPrettyPrinting().serializeSpecialFloatingPointValues().create();
    /**
     * A seam for tests (fault injection), package-private: runs after a file's bytes are written to
     * its temporary sibling, before they are forced to disk and moved in place. Set only by the test
     * sources' {@code CheckpointFaults}; {@link WriteHook#NONE} otherwise.
     */
    static volatile WriteHook writeHook = WriteHook.NONE;

    private final Metadata metadata;
    private final byte[] parameters;
    private final byte[] optimizerState;
    private final byte[] averageState;

    /**
     * What a checkpoint records beside the weights.
     *
     * @param classNames class names, index order
     * @param epoch 1-based epoch over the whole fit
     * @param stage 0-based stage index
     * @param epochInStage 1-based epoch within the stage
     * @param metric the name of the checkpoint metric
     * @param metricValue its value at this epoch
     * @param stagePlan the full description of every stage of the plan
     * @param seed the run's random seed
     * @param parameterShapes "name shape" of every parameter, for a clear mismatch error
     * @param createdAt ISO-8601 time of writing
     * @param resume what a continuation needs beside weights and optimizer state (the history, the
     *     best epoch; {@link Resume#partial()} for a best-epoch checkpoint), or null for weights alone
     */
    public record Metadata(
            List<String> classNames,
            int epoch,
            int stage,
            int epochInStage,
            String metric,
            double metricValue,
            List<String> stagePlan,
            long seed,
            List<String> parameterShapes,
            String createdAt,
            Resume resume) {
        /**
         * Copies the lists.
         *
         * @param classNames class names, index order
         * @param epoch 1-based epoch over the whole fit
         * @param stage 0-based stage index
         * @param epochInStage 1-based epoch within the stage
         * @param metric the name of the checkpoint metric
         * @param metricValue its value at this epoch
         * @param stagePlan the full description of every stage of the plan
         * @param seed the run's random seed
         * @param parameterShapes "name shape" of every parameter, for a clear mismatch error
         * @param createdAt ISO-8601 time of writing
         * @param resume what a continuation needs beside weights and optimizer state (the history, the
         *     best epoch; {@link Resume#partial()} for a best-epoch checkpoint), or null for weights alone
         */
        public Metadata {
            classNames = List.copyOf(classNames);
            stagePlan = List.copyOf(stagePlan);
            parameterShapes = List.copyOf(parameterShapes);
        }
    }

    /**
     * The state of a fit after an epoch that lets a run killed later continue exactly as if it had
     * not stopped: the per-epoch history, the best epoch, and the optimizer's per-parameter step
     * counts (its moment arrays travel in the checkpoint's optimizer section, in the same order).
     *
     * @param history every completed epoch's metrics
     * @param bestIndex index into the history of the best epoch (-1 when none)
     * @param bestValue the best metric value
     * @param bestConfusion the best epoch's validation confusion counts
     * @param optimizerParameters names of the parameters with optimizer state
     * @param optimizerSteps their update counts
     * @param listenerStates what each listener keeping state saved, by its key (position and class)
     * @param stopped "stage" or "fit" when a listener stopped the run at this epoch, else null
     * @param partial true for a best-epoch checkpoint: it holds the history up to its epoch and that
     *     epoch as the best, but no optimizer or listener state, so a run resumed from it goes on
     *     with a fresh optimizer (false for the exact state written by a last checkpoint)
     * @param average the weight average's settings and parameters (its arrays travel in the
     *     checkpoint's average section, in the same order), or null when the fit keeps none or for a
     *     best-epoch checkpoint
     */
    public record Resume(List<dev.finetune.core.result.EpochMetrics> history, int bestIndex, double bestValue,
            long[][] bestConfusion, List<String> optimizerParameters, List<Long> optimizerSteps,
            java.util.Map<String, String> listenerStates, String stopped, boolean partial, Average average) {
        /**
         * Copies the lists.
         *
         * @param history every completed epoch's metrics
         * @param bestIndex index into the history of the best epoch (-1 when none)
         * @param bestValue the best metric value
         * @param bestConfusion the best epoch's validation confusion counts
         * @param optimizerParameters names of the parameters with optimizer state
         * @param optimizerSteps their update counts
         * @param listenerStates what each listener keeping state saved, by its key (position and class)
         * @param stopped "stage" or "fit" when a listener stopped the run at this epoch, else null
         * @param partial true for a best-epoch checkpoint: it holds the history up to its epoch and that
         *     epoch as the best, but no optimizer or listener state, so a run resumed from it goes on
         *     with a fresh optimizer (false for the exact state written by a last checkpoint)
         * @param average the weight average's settings and parameters, or null
         */
        public Resume {
            history = List.copyOf(history);
            optimizerParameters = List.copyOf(optimizerParameters);
            optimizerSteps = List.copyOf(optimizerSteps);
            listenerStates = listenerStates == null ? java.util.Map.of() : java.util.Map.copyOf(listenerStates);
        }

        /**
         * A resume state without a weight average.
         *
         * @param history every completed epoch's metrics
         * @param bestIndex index into the history of the best epoch (-1 when none)
         * @param bestValue the best metric value
         * @param bestConfusion the best epoch's validation confusion counts
         * @param optimizerParameters names of the parameters with optimizer state
         * @param optimizerSteps their update counts
         * @param listenerStates what each listener keeping state saved, by its key
         * @param stopped "stage" or "fit" when a listener stopped the run at this epoch, else null
         * @param partial true for a best-epoch checkpoint
         */
        public Resume(List<dev.finetune.core.result.EpochMetrics> history, int bestIndex, double bestValue,
                long[][] bestConfusion, List<String> optimizerParameters, List<Long> optimizerSteps,
                java.util.Map<String, String> listenerStates, String stopped, boolean partial) {
            this(history, bestIndex, bestValue, bestConfusion, optimizerParameters, optimizerSteps, listenerStates,
                    stopped, partial, null);
        }
    }

    /**
     * The exponential moving average of the weights ({@code FineTuner.optEma}) in a last checkpoint.
     *
     * @param decay the configured decay
     * @param updates the updates made so far (the warm-up's step count)
     * @param parameters the averaged parameters' names, in the order of the average section
     */
    public record Average(double decay, long updates, List<String> parameters) {
        /**
         * Copies the list.
         *
         * @param decay the configured decay
         * @param updates the updates made so far
         * @param parameters the averaged parameters' names
         */
        public Average {
            parameters = parameters == null ? List.of() : List.copyOf(parameters);
        }
    }

    private Checkpoint(Metadata metadata, byte[] parameters, byte[] optimizerState, byte[] averageState) {
        this.metadata = metadata;
        this.parameters = parameters;
        this.optimizerState = optimizerState;
        this.averageState = averageState;
    }

    /** @return the encoded weight-average arrays of a last checkpoint with an average (empty for others) */
    public byte[] averageState() {
        return averageState.clone();
    }

    /** @return the encoded optimizer moment arrays of a resume checkpoint (empty for others) */
    public byte[] optimizerState() {
        return optimizerState.clone();
    }

    /** @return the metadata */
    public Metadata metadata() {
        return metadata;
    }

    /**
     * Lists "name shape" for every parameter of a block, the signature a checkpoint is checked
     * against.
     *
     * @param block the block
     * @return one entry per parameter
     */
    public static List<String> shapesOf(Block block) {
        List<String> out = new ArrayList<>();
        for (Pair<String, Parameter> p : block.getParameters()) {
            Parameter param = p.getValue();
            String shape = param.isInitialized() ? param.getArray().getShape().toString() : "uninitialised";
            out.add(p.getKey() + " " + shape);
        }
        return out;
    }

    /**
     * Takes an in-memory snapshot of a block's parameters with their metadata.
     *
     * @param block the block whose parameters are saved
     * @param metadata what to record with them
     * @return the checkpoint
     * @throws CheckpointException if the parameters cannot be serialised
     */
    public static Checkpoint of(Block block, Metadata metadata) throws CheckpointException {
        return of(block, metadata, new byte[0]);
    }

    /**
     * Takes an in-memory snapshot of a block's parameters with metadata and optimizer state, for an
     * exact continuation.
     *
     * @param block the block whose parameters are saved
     * @param metadata what to record with them (with its {@link Resume} part)
     * @param optimizerState the encoded optimizer arrays
     * @return the checkpoint
     * @throws CheckpointException if the parameters cannot be serialised
     */
    public static Checkpoint of(Block block, Metadata metadata, byte[] optimizerState) throws CheckpointException {
        return of(block, metadata, optimizerState, new byte[0]);
    }

    /**
     * Takes an in-memory snapshot of a block's parameters with metadata, optimizer state and the
     * weight average, for an exact continuation of a fit that averages its weights.
     *
     * @param block the block whose parameters are saved (the training weights)
     * @param metadata what to record with them (with its {@link Resume} part and {@link Average})
     * @param optimizerState the encoded optimizer arrays
     * @param averageState the encoded average arrays (empty for none)
     * @return the checkpoint
     * @throws CheckpointException if the parameters cannot be serialised
     */
    public static Checkpoint of(Block block, Metadata metadata, byte[] optimizerState, byte[] averageState)
            throws CheckpointException {
        try {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            block.saveParameters(new DataOutputStream(bytes));
            return new Checkpoint(metadata, bytes.toByteArray(), optimizerState.clone(), averageState.clone());
        } catch (IOException | RuntimeException e) {
            throw new CheckpointException("Could not serialise the model's parameters: " + e.getMessage(), e);
        }
    }

    /**
     * Writes this checkpoint atomically: the file at {@code path} is either the previous checkpoint
     * or the new one, never a mixture.
     *
     * @param path the checkpoint file
     * @throws CheckpointException if writing fails; the previous file is left intact
     */
    public void save(Path path) throws CheckpointException {
        byte[] content = encode(metadata, parameters, optimizerState, averageState);
        writeAtomically(path, out -> out.write(content));
    }

    /**
     * Checks, before any training, that a checkpoint can be written at {@code path}: its folder can
     * be made and a file created there (then removed), and the path is not a folder.
     *
     * @param path where a checkpoint will be written
     * @param setting the setting that names it, for the message (e.g. "optCheckpoint")
     * @throws CheckpointException if it cannot be written, saying why and what to do
     */
    public static void requireWritable(Path path, String setting) throws CheckpointException {
        if (Files.isDirectory(path)) {
            throw new CheckpointException(setting + "(" + path + ") names a folder: give a file path, e.g. "
                    + path.resolve("best.ckpt") + ".");
        }
        Path dir = path.toAbsolutePath().getParent();
        try {
            Files.createDirectories(dir);
            Path probe = Files.createTempFile(dir, path.getFileName().toString() + ".", ".tmp");
            Files.delete(probe);
        } catch (IOException | UnsupportedOperationException e) {
            throw new CheckpointException("Cannot write the checkpoint " + path + " of " + setting + " (" + e
                    + "); nothing was trained. Choose a folder this process can write to.", e);
        }
    }

    /** Writes the content of a file to a stream. */
    @FunctionalInterface
    interface ContentWriter {
        void write(OutputStream out) throws IOException;
    }

    private static byte[] encode(Metadata metadata, byte[] params, byte[] state, byte[] average) {
        byte[] json = GSON.toJson(metadata).getBytes(StandardCharsets.UTF_8);
        boolean v3 = average.length > 0;
        ByteBuffer buf = ByteBuffer.allocate(MAGIC.length + 4 + json.length + 8 + params.length + 8 + state.length
                + (v3 ? 8 + average.length : 0) + 8);
        buf.put(v3 ? MAGIC_V3 : MAGIC).putInt(json.length).put(json).putLong(params.length).put(params)
                .putLong(state.length).put(state);
        if (v3) {
            buf.putLong(average.length).put(average);
        }
        CRC32 crc = new CRC32();
        crc.update(buf.array(), 0, buf.position());
        buf.putLong(crc.getValue());
        return buf.array();
    }

    /**
     * Writes bytes to a temporary sibling file, forces them to disk and moves it over {@code path}.
     *
     * @param path the destination
     * @param content writes the bytes
     * @throws CheckpointException on any I/O failure; the destination is untouched then
     */
    static void writeAtomically(Path path, ContentWriter content) throws CheckpointException {
        Path dir = path.toAbsolutePath().getParent();
        Path tmp = null;
        try {
            Files.createDirectories(dir);
            removeStaleTemporaries(dir, path.getFileName().toString());
            tmp = Files.createTempFile(dir, path.getFileName().toString() + ".", ".tmp");
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
                try (OutputStream out = java.nio.channels.Channels.newOutputStream(ch)) {
                    content.write(out);
                    out.flush();
                    writeHook.beforeForce();
                    ch.force(true);
                }
            }
            try {
                Files.move(tmp, path, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, path, StandardCopyOption.REPLACE_EXISTING);
            }
            tmp = null;
        } catch (IOException e) {
            throw new CheckpointException(
                    "Could not write checkpoint " + path + " (" + e + "). The previous checkpoint,"
                            + " if any, is unchanged; free disk space or choose another directory.",
                    e);
        } finally {
            if (tmp != null) {
                try {
                    Files.deleteIfExists(tmp);
                } catch (IOException ignored) {
                    // best effort: a stray temporary file never replaces the checkpoint
                }
            }
        }
    }

    /** Deletes temporary files a killed process left behind while writing this checkpoint. */
    private static void removeStaleTemporaries(Path dir, String name) {
        try (java.util.stream.Stream<Path> files = Files.list(dir)) {
            files.filter(f -> {
                String n = f.getFileName().toString();
                return n.startsWith(name + ".") && n.endsWith(".tmp");
            }).forEach(f -> {
                try {
                    Files.deleteIfExists(f);
                } catch (IOException ignored) {
                    // another writer's file, or gone already
                }
            });
        } catch (IOException ignored) {
            // listing failed: the write itself will report a real problem
        }
    }

    /**
     * Reads and verifies a checkpoint.
     *
     * @param path the file
     * @return the checkpoint
     * @throws CheckpointException if it is missing, truncated, corrupt or not a checkpoint
     */
    public static Checkpoint load(Path path) throws CheckpointException {
        byte[] all;
        try {
            all = Files.readAllBytes(path);
        } catch (NoSuchFileException e) {
            throw new CheckpointException(
                    "No checkpoint at " + path.toAbsolutePath() + ". Check the path, or start the"
                            + " fine-tune without resuming.", e);
        } catch (IOException e) {
            throw new CheckpointException("Could not read checkpoint " + path + ": " + e, e);
        }
        String corrupt = "Checkpoint " + path + " is corrupt or not a finetune checkpoint (%s);"
                + " use another checkpoint or start again.";
        boolean v1 = all.length >= MAGIC_V1.length && Arrays.equals(Arrays.copyOf(all, MAGIC_V1.length), MAGIC_V1);
        boolean v3 = all.length >= MAGIC_V3.length && Arrays.equals(Arrays.copyOf(all, MAGIC_V3.length), MAGIC_V3);
        if (all.length < MAGIC.length + 4 + 8 + 8
                || !(v1 || v3 || Arrays.equals(Arrays.copyOf(all, MAGIC.length), MAGIC))) {
            throw new CheckpointException(String.format(corrupt, "bad header"));
        }
        ByteBuffer buf = ByteBuffer.wrap(all);
        CRC32 crc = new CRC32();
        crc.update(all, 0, all.length - 8);
        if (crc.getValue() != buf.getLong(all.length - 8)) {
            throw new CheckpointException(String.format(corrupt, "checksum mismatch: truncated or damaged"));
        }
        buf.position(MAGIC.length);
        int jsonLength = buf.getInt();
        if (jsonLength < 0 || jsonLength > buf.remaining() - 8 - 8) {
            throw new CheckpointException(String.format(corrupt, "bad metadata length"));
        }
        byte[] json = new byte[jsonLength];
        buf.get(json);
        long paramLength = buf.getLong();
        if (paramLength < 0 || paramLength > all.length - buf.position() - 8 - (v1 ? 0 : 8)
                || (v1 && paramLength != all.length - buf.position() - 8)) {
            throw new CheckpointException(String.format(corrupt, "bad parameter length"));
        }
        byte[] params = new byte[(int) paramLength];
        buf.get(params);
        byte[] state = new byte[0];
        byte[] average = new byte[0];
        if (!v1) {
            long stateLength = buf.getLong();
            long rest = all.length - buf.position() - 8;
            if (v3 ? stateLength < 0 || stateLength > rest - 8 : stateLength != rest) {
                throw new CheckpointException(String.format(corrupt, "bad optimizer state length"));
            }
            state = new byte[(int) stateLength];
            buf.get(state);
        }
        if (v3) {
            long averageLength = buf.getLong();
            if (averageLength != all.length - buf.position() - 8) {
                throw new CheckpointException(String.format(corrupt, "bad weight average length"));
            }
            average = new byte[(int) averageLength];
            buf.get(average);
        }
        Metadata metadata;
        try {
            metadata = GSON.fromJson(new String(json, StandardCharsets.UTF_8), Metadata.class);
        } catch (JsonParseException e) {
            throw new CheckpointException(String.format(corrupt, "unreadable metadata"), e);
        } catch (RuntimeException e) {
            // e.g. a list missing from the metadata: the record's List.copyOf refuses the null
            throw new CheckpointException(String.format(corrupt, "incomplete metadata: " + e), e);
        }
        if (metadata == null || metadata.classNames() == null) {
            throw new CheckpointException(String.format(corrupt, "missing metadata"));
        }
        return new Checkpoint(metadata, params, state, average);
    }

    /**
     * Loads the saved weights into a block of the same architecture and class count.
     *
     * @param block the block, head already replaced to the checkpoint's class count
     * @param manager the manager (device) the weights are created in
     * @throws CheckpointException if the block's parameters differ in name or shape from the saved
     *     ones; the block is not changed then
     */
    public void restoreInto(Block block, NDManager manager) throws CheckpointException {
        List<String> expected = metadata.parameterShapes();
        List<String> actual = shapesOf(block);
        if (!Objects.equals(expected, actual)) {
            throw new CheckpointException(describeMismatch(expected, actual));
        }
        List<ai.djl.ndarray.NDArray> previous = new ArrayList<>();
        for (Pair<String, Parameter> p : block.getParameters()) {
            if (p.getValue().isInitialized()) {
                previous.add(p.getValue().getArray());
            }
        }
        try {
            block.loadParameters(manager, new DataInputStream(new ByteArrayInputStream(parameters)));
            forgetImportedParameters(block);
            // loading puts new arrays in the parameters; free the replaced ones
            for (ai.djl.ndarray.NDArray old : previous) {
                old.close();
            }
        } catch (IOException | MalformedModelException e) {
            throw new CheckpointException("Could not load the checkpoint's weights: " + e.getMessage(), e);
        }
    }

    /**
     * An imported module (TorchScript) loads as a new native module, but DJL keeps serving the
     * parameter list it cached from the old one; clearing that cache makes the new weights visible.
     */
    private static void forgetImportedParameters(Block block) {
        if (block instanceof ai.djl.nn.SymbolBlock) {
            for (Class<?> c = block.getClass(); c != null; c = c.getSuperclass()) {
                try {
                    java.lang.reflect.Field f = c.getDeclaredField("parameters");
                    if (java.util.Map.class.isAssignableFrom(f.getType())) {
                        f.setAccessible(true);
                        f.set(block, null);
                        return;
                    }
                } catch (NoSuchFieldException e) {
                    // look in the superclass
                } catch (IllegalAccessException e) {
                    throw new IllegalStateException("Cannot refresh the parameters of " + block.getClass(), e);
                }
            }
        }
        for (Block child : block.getChildren().values()) {
            forgetImportedParameters(child);
        }
    }

    private String describeMismatch(List<String> expected, List<String> actual) {
        String first = "";
        for (int i = 0; i < Math.max(expected.size(), actual.size()); i++) {
            String e = i < expected.size() ? expected.get(i) : "(none)";
            String a = i < actual.size() ? actual.get(i) : "(none)";
            if (!e.equals(a)) {
                first = "first difference: checkpoint has '" + e + "', model has '" + a + "'";
                break;
            }
        }
        return "The checkpoint was written for another architecture or class count ("
                + metadata.classNames().size() + " classes, " + expected.size() + " parameters; the"
                + " model has " + actual.size() + " parameters; " + first + "). Build the same"
                + " architecture and replaceHead(" + metadata.classNames().size() + ") before restoring.";
    }
}
