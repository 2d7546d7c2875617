/** Advice in words: freeze-or-tune from data size and source-target distance, diagnosis of a run's history. */
package dev.finetune.core.advice;
