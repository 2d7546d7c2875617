package dev.finetune.core.internal;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Parameter;
import dev.finetune.core.plan.EpochPlan;
import dev.finetune.core.plan.OptimizerSpec;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * An optimizer (AdamW or SGD with momentum) that follows an {@link EpochPlan}: each parameter
 * gets its own learning rate and weight decay, state exists only for parameters that have been
 * trainable, and Adam's bias correction counts each parameter's own steps, so a group unfrozen late
 * starts with fresh moments and a correction for t = 1. Updates run as one fused native call per
 * parameter; nothing is read back to the host.
 *
 * <p>Owns native memory (the moments): close it, or use try-with-resources.
 */
public final class PlanOptimizer implements AutoCloseable {

    private final OptimizerSpec spec;
    private final NDManager stateManager;
    private final Map<String, State> states = new HashMap<>();

    private static final class State {
        final NDArray first;
        final NDArray second;
        long steps;

        State(NDArray first, NDArray second) {
            this.first = first;
            this.second = second;
        }
    }

    /**
     * Creates an optimizer whose state lives in a sub-manager of {@code manager}.
     *
     * @param spec the optimizer kind and hyper-parameters
     * @param manager a manager on the parameters' device
     */
    public PlanOptimizer(OptimizerSpec spec, NDManager manager) {
        this.spec = spec;
        this.stateManager = manager.newSubManager();
    }

    /**
     * Applies one update to every trainable parameter of the plan, using the gradients left by the
     * last backward pass, and zeroes those gradients.
     *
     * @param plan what trains, at which rate, with which decay, clipped to which norm
     * @param scheduleFactor the schedule's factor for this step, multiplied into every rate
     * @param stepManager the manager of this step; gradient views and temporaries go there
     * @return the global gradient norm before clipping, on the device (not read back); null when the
     *     plan does not clip (no norm computed)
     */
    public NDArray step(EpochPlan plan, double scheduleFactor, NDManager stepManager) {
        return step(plan, scheduleFactor, stepManager, 1);
    }

    /**
     * Applies one update from gradients scaled by {@code gradientScale} first (in place, before
     * clipping): gradients accumulated over several batches, each batch's loss weighted by its sample
     * count, become their mean with {@code 1 / samples}.
     *
     * @param plan what trains, at which rate, with which decay, clipped to which norm
     * @param scheduleFactor the schedule's factor for this step, multiplied into every rate
     * @param stepManager the manager of this step; gradient views and temporaries go there
     * @param gradientScale the factor applied to every gradient before clipping and the update (1: none)
     * @return the global gradient norm before clipping (after the scaling), or null when not clipping
     */
    public NDArray step(EpochPlan plan, double scheduleFactor, NDManager stepManager, double gradientScale) {
        return step(plan, scheduleFactor, stepManager, gradientScale, (p, m) -> {
            NDArray grad = p.getArray().getGradient();
            grad.attach(m);
            return grad;
        });
    }

    /**
     * As {@link #step(EpochPlan, double, NDManager, double)}, reading each parameter's gradient from
     * a source (bfloat16 training gives its copies' gradients, cast to float32).
     *
     * @param plan what trains, at which rate, with which decay, clipped to which norm
     * @param scheduleFactor the schedule's factor for this step, multiplied into every rate
     * @param stepManager the manager of this step; gradient views and temporaries go there
     * @param gradientScale the factor applied to every gradient before clipping and the update (1: none)
     * @param gradients each parameter's gradient, in the step's manager, as float32
     * @return the global gradient norm before clipping (after the scaling), or null when not clipping
     */
    public NDArray step(EpochPlan plan, double scheduleFactor, NDManager stepManager, double gradientScale,
            java.util.function.BiFunction<ai.djl.nn.Parameter, NDManager, NDArray> gradients) {
        double clipNorm = plan.clipNorm();
        List<EpochPlan.Trainable> entries = plan.trainable();
        List<NDArray> grads = new ArrayList<>(entries.size());
        for (EpochPlan.Trainable e : entries) {
            NDArray grad = gradients.apply(e.parameter(), stepManager);
            if (gradientScale != 1) {
                grad.muli((float) gradientScale);
            }
            grads.add(grad);
        }
        // the norm costs two kernels per parameter: only when clipping
        NDArray norm = clipNorm > 0 ? GradientClipping.clipByGlobalNorm(grads, clipNorm, stepManager) : null;
        for (int i = 0; i < entries.size(); i++) {
            EpochPlan.Trainable e = entries.get(i);
            NDArray weight = e.parameter().getArray();
            State state = states.computeIfAbsent(e.parameter().getId(), id -> newState(weight));
            state.steps++;
            float lr = (float) (e.learningRate() * scheduleFactor);
            float wd = (float) e.weightDecay();
            if (spec.kind() == OptimizerSpec.Kind.ADAMW) {
                double correction1 = 1 - Math.pow(spec.beta1(), state.steps);
                double correction2 = 1 - Math.pow(spec.beta2(), state.steps);
                float lrCorrected = (float) (lr * Math.sqrt(correction2) / correction1);
                weight.getNDArrayInternal()
                        .adamUpdate(
                                new NDList(weight, grads.get(i), state.first, state.second),
                                new NDList(weight),
                                lr,
                                lrCorrected,
                                wd,
                                1f,
                                -1f,
                                (float) spec.beta1(),
                                (float) spec.beta2(),
                                (float) spec.epsilon(),
                                false,
                                true);
            } else {
                weight.getNDArrayInternal()
                        .sgdUpdate(
                                new NDList(weight, grads.get(i), state.first),
                                new NDList(weight),
                                lr,
                                wd,
                                1f,
                                -1f,
                                (float) spec.momentum(),
                                false);
            }
        }
        return norm;
    }

    private State newState(NDArray weight) {
        NDArray first = stateManager.zeros(weight.getShape(), weight.getDataType(), weight.getDevice());
        NDArray second = spec.kind() == OptimizerSpec.Kind.ADAMW
                ? stateManager.zeros(weight.getShape(), weight.getDataType(), weight.getDevice())
                : null;
        return new State(first, second);
    }

    /** @return the number of parameters that hold optimizer state */
    public int stateCount() {
        return states.size();
    }

    /**
     * The number of updates a parameter has received from this optimizer.
     *
     * @param parameter the parameter
     * @return 0 if it never trained here
     */
    public long stepsOf(Parameter parameter) {
        State s = states.get(parameter.getId());
        return s == null ? 0 : s.steps;
    }

    /**
     * Drops the state of parameters the plan no longer trains, freeing their memory.
     *
     * @param plan the current plan
     */
    public void retainOnly(EpochPlan plan) {
        Map<String, Boolean> keep = new HashMap<>();
        for (EpochPlan.Trainable e : plan.trainable()) {
            keep.put(e.parameter().getId(), Boolean.TRUE);
        }
        states.entrySet().removeIf(entry -> {
            if (keep.containsKey(entry.getKey())) {
                return false;
            }
            entry.getValue().first.close();
            if (entry.getValue().second != null) {
                entry.getValue().second.close();
            }
            return true;
        });
    }

    /**
     * The optimizer's state by parameter name, for a checkpoint that resumes exactly: names and
     * step counts in order, and the moment arrays (first, then second for AdamW) encoded as one
     * DJL {@link NDList}.
     *
     * @param named the model's parameters with their names
     * @return the state
     */
    public SavedState export(ai.djl.util.PairList<String, ai.djl.nn.Parameter> named) {
        List<String> names = new ArrayList<>();
        List<Long> steps = new ArrayList<>();
        NDList arrays = new NDList();
        for (ai.djl.util.Pair<String, ai.djl.nn.Parameter> p : named) {
            State st = states.get(p.getValue().getId());
            if (st != null) {
                names.add(p.getKey());
                steps.add(st.steps);
                arrays.add(st.first);
                if (st.second != null) {
                    arrays.add(st.second);
                }
            }
        }
        return new SavedState(names, steps, arrays.isEmpty() ? new byte[0] : arrays.encode());
    }

    /**
     * Restores state written by {@link #export}, matching parameters by name.
     *
     * @param saved the state
     * @param named the model's parameters with their names
     * @throws IllegalArgumentException if a saved name is not a parameter of the model
     */
    public void restore(SavedState saved, ai.djl.util.PairList<String, ai.djl.nn.Parameter> named) {
        if (saved.names().isEmpty()) {
            return;
        }
        NDList arrays = NDList.decode(stateManager, saved.arrays());
        int k = 0;
        for (int i = 0; i < saved.names().size(); i++) {
            ai.djl.nn.Parameter param = named.get(saved.names().get(i));
            if (param == null) {
                throw new IllegalArgumentException("Optimizer state names parameter '" + saved.names().get(i)
                        + "', which the model does not have.");
            }
            NDArray first = arrays.get(k++).toDevice(param.getArray().getDevice(), false);
            NDArray second = spec.kind() == OptimizerSpec.Kind.ADAMW
                    ? arrays.get(k++).toDevice(param.getArray().getDevice(), false)
                    : null;
            first.attach(stateManager);
            if (second != null) {
                second.attach(stateManager);
            }
            State st = new State(first, second);
            st.steps = saved.steps().get(i);
            State old = states.put(param.getId(), st);
            if (old != null) {
                old.first.close();
                if (old.second != null) {
                    old.second.close();
                }
            }
        }
    }

    /**
     * Optimizer state in a portable form.
     *
     * @param names parameter names, in order
     * @param steps their update counts
     * @param arrays the encoded moment arrays
     */
    public record SavedState(List<String> names, List<Long> steps, byte[] arrays) {}

    /** Drops all state, as if no step had been taken. */
    public void reset() {
        for (State st : states.values()) {
            st.first.close();
            if (st.second != null) {
                st.second.close();
            }
        }
        states.clear();
    }

    /** @return the optimizer's settings */
    public OptimizerSpec spec() {
        return spec;
    }

    @Override
    public void close() {
        states.clear();
        stateManager.close();
    }
}
