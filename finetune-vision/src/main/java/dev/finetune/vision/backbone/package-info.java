/** Pretrained backbones: TorchScript files as trainable, named DJL blocks. */
package dev.finetune.vision.backbone;
