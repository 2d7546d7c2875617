/**
 * Measuring tools for tests and benchmarks (memory probes), published in the core's test-jar
 * ({@code dev.finetune:finetune-core}, type {@code test-jar}) so that the benchmarks in
 * finetune-examples can use them; the embeddable library does not contain them.
 */
package dev.finetune.core.testing;
