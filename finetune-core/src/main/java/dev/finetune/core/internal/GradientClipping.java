package dev.finetune.core.internal;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;

import java.util.List;

/**
 * Clipping by global norm, as {@code torch.nn.utils.clip_grad_norm_}: all gradients are scaled by
 * {@code min(1, maxNorm / (norm + 1e-6))}, keeping their direction. DJL's own {@code optClipGrad}
 * clamps each value from above only, which is not this. Runs on the device with no host read.
 */
public final class GradientClipping {

    private GradientClipping() {}

    /**
     * Computes the global L2 norm of the gradients and, when {@code maxNorm > 0}, scales them in
     * place so that the norm is at most {@code maxNorm}.
     *
     * @param grads the gradients (views of the parameters' gradients)
     * @param maxNorm the bound; 0 or less computes the norm only
     * @param manager where temporaries live
     * @return the norm before clipping, a scalar on the device
     */
    public static NDArray clipByGlobalNorm(List<NDArray> grads, double maxNorm, NDManager manager) {
        if (grads.isEmpty()) {
            return manager.create(0f);
        }
        NDList squares = new NDList(grads.size());
        for (NDArray g : grads) {
            squares.add(g.square().sum());
        }
        NDArray norm = NDArrays.stack(squares).sum().sqrt();
        norm.attach(manager);
        if (maxNorm > 0) {
            NDArray scale = norm.add(1e-6f).pow(-1).mul((float) maxNorm).minimum(1f);
            for (NDArray g : grads) {
                g.muli(scale);
            }
        }
        return norm;
    }
}
