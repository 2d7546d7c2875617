/** Runnable programs: the main job and, later, benchmarks. No library logic lives here. */
package dev.finetune.examples;
