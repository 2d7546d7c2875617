package dev.finetune.core.internal;

import ai.djl.Device;
import ai.djl.MalformedModelException;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.nn.SymbolBlock;
import ai.djl.pytorch.engine.PtNDManager;
import ai.djl.pytorch.engine.PtSymbolBlock;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import ai.djl.util.Pair;
import ai.djl.util.PairList;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.lang.reflect.Field;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;

/**
 * Bfloat16 mixed precision for one fit. The model's own parameters stay float32: they are the
 * masters that the optimizer updates, the checkpoints hold and validation measures. During training
 * passes, the model's heavy blocks compute in bfloat16 on copies kept in step with the masters:
 *
 * <ul>
 *   <li>each TorchScript module ({@link PtSymbolBlock}) runs as a bfloat16 copy of itself, made by
 *       writing the module to bytes, casting the archive ({@link TorchScriptCast}) and loading it;
 *   <li>each DJL layer with weights that is not a normalisation layer (convolution, linear,
 *       embedding) runs on bfloat16 copies of its weights (a {@link ParameterStore} that hands them
 *       out); normalisation layers keep float32 parameters and statistics and take any input.
 * </ul>
 *
 * <p>Each such block is an island: its float32 inputs are cast to bfloat16 and its outputs back to
 * float32, so the rest of the model, the loss and the metrics only ever see float32. (DJL 0.35.1's
 * PyTorch JNI has no bfloat16 type code: any DJL operation that passes a bfloat16 array's type to
 * native code aborts the process, so bfloat16 arrays never leave the islands. The casts go through a
 * small scripted modules, {@code bf16-cast.pt} and {@code fp32-cast.pt}, which keep autograd.) After each backward pass the
 * copies' bfloat16 gradients are added, in float32, to the masters' gradients, and zeroed; after each
 * optimizer step the trained copies are refreshed from the masters (rounded to nearest even).
 *
 * <p>Installed around a fit like {@link BatchNormControl} (before it, so its guard wraps the
 * TorchScript island), and closed after it, which restores the original blocks.
 */
public final class MixedPrecision implements AutoCloseable {

    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(MixedPrecision.class);
    private static final String DOWN_RESOURCE = "bf16-cast.pt";
    private static final String UP_RESOURCE = "fp32-cast.pt";
    private static final Field IS_TRAIN = field(PtSymbolBlock.class, "isTrain");
    /** The version byte a {@code PtSymbolBlock} writes before its module and expects back. */
    private static final Field VERSION = field(ai.djl.nn.AbstractBaseBlock.class, "version");
    /** Parameter types of normalisation layers: their layers stay float32. */
    private static final Set<Parameter.Type> NORM_TYPES = EnumSet.of(Parameter.Type.GAMMA, Parameter.Type.BETA,
            Parameter.Type.RUNNING_MEAN, Parameter.Type.RUNNING_VAR);

    /** A master parameter and its bfloat16 copy (of a TorchScript module: its island, else null). */
    private record Copy(Parameter master, NDArray compute, ModuleIsland module) {}

    private final NDManager own;
    private final PtSymbolBlock down;
    private final PtSymbolBlock up;
    private final ParameterStore castStore;
    private final BlockSwaps swaps = new BlockSwaps();
    private final List<Copy> copies = new ArrayList<>();
    private final List<ModuleIsland> modules = new ArrayList<>();
    /** Each master's bfloat16 copy. */
    private final Map<Parameter, NDArray> byMaster = new java.util.IdentityHashMap<>();
    /** Whether the step's gradients are still on the copies (one batch per step). */
    private boolean direct;
    private final Map<String, NDArray> shadows = new HashMap<>();
    private final Consumer<String> warn;
    /** The model's block when it is itself a TorchScript module, and its island. */
    private Block rootModule;
    private Block rootIsland;
    private boolean active;
    private boolean verified;
    private volatile boolean computing;
    /** Serving: every forward pass computes in bfloat16 (no masters train). */
    private boolean serving;

    private MixedPrecision(NDManager own, PtSymbolBlock down, PtSymbolBlock up, Consumer<String> warn) {
        this.own = own;
        this.down = down;
        this.up = up;
        this.castStore = own == null ? null : new ParameterStore(own, false);
        this.warn = warn;
    }

    /** @return an instance that does nothing: float32 training */
    public static MixedPrecision off() {
        return new MixedPrecision(null, null, null, m -> { });
    }

    /**
     * Installs bfloat16 compute around a model's blocks, or explains why not and does nothing.
     *
     * @param root the model's block
     * @param manager the model's manager (its device is where the copies live)
     * @param warn told once why bfloat16 does not apply, when it does not
     * @return the installed precision; close it to restore the model
     */
    public static MixedPrecision install(Block root, NDManager manager, Consumer<String> warn) {
        String unsupported = Bf16Support.unsupported(manager);
        if (unsupported != null) {
            warn.accept("BF16 precision was asked for but " + unsupported + "; float32 is used instead.");
            return off();
        }
        NDManager own = manager.newSubManager();
        MixedPrecision precision;
        try {
            precision = new MixedPrecision(own, castModule(own, DOWN_RESOURCE), castModule(own, UP_RESOURCE), warn);
            Block replaced = precision.wrap(root);
            if (replaced != root) {
                precision.rootModule = root;
                precision.rootIsland = replaced;
            } else {
                precision.swaps.replace(root, precision::wrap);
            }
        } catch (IOException e) {
            own.close();
            throw new UncheckedIOException(e);
        } catch (RuntimeException e) {
            own.close();
            throw e;
        }
        if (precision.copies.isEmpty()) {
            precision.close();
            warn.accept("BF16 precision was asked for but the model has no TorchScript module and no DJL layer with"
                    + " weights outside normalisation layers; float32 is used instead.");
            return off();
        }
        precision.active = true;
        LOG.info("BF16 mixed precision: {} parameters computed in bfloat16 copies of float32 masters",
                precision.copies.size());
        return precision;
    }

    /**
     * Installs bfloat16 inference on a fitted model for good (an export served in bfloat16): every
     * forward pass of the returned block computes in bfloat16 islands on copies of the weights as
     * they are now, with float32 inputs and outputs. Where bfloat16 cannot run, says why and
     * returns the block as it is.
     *
     * @param root the model's block, with its values
     * @param manager the model's manager (the copies live in a sub-manager of it)
     * @param warn told why bfloat16 does not apply, when it does not
     * @return the block to forward
     */
    public static Block serving(Block root, NDManager manager, Consumer<String> warn) {
        MixedPrecision precision = install(root, manager, warn);
        if (!precision.active) {
            return root;
        }
        precision.serving = true;
        precision.beginPass();
        for (Copy c : precision.copies) {
            c.compute().setRequiresGradient(false);
        }
        return precision.rootIsland != null ? precision.rootIsland : root;
    }

    /** @return whether training passes compute in bfloat16 */
    public boolean active() {
        return active;
    }

    /**
     * The block to run: the root itself, or its bfloat16 wrapper when the root is a TorchScript module.
     *
     * @param block the model's block
     * @return the block to forward
     */
    public Block block(Block block) {
        return block == rootModule ? rootIsland : block;
    }

    /** @return the block's bfloat16 island, or the block itself when it is not one */
    private Block wrap(Block block) {
        if (block instanceof PtSymbolBlock module) {
            ModuleIsland island = new ModuleIsland(module);
            island.build();
            modules.add(island);
            return island;
        }
        if (block instanceof AbstractBlock && block.getChildren().isEmpty() && !block.getDirectParameters().isEmpty()) {
            boolean norm = false;
            for (Pair<String, Parameter> p : block.getDirectParameters()) {
                norm |= NORM_TYPES.contains(p.getValue().getType());
            }
            if (!norm && block.isInitialized()) {
                for (Pair<String, Parameter> p : block.getDirectParameters()) {
                    Parameter master = p.getValue();
                    NDArray shadow = down(master.getArray());
                    shadow.attach(own);
                    shadows.put(master.getId(), shadow);
                    copies.add(new Copy(master, shadow, null));
                    byMaster.put(master, shadow);
                }
                return new LayerIsland(block);
            }
        }
        return block;
    }

    /** A bfloat16 copy of a TorchScript module, its parameters paired with the module's by name. */
    private PtSymbolBlock computeCopy(PtSymbolBlock module, ModuleIsland island) {
        byte[] bf16 = TorchScriptCast.toBfloat16(bytes(module));
        PtSymbolBlock copy;
        try {
            copy = JniUtils.loadModule((PtNDManager) own, new ByteArrayInputStream(bf16), true, false);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        restoreMode(copy); // loaded in the mode it was written in; DJL believes a new block trains
        Map<String, Parameter> byName = new HashMap<>();
        for (Pair<String, Parameter> p : copy.getDirectParameters()) {
            byName.put(p.getKey(), p.getValue());
        }
        for (Pair<String, Parameter> p : module.getDirectParameters()) {
            Parameter twin = byName.get(p.getKey());
            if (twin == null) {
                throw new IllegalStateException("The bfloat16 copy of the TorchScript module lacks its parameter "
                        + p.getKey() + ".");
            }
            copies.add(new Copy(p.getValue(), twin.getArray(), island));
            byMaster.put(p.getValue(), twin.getArray());
        }
        return copy;
    }

    private static byte[] bytes(PtSymbolBlock module) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        JniUtils.writeModule(module, bytes, false);
        return bytes.toByteArray();
    }

    private static PtSymbolBlock castModule(NDManager own, String resource) throws IOException {
        try (InputStream in = MixedPrecision.class.getResourceAsStream(resource)) {
            if (in == null) {
                throw new IllegalStateException("The library jar lacks " + resource + ": rebuild it.");
            }
            return JniUtils.loadModule((PtNDManager) own, in, true, false);
        }
    }

    /** Casts to bfloat16, keeping autograd; the result lives in the input's manager. */
    NDArray down(NDArray x) {
        return down.forward(castStore, new NDList(x), true).head();
    }

    /** Casts to float32, keeping autograd; the result lives in the input's manager. */
    NDArray up(NDArray x) {
        return up.forward(castStore, new NDList(x), true).head();
    }

    /**
     * Copies every master into its bfloat16 copy and sets which copies need gradients (from the
     * masters, as the plan froze them): at the start of a training pass, after anything may have
     * changed the masters (a restore, a resume, the weight average swapped in and out).
     */
    public void beginPass() {
        if (!active) {
            return;
        }
        for (ModuleIsland m : modules) {
            if (m.original.getHandle() != m.originalHandle) {
                m.build(); // the module was reloaded (a checkpoint restored): copy it afresh
            }
        }
        for (Copy c : copies) {
            c.compute().setRequiresGradient(c.master().requiresGradient());
            refresh(c);
        }
        for (ModuleIsland m : modules) {
            m.counters = TorchScriptCast.integerRecords(bytes(m.compute));
        }
    }

    /**
     * Carries the BatchNorm statistics that the bfloat16 copies updated in a training pass back to
     * the float32 modules (a module traced or scripted in train mode updates them whenever it
     * trains), so validation, checkpoints and the fitted model have them: at the end of each
     * training pass.
     */
    public void endPass() {
        if (!active) {
            return;
        }
        for (ModuleIsland m : modules) {
            if (!TorchScriptCast.integerRecords(bytes(m.compute)).equals(m.counters)) {
                m.takeStatistics();
            }
        }
    }

    /** Refreshes the copies of the masters that train: after each optimizer step. */
    public void afterStep() {
        if (!active) {
            return;
        }
        direct = false;
        for (Copy c : copies) {
            if (c.master().requiresGradient()) {
                refresh(c);
            }
        }
    }

    private static void refresh(Copy c) {
        // one copy_ that rounds to nearest even, in place: modules hold these tensors
        c.compute().set(FULL, c.master().getArray());
    }

    private static final ai.djl.ndarray.index.NDIndex FULL = new ai.djl.ndarray.index.NDIndex("...");

    /**
     * Runs a training forward pass, in bfloat16 islands when active.
     *
     * @param block the model's block
     * @param store the loop's parameter store
     * @param x the inputs
     * @return the outputs (float32)
     */
    public NDList forward(Block block, ParameterStore store, NDList x) {
        computing = active;
        try {
            return block(block).forward(store, x, true);
        } finally {
            computing = false;
        }
    }

    /**
     * After a batch's backward pass, inside its collector: with gradient accumulation, adds the
     * copies' gradients to the masters' (in float32, by a backward pass through {@code sum(master *
     * gradient)}) and zeroes the copies', so that the sum over the group's batches is float32.
     * Without, leaves them for {@link #gradient}, which the optimizer step reads.
     *
     * @param collector the batch's gradient collector
     * @param scope where the temporary arrays go
     * @param accumulating whether the step takes several batches
     */
    public void transferGradients(GradientCollector collector, NDManager scope, boolean accumulating) {
        if (!active) {
            return;
        }
        if (!accumulating) {
            direct = true;
            return;
        }
        NDArray total = null;
        for (Copy c : copies) {
            if (!c.master().requiresGradient()) {
                continue;
            }
            NDArray grad;
            try {
                grad = c.compute().getGradient();
            } catch (RuntimeException e) {
                continue; // not reached by this batch's graph
            }
            grad.attach(scope);
            NDArray term = up(grad).mul(c.master().getArray()).sum();
            grad.muli(0);
            total = total == null ? term : total.add(term);
        }
        if (total != null) {
            collector.backward(total);
        }
    }

    /**
     * The float32 gradient of a parameter for the optimizer step: its bfloat16 copy's, cast up (the
     * copy's is zeroed for the next step), when the step had one batch; otherwise the master's.
     *
     * @param parameter a trained parameter
     * @param stepManager the step's manager (the result goes there)
     * @return its gradient
     */
    public NDArray gradient(Parameter parameter, NDManager stepManager) {
        NDArray compute = direct ? byMaster.get(parameter) : null;
        if (compute == null) {
            NDArray grad = parameter.getArray().getGradient();
            grad.attach(stepManager);
            return grad;
        }
        NDArray grad = compute.getGradient();
        grad.attach(stepManager);
        NDArray full = up(grad);
        grad.muli(0);
        return full;
    }

    /** Zeroes the copies' gradients (a step given up: nothing may reach a later one). */
    public void discardGradients() {
        direct = false;
        for (Copy c : copies) {
            try (NDManager scope = own.newSubManager()) {
                NDArray grad = c.compute().getGradient();
                grad.attach(scope);
                grad.muli(0);
            } catch (RuntimeException ignored) {
                // no gradient: nothing to zero
            }
        }
    }

    /**
     * Whether the first bfloat16 pass still has to succeed; after a failure, {@link #fail} turns
     * bfloat16 off for the rest of the fit.
     *
     * @return true until a bfloat16 pass completed
     */
    public boolean unverified() {
        return active && !verified;
    }

    /** Notes that a bfloat16 pass completed. */
    public void verified() {
        verified = true;
    }

    /**
     * Turns bfloat16 off after the first pass failed, and says why.
     *
     * @param failure what failed
     */
    public void fail(RuntimeException failure) {
        active = false;
        for (Copy c : copies) {
            try {
                c.compute().setRequiresGradient(false);
            } catch (RuntimeException ignored) {
                // best effort: the copies are no longer used
            }
        }
        warn.accept("BF16 precision was asked for but the model's first bfloat16 pass failed (" + failure.getMessage()
                + "); the fit trains in float32.");
    }

    @Override
    public void close() {
        swaps.restore();
        copies.clear();
        byMaster.clear();
        modules.clear();
        shadows.clear();
        active = false;
        if (own != null) {
            own.close();
        }
    }

    private NDList toBfloat16(NDList inputs) {
        NDList cast = new NDList(inputs.size());
        for (NDArray a : inputs) {
            cast.add(a.getDataType() == DataType.FLOAT32 ? down(a) : a);
        }
        return cast;
    }

    private NDList toFloat32(NDList outputs) {
        NDList cast = new NDList(outputs.size());
        for (NDArray a : outputs) {
            cast.add(a.getDataType() == DataType.UNKNOWN ? up(a) : a); // DJL 0.35.1 reads bfloat16 as UNKNOWN
        }
        return cast;
    }

    /** A loaded module starts in its saved mode: put it in the mode DJL believes it is in. */
    private static void restoreMode(PtSymbolBlock module) {
        try {
            if (IS_TRAIN.getBoolean(module)) {
                JniUtils.enableTrainingMode(module);
            } else {
                JniUtils.enableInferenceMode(module);
            }
        } catch (IllegalAccessException e) {
            throw new IllegalStateException("Cannot read the mode of " + module, e);
        }
    }

    private static Field field(Class<?> owner, String name) {
        try {
            Field f = owner.getDeclaredField(name);
            f.setAccessible(true);
            return f;
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /** A TorchScript module that runs its bfloat16 copy during training passes; a SymbolBlock to the guards. */
    private final class ModuleIsland extends TransparentBlock implements SymbolBlock {
        private final PtSymbolBlock original;
        private PtSymbolBlock compute;
        /** The native module the copy was made from (a restored checkpoint loads a new one). */
        private long originalHandle;
        /** The copy's integer records at the start of the pass: BatchNorm's batch counters. */
        private Map<String, java.nio.ByteBuffer> counters;

        ModuleIsland(PtSymbolBlock original) {
            super(original);
            this.original = original;
        }

        /** (Re)makes the bfloat16 copy from the module as it is now. */
        void build() {
            copies.removeIf(c -> c.module() == this && byMaster.remove(c.master()) != null);
            if (compute != null) {
                compute.close();
            }
            compute = computeCopy(original, this);
            originalHandle = original.getHandle();
        }

        /**
         * Gives the float32 module the copy's BatchNorm statistics: its archive with the copy's
         * buffers is loaded as a new native module, and the parameter arrays that the fit holds
         * (groups, optimizer, copies) are pointed at the new module's tensors, which hold the same
         * float32 values.
         */
        void takeStatistics() {
            java.util.Set<java.nio.ByteBuffer> parameters = new java.util.HashSet<>();
            for (Pair<String, Parameter> p : original.getDirectParameters()) {
                parameters.add(java.nio.ByteBuffer.wrap(p.getValue().getArray().toByteArray()));
            }
            byte[] merged = TorchScriptCast.withStatistics(bytes(original), bytes(compute), parameters);
            long previous = original.getHandle();
            ByteArrayOutputStream framed = new ByteArrayOutputStream();
            try (DataOutputStream out = new DataOutputStream(framed)) {
                out.writeByte(VERSION.getByte(original));
                out.writeLong(merged.length);
                out.write(merged);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            } catch (IllegalAccessException e) {
                throw new IllegalStateException("Cannot read the parameter format version of " + original, e);
            }
            PtNDManager manager = (PtNDManager) original.getDirectParameters().get(0).getValue().getArray()
                    .getManager();
            try {
                original.loadParameters(manager, new DataInputStream(new ByteArrayInputStream(framed.toByteArray())));
            } catch (IOException | MalformedModelException e) {
                throw new IllegalStateException("Could not give the TorchScript module its BatchNorm statistics", e);
            }
            Map<String, NDArray> fresh = new HashMap<>();
            for (NDArray a : JniUtils.moduleGetParams(original, manager)) {
                fresh.put(a.getName(), a);
            }
            for (Pair<String, Parameter> p : original.getDirectParameters()) { // the cached parameters the fit holds
                NDArray held = p.getValue().getArray();
                boolean trains = p.getValue().requiresGradient();
                held.intern(fresh.remove(p.getKey()));
                held.setRequiresGradient(trains);
            }
            fresh.values().forEach(NDArray::close);
            JniUtils.deleteModule(previous);
            restoreMode(original);
            originalHandle = original.getHandle();
        }

        @Override
        protected NDList forwardInternal(ParameterStore store, NDList inputs, boolean training,
                PairList<String, Object> params) {
            if (!(computing || serving) || !active) {
                return original.forward(store, inputs, training, params);
            }
            return toFloat32(compute.forward(store, toBfloat16(inputs), training, params));
        }

        @Override
        public PairList<String, Shape> describeInput() {
            return original.describeInput();
        }
    }

    /** A DJL layer with weights that computes on their bfloat16 copies during training passes. */
    private final class LayerIsland extends TransparentBlock {
        private final ParameterStore copiesStore = new ParameterStore(own, false) {
            @Override
            public NDArray getValue(Parameter parameter, Device device, boolean training) {
                NDArray shadow = shadows.get(parameter.getId());
                return shadow != null ? shadow : super.getValue(parameter, device, training);
            }
        };

        LayerIsland(Block inner) {
            super(inner);
        }

        @Override
        protected NDList forwardInternal(ParameterStore store, NDList inputs, boolean training,
                PairList<String, Object> params) {
            if (!(computing || serving) || !active) {
                return inner.forward(store, inputs, training, params);
            }
            return toFloat32(inner.forward(copiesStore, toBfloat16(inputs), training, params));
        }
    }
}
