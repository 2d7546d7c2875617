/** Export of fine-tuned classifiers as DJL model directories served by Criteria and Predictor. */
package dev.finetune.vision.export;
