/**
 * Image geometry and colour shared by training, evaluation and serving: {@link
 * dev.finetune.vision.image.ResizeMode} and {@link dev.finetune.vision.image.Framing} (an image of
 * any size to exactly width x height), {@link dev.finetune.vision.image.Backdrop} (transparent
 * images composited over a stated background colour), {@link dev.finetune.vision.image.ExactPixels}
 * (decoded samples of any bit depth as their exact 8-bit values, without a colour-space
 * conversion) and {@link dev.finetune.vision.image.Normalization}. The transform, data and export
 * packages all use these classes, so a served model sees exactly what evaluation saw.
 */
package dev.finetune.vision.image;
