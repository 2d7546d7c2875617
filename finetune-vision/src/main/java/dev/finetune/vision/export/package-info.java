/**
 * Export of fine-tuned classifiers as DJL model directories served by Criteria and Predictor, and
 * test-time augmentation ({@link dev.finetune.vision.export.TestTimeAugmentation}): evaluation
 * with probabilities averaged over mirrored and cropped views, carried into an export's predictions.
 */
package dev.finetune.vision.export;
