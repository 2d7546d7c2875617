/**
 * A look at a model's mistakes on an image folder, as fastai's {@code ClassificationInterpretation}:
 * every image's prediction, loss and file ({@link dev.finetune.vision.interpret.Interpretation}), the
 * highest losses first, the pairs of classes most confused, a per-class precision/recall table, a
 * CSV of the mistakes and a PNG contact sheet of them ({@link dev.finetune.vision.interpret.ContactSheet})
 * with true and predicted labels, to find mislabelled or ambiguous images.
 */
package dev.finetune.vision.interpret;
