/**
 * One call that fine-tunes a TorchScript backbone on an image folder: {@link dev.finetune.vision.auto.AutoFineTune}
 * chooses between a linear classifier on the frozen features and fine-tuning, finds the rate, stops
 * early and says what it chose and why.
 */
package dev.finetune.vision.auto;
