/** The performance benchmarks of issue 5: ratios measured in one run, printed as PASS or SHORT. */
package dev.finetune.examples.bench;
