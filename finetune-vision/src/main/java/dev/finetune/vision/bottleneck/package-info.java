/** The small-data path: linear classifiers (logistic regression, linear SVM) on bottleneck features, with cross-validated regularisation. */
package dev.finetune.vision.bottleneck;
