/** Leakage checks: exact and near-duplicate images across dataset splits. */
package dev.finetune.vision.leakage;
