/**
 * Listeners a fine-tune commonly adds: {@link dev.finetune.core.listeners.EarlyStopping} (patience on
 * a validation metric) and {@link dev.finetune.core.listeners.LearningRateFinder} (a seeded rate
 * search before a stage).
 */
package dev.finetune.core.listeners;
