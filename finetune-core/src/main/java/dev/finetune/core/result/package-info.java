/** Results in plain numbers: per-epoch metrics, confusion matrices, the fine-tune result. */
package dev.finetune.core.result;
