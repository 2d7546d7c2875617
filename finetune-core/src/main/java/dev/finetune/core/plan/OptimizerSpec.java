package dev.finetune.core.plan;

import java.util.Locale;

/**
 * The optimizer a stage uses and its hyper-parameters (AdamW or SGD with momentum); an immutable
 * value recorded with every checkpoint.
 *
 * @param kind ADAMW or SGD
 * @param beta1 AdamW's first-moment decay
 * @param beta2 AdamW's second-moment decay
 * @param epsilon AdamW's denominator term
 * @param momentum SGD's momentum
 */
public record OptimizerSpec(Kind kind, double beta1, double beta2, double epsilon, double momentum) {

    /** The optimizer families. */
    public enum Kind {
        /** Adam with decoupled weight decay. */
        ADAMW,
        /** Stochastic gradient descent with momentum. */
        SGD
    }

    /**
     * Validates the values.
     *
     * @param kind ADAMW or SGD
     * @param beta1 AdamW's first-moment decay
     * @param beta2 AdamW's second-moment decay
     * @param epsilon AdamW's denominator term
     * @param momentum SGD's momentum
     */
    public OptimizerSpec {
        if (kind == null) {
            throw new IllegalArgumentException("optimizer kind is required");
        }
        // name the bad values themselves: the record's fields are not assigned yet here
        java.util.List<String> bad = new java.util.ArrayList<>();
        if (!(beta1 >= 0 && beta1 < 1)) {
            bad.add("beta1=" + beta1);
        }
        if (!(beta2 >= 0 && beta2 < 1)) {
            bad.add("beta2=" + beta2);
        }
        if (!(epsilon > 0)) {
            bad.add("epsilon=" + epsilon);
        }
        if (!(momentum >= 0 && momentum < 1)) {
            bad.add("momentum=" + momentum);
        }
        if (!bad.isEmpty()) {
            throw new IllegalArgumentException("Optimizer settings out of range (" + String.join(", ", bad) + ", "
                    + kind + "): betas and momentum must lie in [0, 1) and epsilon above 0.");
        }
    }

    /**
     * AdamW with betas (0.9, 0.999) and epsilon 1e-8.
     *
     * @return the spec
     */
    public static OptimizerSpec adamW() {
        return new OptimizerSpec(Kind.ADAMW, 0.9, 0.999, 1e-8, 0);
    }

    /**
     * SGD with the given momentum.
     *
     * @param momentum e.g. 0.9
     * @return the spec
     */
    public static OptimizerSpec sgd(double momentum) {
        return new OptimizerSpec(Kind.SGD, 0.9, 0.999, 1e-8, momentum);
    }

    /** @return a short description */
    public String describe() {
        return kind == Kind.ADAMW
                ? String.format(Locale.ROOT, "adamw(b1=%s,b2=%s,eps=%s)", beta1, beta2, epsilon)
                : String.format(Locale.ROOT, "sgd(momentum=%s)", momentum);
    }
}
