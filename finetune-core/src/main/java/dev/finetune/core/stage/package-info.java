/** Stages: an immutable strategy + epochs + optimizer + schedule + BatchNorm policy + clipping. */
package dev.finetune.core.stage;
