/** Training losses the practice needs beyond DJL's: class-weighted cross-entropy, class counts. */
package dev.finetune.core.loss;
