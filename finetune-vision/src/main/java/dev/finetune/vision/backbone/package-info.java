/**
 * Pretrained backbones: TorchScript files as trainable, named DJL blocks; DJL-built ResNet and
 * MobileNetV2 with named layer groups and checked weight loading; architecture-aware head
 * replacement ({@link dev.finetune.vision.backbone.Heads#auto()}).
 */
package dev.finetune.vision.backbone;
