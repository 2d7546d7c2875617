package dev.finetune.core.internal;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Parameter;
import ai.djl.util.Pair;
import ai.djl.util.PairList;
import dev.finetune.core.groups.LayerGroup;
import dev.finetune.core.plan.EpochPlan;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * An exponential moving average of a model's weights, updated on the device after every optimizer
 * step: {@code avg -= (1 - d_t) (avg - w)} with {@code d_t = min(decay, (1 + t) / (10 + t))}, where
 * {@code t} counts the updates before this one (a warm-up: the average follows the weights closely
 * at first).
 *
 * <p>It averages every parameter that can change: those the plans have trained, and the BatchNorm
 * running statistics while a plan updates them. A parameter enters the average, as a copy of its
 * value, at the first epoch that can change it; until then it has kept its value, and so would an
 * average of it, so this equals an average of the whole model started at the fit's start (and
 * parameters never trained cost no memory). Once in, a parameter is averaged at every step.
 *
 * <p>The averages live in a sub-manager of the model's manager: close this to free them.
 */
public final class WeightAverage implements AutoCloseable {

    private final double decay;
    private final NDManager arrays;
    /** By parameter id, in the order they entered. */
    private final Map<String, Entry> entries = new LinkedHashMap<>();
    private long updates;
    private boolean closed;

    private static final class Entry {
        final Parameter parameter;
        final NDArray average;

        Entry(Parameter parameter, NDArray average) {
            this.parameter = parameter;
            this.average = average;
        }
    }

    /**
     * @param decay the decay per step, in (0, 1)
     * @param manager the model's manager (the averages go in a sub-manager of it)
     */
    public WeightAverage(double decay, NDManager manager) {
        this.decay = checkDecay(decay);
        this.arrays = manager.newSubManager();
    }

    /**
     * Checks a decay.
     *
     * @param decay the decay
     * @return it, when in (0, 1)
     * @throws IllegalArgumentException otherwise
     */
    public static double checkDecay(double decay) {
        if (!(decay > 0 && decay < 1)) {
            throw new IllegalArgumentException("The EMA decay must lie in (0, 1) (0.999 to 0.9999 are usual: about"
                    + " 1000 to 10000 steps of memory), got " + decay + ".");
        }
        return decay;
    }

    /**
     * The decay of an update.
     *
     * @param decay the configured decay
     * @param t the number of updates before this one
     * @return {@code min(decay, (1 + t) / (10 + t))}
     */
    public static double decayAt(double decay, long t) {
        return Math.min(decay, (1.0 + t) / (10.0 + t));
    }

    /** @return the configured decay */
    public double decay() {
        return decay;
    }

    /** @return the updates so far */
    public long updates() {
        return updates;
    }

    /**
     * Starts averaging the parameters an epoch can change that are not averaged yet: the plan's
     * trainable parameters and, when the plan updates BatchNorm statistics, every running statistic.
     *
     * @param plan the epoch's plan
     * @param parameters the model's parameters
     */
    public void track(EpochPlan plan, PairList<String, Parameter> parameters) {
        for (EpochPlan.Trainable t : plan.trainable()) {
            enter(t.parameter());
        }
        if (!plan.keepsBatchNormStatistics()) {
            for (Pair<String, Parameter> p : parameters) {
                if (!LayerGroup.isLearnable(p.getValue()) && p.getValue().isInitialized()) {
                    enter(p.getValue());
                }
            }
        }
    }

    private void enter(Parameter parameter) {
        entries.computeIfAbsent(parameter.getId(), id -> new Entry(parameter, copy(parameter.getArray())));
    }

    private NDArray copy(NDArray value) {
        NDArray copy = value.duplicate();
        copy.attach(arrays);
        return copy;
    }

    /** @return the parameters averaged so far */
    public Set<Parameter> tracked() {
        Set<Parameter> out = Collections.newSetFromMap(new IdentityHashMap<>());
        for (Entry e : entries.values()) {
            out.add(e.parameter);
        }
        return out;
    }

    /**
     * Restarts the average of parameters that were given new values (re-initialised layers) at
     * their current values.
     *
     * @param parameters the parameters
     */
    public void restart(Collection<Parameter> parameters) {
        for (Parameter p : parameters) {
            Entry e = entries.get(p.getId());
            if (e != null) {
                p.getArray().copyTo(e.average);
            }
        }
    }

    /**
     * Moves every average towards its parameter's value: one update, after an optimizer step.
     *
     * @param step the step's manager, for temporaries
     */
    public void update(NDManager step) {
        float rate = (float) (1 - decayAt(decay, updates));
        for (Entry e : entries.values()) {
            NDArray difference = e.average.sub(e.parameter.getArray());
            difference.attach(step);
            e.average.subi(difference.muli(rate));
        }
        updates++;
    }

    /**
     * Puts the averages into the parameters until the returned handle is closed, which puts the
     * parameters' own values back (the arrays keep their identity).
     *
     * @return the handle
     */
    public Swap swapIn() {
        NDManager kept = arrays.newSubManager();
        List<NDArray[]> pairs = new ArrayList<>();
        try {
            for (Entry e : entries.values()) {
                NDArray live = e.parameter.getArray();
                NDArray own = live.duplicate();
                own.attach(kept);
                e.average.copyTo(live);
                pairs.add(new NDArray[] {live, own});
            }
        } catch (RuntimeException | Error failure) {
            for (NDArray[] pair : pairs) {
                pair[1].copyTo(pair[0]);
            }
            kept.close();
            throw failure;
        }
        return new Swap(pairs, kept);
    }

    /** Puts the averages into the parameters for good (the model ends as the average). */
    public void copyInto() {
        for (Entry e : entries.values()) {
            e.average.copyTo(e.parameter.getArray());
        }
    }

    /** The parameters' own values, kept while the averages are in their place. */
    public static final class Swap implements AutoCloseable {
        private final List<NDArray[]> pairs;
        private final NDManager kept;

        private Swap(List<NDArray[]> pairs, NDManager kept) {
            this.pairs = pairs;
            this.kept = kept;
        }

        /** Puts the parameters' own values back. */
        @Override
        public void close() {
            try {
                for (NDArray[] pair : pairs) {
                    pair[1].copyTo(pair[0]);
                }
            } finally {
                kept.close();
            }
        }
    }

    /**
     * The average in a portable form.
     *
     * @param decay the configured decay
     * @param updates the updates so far
     * @param names the averaged parameters' names, in order
     * @param arrays their averages, encoded as one DJL {@link NDList}
     */
    public record SavedState(double decay, long updates, List<String> names, byte[] arrays) {
        /**
         * Copies the names.
         *
         * @param decay the configured decay
         * @param updates the updates so far
         * @param names the averaged parameters' names
         * @param arrays their averages, encoded
         */
        public SavedState {
            names = List.copyOf(names);
        }
    }

    /**
     * The average by parameter name, for a checkpoint that resumes exactly.
     *
     * @param named the model's parameters with their names
     * @return the state
     */
    public SavedState export(PairList<String, Parameter> named) {
        List<String> names = new ArrayList<>();
        NDList values = new NDList();
        for (Pair<String, Parameter> p : named) {
            Entry e = entries.get(p.getValue().getId());
            if (e != null) {
                names.add(p.getKey());
                values.add(e.average);
            }
        }
        return new SavedState(decay, updates, names, values.isEmpty() ? new byte[0] : values.encode());
    }

    /**
     * Replaces the average with one written by {@link #export}, matching parameters by name.
     *
     * @param saved the state
     * @param named the model's parameters with their names
     * @throws IllegalArgumentException if a saved name is not a parameter of the model, or the shapes differ
     */
    public void restore(SavedState saved, PairList<String, Parameter> named) {
        if (closed) {
            return; // the fit has ended: a snapshot restored later puts back the weights alone
        }
        Map<String, Entry> restored = new LinkedHashMap<>();
        if (!saved.names().isEmpty()) {
            NDList values = NDList.decode(arrays, saved.arrays());
            for (int i = 0; i < saved.names().size(); i++) {
                Parameter p = named.get(saved.names().get(i));
                NDArray value = values.get(i);
                if (p == null || !p.isInitialized() || !p.getArray().getShape().equals(value.getShape())) {
                    values.close();
                    throw new IllegalArgumentException("The saved weight average names parameter '"
                            + saved.names().get(i) + "' " + value.getShape() + ", which the model does not have.");
                }
                NDArray onDevice = value.toDevice(p.getArray().getDevice(), false);
                if (onDevice != value) {
                    onDevice.attach(arrays);
                    value.close();
                }
                restored.put(p.getId(), new Entry(p, onDevice));
            }
        }
        for (Entry e : entries.values()) {
            e.average.close();
        }
        entries.clear();
        entries.putAll(restored);
        updates = saved.updates();
    }

    @Override
    public void close() {
        closed = true;
        entries.clear();
        arrays.close();
    }
}
