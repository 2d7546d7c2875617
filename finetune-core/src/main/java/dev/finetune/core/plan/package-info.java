/**
 * What one epoch trains, resolved: {@link dev.finetune.core.plan.EpochPlan} (each trainable
 * parameter's rate and decay, the optimizer, the schedule, clipping and the BatchNorm mode) and the
 * settings it is made of ({@link dev.finetune.core.plan.OptimizerSpec},
 * {@link dev.finetune.core.plan.Schedule}, {@link dev.finetune.core.plan.BatchNormPolicy}). The
 * training loop and the optimizer take an {@code EpochPlan} and know nothing of stages or strategies.
 */
package dev.finetune.core.plan;
