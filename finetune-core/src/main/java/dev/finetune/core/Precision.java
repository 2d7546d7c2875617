package dev.finetune.core;

/**
 * The number format a fit trains in ({@link FineTuner#optPrecision}).
 *
 * <p>{@link #BF16} is mixed precision in bfloat16: the forward and backward passes of the model's
 * TorchScript modules and weighted layers (convolutions, linear layers) run in bfloat16, while the
 * weights the optimizer updates (the masters), its moments, the loss, the metrics and the
 * normalisation layers' parameters and statistics stay float32. Checkpoints and the fitted model hold
 * the float32 masters; validation measures them in float32. It needs bfloat16 arithmetic in hardware
 * (on a CPU: AVX512_BF16 or AMX; on CUDA: compute capability 8.0 or newer); elsewhere the fit says so
 * once in {@code result.warnings()} and trains in float32.
 *
 * <pre>{@code
 * FineTuner.from(model).replaceHead(12).optPrecision(Precision.BF16)
 *         .stage(Stage.full().epochs(5)).fit(train, validation);
 * }</pre>
 */
public enum Precision {
    /** Float32 throughout (the default). */
    FP32,
    /** Bfloat16 compute with float32 master weights, loss and metrics. */
    BF16
}
