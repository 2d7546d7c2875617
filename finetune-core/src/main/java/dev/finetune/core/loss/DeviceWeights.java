package dev.finetune.core.loss;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;

import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.Map;
import java.util.WeakHashMap;

/**
 * Class weights as an array on each model's device, created once per model and weights: copying
 * them to the device at every step would be a host to device transfer per step, and one copy per
 * loss object would add an array to the model's manager with every fit.
 */
final class DeviceWeights {

    /** Per model manager (weakly), the weights by their values; the arrays are freed with the model. */
    private static final Map<NDManager, Map<String, NDArray>> ON_DEVICE =
            Collections.synchronizedMap(new WeakHashMap<>());

    private final float[] weights;
    private final String key;

    DeviceWeights(float[] weights) {
        this.weights = weights;
        this.key = Arrays.toString(weights);
    }

    /**
     * The weights in the outermost manager below DJL's system manager that holds {@code like} (the
     * model's manager when {@code like} lives in a step's sub-manager).
     */
    NDArray like(NDArray like) {
        NDManager owner = like.getManager();
        while (owner.getParentManager() != null && owner.getParentManager().getParentManager() != null) {
            owner = owner.getParentManager();
        }
        synchronized (ON_DEVICE) {
            ON_DEVICE.keySet().removeIf(m -> !m.isOpen()); // the arrays hold their manager: the map would keep it
            Map<String, NDArray> byValues = ON_DEVICE.computeIfAbsent(owner, m -> new HashMap<>());
            NDArray w = byValues.get(key);
            if (w == null || w.isReleased()) {
                w = owner.create(weights);
                byValues.put(key, w);
            }
            return w;
        }
    }
}
