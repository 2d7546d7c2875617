/**
 * Outputs of a frozen part of a model computed once: the bottleneck features of the backbone for
 * head-only stages and linear classifiers, in memory or in a memory-mapped file.
 */
package dev.finetune.core.features;
