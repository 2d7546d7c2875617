/**
 * The training loop: per-step memory scopes, device-side metrics, BatchNorm control, data loader
 * threads and stopping at a step boundary on interrupt.
 */
package dev.finetune.core.train;
