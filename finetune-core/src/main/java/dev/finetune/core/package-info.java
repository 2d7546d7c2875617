/** The fine-tuning entry point: {@link dev.finetune.core.FineTuner} wires groups, stages, the loop and checkpoints. */
package dev.finetune.core;
