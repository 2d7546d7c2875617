/** Head replacement: a fresh classifier for the target classes, after the pretrained weights are loaded. */
package dev.finetune.core.head;
