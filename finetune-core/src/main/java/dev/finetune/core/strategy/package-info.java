/** Strategies (head-only, partial, full, discriminative, gradual) and the per-parameter plan they produce. */
package dev.finetune.core.strategy;
