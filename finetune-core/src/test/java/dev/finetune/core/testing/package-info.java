/**
 * Measuring tools for tests and benchmarks (memory probes), compiled into finetune-testkit (installed
 * for this build, never deployed) so that the benchmarks in
 * finetune-examples can use them; the embeddable library does not contain them.
 */
package dev.finetune.core.testing;
