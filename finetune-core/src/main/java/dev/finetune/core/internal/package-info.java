/**
 * The machinery under {@link dev.finetune.core.FineTuner}: the training loop (per-step memory
 * scopes, device-side metrics, interruption at a step boundary), the plan-following optimizer,
 * BatchNorm control, seeded sampling, data loader threads and re-initialisation. Not an API: these
 * types are public only so that the library's own packages can share them, and may change in any
 * release.
 */
package dev.finetune.core.internal;
