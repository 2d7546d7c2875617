/**
 * The quality benchmark's pieces (issue 12, point 6): the plain-DJL baseline that the library is compared
 * with, on the real embedding {@code models/mobilenetv2-nsfwjs-embedding.pt} and the real image sets made by
 * {@code benchmarks/quality-data/prepare.sh}.
 */
package dev.finetune.examples.quality;
