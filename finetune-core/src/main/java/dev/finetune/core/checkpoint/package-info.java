/** Atomic, verified checkpoints of weights with class names, epoch, metric, seed and stage plan. */
package dev.finetune.core.checkpoint;
