/**
 * Image transforms for training and evaluation (DJL {@link ai.djl.translate.Transform}s on HWC
 * images) and {@link dev.finetune.vision.transform.ImagePipeline}, which derives a seeded training
 * pipeline and a deterministic evaluation pipeline from one description.
 */
package dev.finetune.vision.transform;
