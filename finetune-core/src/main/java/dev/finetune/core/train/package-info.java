/** The training loop: per-step memory scopes, device-side metrics, BatchNorm control. */
package dev.finetune.core.train;
