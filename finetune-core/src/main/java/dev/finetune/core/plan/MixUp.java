package dev.finetune.core.plan;

import java.util.Locale;

/**
 * Batch-level MixUp and CutMix, as timm's {@code Mixup} in its default batch mode: with probability
 * {@code probability} a training batch is mixed with itself reversed ({@code x.flip(0)}), by MixUp
 * ({@code lam x + (1 - lam) x.flip(0)}) or, with probability {@code switchProbability} when both are
 * on, by CutMix (a box of the reversed batch pasted into every image, as timm's {@code rand_bbox},
 * {@code lam} corrected to the share of the image left uncovered); {@code lam} is drawn from
 * {@code Beta(alpha, alpha)} of the method used. The labels become the same mix of one-hot targets,
 * {@code lam y + (1 - lam) y.flip(0)}, smoothed by the loss's label smoothing if set.
 *
 * <p>Draws are seeded by the fit's seed, the epoch and the batch, so runs repeat and a resumed run
 * replays them. A setting of a {@link dev.finetune.core.stage.Stage} ({@code withMixUp}), off by
 * default (often off for a head-only warm-up and on for the stages that tune the backbone).
 * Immutable.
 *
 * <pre>{@code
 * Stage.full().withMixUp(MixUp.of(0.2));                  // MixUp only
 * Stage.full().withMixUp(MixUp.builder().optMixUpAlpha(0.8).optCutMixAlpha(1.0).build()); // timm's recipe
 * }</pre>
 */
public final class MixUp {

    private static final MixUp NONE = new MixUp(0, 0, 1, 0.5);

    private final double mixUpAlpha;
    private final double cutMixAlpha;
    private final double probability;
    private final double switchProbability;

    private MixUp(double mixUpAlpha, double cutMixAlpha, double probability, double switchProbability) {
        this.mixUpAlpha = mixUpAlpha;
        this.cutMixAlpha = cutMixAlpha;
        this.probability = probability;
        this.switchProbability = switchProbability;
    }

    /** @return no mixing (a stage's default) */
    public static MixUp none() {
        return NONE;
    }

    /**
     * MixUp alone on every batch.
     *
     * @param alpha the Beta distribution's parameter, positive (0.2 to 0.4 usual; 1 is uniform)
     * @return the setting
     */
    public static MixUp of(double alpha) {
        return builder().optMixUpAlpha(alpha).build();
    }

    /**
     * CutMix alone on every batch (image batches of shape (N, C, H, W) only).
     *
     * @param alpha the Beta distribution's parameter, positive (1 usual)
     * @return the setting
     */
    public static MixUp cutMix(double alpha) {
        return builder().optCutMixAlpha(alpha).build();
    }

    /** @return a builder: set at least one alpha */
    public static Builder builder() {
        return new Builder();
    }

    /** Builds a {@link MixUp}. */
    public static final class Builder {
        private double mixUpAlpha;
        private double cutMixAlpha;
        private double probability = 1;
        private double switchProbability = 0.5;

        private Builder() {}

        /**
         * @param alpha MixUp's Beta parameter, 0 (default) for no MixUp
         * @return this
         */
        public Builder optMixUpAlpha(double alpha) {
            mixUpAlpha = alpha;
            return this;
        }

        /**
         * @param alpha CutMix's Beta parameter, 0 (default) for no CutMix
         * @return this
         */
        public Builder optCutMixAlpha(double alpha) {
            cutMixAlpha = alpha;
            return this;
        }

        /**
         * @param p the probability that a batch is mixed at all (default 1)
         * @return this
         */
        public Builder optProbability(double p) {
            probability = p;
            return this;
        }

        /**
         * @param p the probability of CutMix rather than MixUp when both are on (default 0.5)
         * @return this
         */
        public Builder optSwitchProbability(double p) {
            switchProbability = p;
            return this;
        }

        /**
         * @return the setting
         * @throws IllegalArgumentException if an alpha is negative or not finite, both are 0, or a
         *     probability lies outside [0, 1]
         */
        public MixUp build() {
            if (!(mixUpAlpha >= 0) || Double.isInfinite(mixUpAlpha) || !(cutMixAlpha >= 0)
                    || Double.isInfinite(cutMixAlpha)) {
                throw new IllegalArgumentException("MixUp and CutMix alphas must be finite and >= 0 (0 turns one"
                        + " off), got mixup " + mixUpAlpha + ", cutmix " + cutMixAlpha + ".");
            }
            if (mixUpAlpha == 0 && cutMixAlpha == 0) {
                throw new IllegalArgumentException("Set optMixUpAlpha or optCutMixAlpha above 0 (e.g. 0.2 or 1.0); for a"
                        + " stage without mixing use MixUp.none().");
            }
            if (!(probability >= 0 && probability <= 1) || !(switchProbability >= 0 && switchProbability <= 1)) {
                throw new IllegalArgumentException("MixUp probabilities must lie in [0, 1], got probability "
                        + probability + ", switch probability " + switchProbability + ".");
            }
            return new MixUp(mixUpAlpha, cutMixAlpha, probability, switchProbability);
        }
    }

    /** @return whether batches are mixed at all */
    public boolean enabled() {
        return mixUpAlpha > 0 || cutMixAlpha > 0;
    }

    /** @return MixUp's Beta parameter, 0 when MixUp is off */
    public double mixUpAlpha() {
        return mixUpAlpha;
    }

    /** @return CutMix's Beta parameter, 0 when CutMix is off */
    public double cutMixAlpha() {
        return cutMixAlpha;
    }

    /** @return the probability that a batch is mixed */
    public double probability() {
        return probability;
    }

    /** @return the probability of CutMix rather than MixUp when both are on */
    public double switchProbability() {
        return switchProbability;
    }

    /** @return "none", or e.g. "mixup(alpha=0.2)" or "mixup(alpha=0.8)+cutmix(alpha=1.0) p=1.0 switch=0.5" */
    public String describe() {
        if (!enabled()) {
            return "none";
        }
        StringBuilder sb = new StringBuilder();
        if (mixUpAlpha > 0) {
            sb.append(String.format(Locale.ROOT, "mixup(alpha=%s)", mixUpAlpha));
        }
        if (cutMixAlpha > 0) {
            sb.append(sb.length() > 0 ? "+" : "").append(String.format(Locale.ROOT, "cutmix(alpha=%s)", cutMixAlpha));
        }
        if (probability != 1) {
            sb.append(String.format(Locale.ROOT, " p=%s", probability));
        }
        if (mixUpAlpha > 0 && cutMixAlpha > 0) {
            sb.append(String.format(Locale.ROOT, " switch=%s", switchProbability));
        }
        return sb.toString();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof MixUp m && m.mixUpAlpha == mixUpAlpha && m.cutMixAlpha == cutMixAlpha
                && m.probability == probability && m.switchProbability == switchProbability;
    }

    @Override
    public int hashCode() {
        return java.util.Objects.hash(mixUpAlpha, cutMixAlpha, probability, switchProbability);
    }

    @Override
    public String toString() {
        return describe();
    }
}
