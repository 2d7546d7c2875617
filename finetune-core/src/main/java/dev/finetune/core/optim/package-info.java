/** The plan-following optimizer (per-parameter rate, decay and state) and global-norm clipping. */
package dev.finetune.core.optim;
