package dev.finetune.core.internal;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.engine.PtNDManager;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/** Whether bfloat16 can run natively where a model lives, and why not ({@link MixedPrecision}). */
public final class Bf16Support {

    /**
     * {@code -Dfinetune.bf16=auto} (the default: bfloat16 where the hardware computes it natively),
     * {@code force} (bfloat16 wherever libtorch runs it, emulated or not: to check numerics) or
     * {@code off} (float32 always).
     */
    public static final String PROPERTY = "finetune.bf16";

    private Bf16Support() {}

    /**
     * Why bfloat16 cannot run on a manager's device, or null if it can: DJL's PyTorch engine is
     * needed, and bfloat16 arithmetic in hardware (CUDA compute capability 8.0 or newer; a CPU with
     * AVX512_BF16 or AMX, read from {@code /proc/cpuinfo}, and oneDNN not capped below it by
     * {@code DNNL_MAX_CPU_ISA}); {@value #PROPERTY} overrides the check.
     *
     * @param manager the model's manager
     * @return the reason, or null
     */
    public static String unsupported(NDManager manager) {
        if (!(manager instanceof PtNDManager)) {
            return "the model's engine is " + manager.getEngine().getEngineName() + ", not PyTorch";
        }
        String mode = System.getProperty(PROPERTY, "auto").trim().toLowerCase(Locale.ROOT);
        if (mode.equals("off")) {
            return "bfloat16 is switched off (-D" + PROPERTY + "=off)";
        }
        if (mode.equals("force")) {
            return null;
        }
        Device device = manager.getDevice();
        if (device.isGpu()) {
            String capability = ai.djl.util.cuda.CudaUtils.getComputeCapability(device.getDeviceId()); // "86"
            int major = Integer.parseInt(capability) / 10;
            return major >= 8 ? null : "the GPU (compute capability " + capability + ") has no bfloat16 arithmetic;"
                    + " it needs 8.0 (Ampere) or newer";
        }
        String emulated = ", so bfloat16 would be emulated and slower than float32 (-D" + PROPERTY
                + "=force trains in bfloat16 anyway)";
        Path cpuinfo = Path.of("/proc/cpuinfo");
        if (!Files.isReadable(cpuinfo)) {
            return "this CPU's bfloat16 support cannot be read (no /proc/cpuinfo on " + System.getProperty("os.name")
                    + ")" + emulated;
        }
        try {
            String flags = Files.readString(cpuinfo, StandardCharsets.US_ASCII).toLowerCase(Locale.ROOT);
            if (!flags.contains(" avx512_bf16") && !flags.contains(" amx_bf16")) {
                return "this CPU has no bfloat16 arithmetic (neither AVX512_BF16 nor AMX in /proc/cpuinfo)" + emulated;
            }
        } catch (IOException e) {
            return "this CPU's bfloat16 support cannot be read (" + e.getMessage() + ")" + emulated;
        }
        String cap = System.getenv("DNNL_MAX_CPU_ISA");
        if (cap != null && !isaAllowsBfloat16(cap)) {
            return "DNNL_MAX_CPU_ISA=" + cap + " keeps oneDNN from its bfloat16 kernels (set it to AVX512_CORE_BF16 or"
                    + " unset it; docs/design.md says when the cap is needed)" + emulated;
        }
        return null;
    }

    /**
     * Whether a {@code DNNL_MAX_CPU_ISA} cap leaves oneDNN its bfloat16 kernels.
     *
     * @param cap the variable's value
     * @return true for {@code ALL} and the caps from {@code AVX512_CORE_BF16} up
     */
    public static boolean isaAllowsBfloat16(String cap) {
        String c = cap.trim().toUpperCase(Locale.ROOT);
        return c.isEmpty() || c.equals("ALL") || c.equals("DEFAULT") || c.contains("BF16") || c.contains("AMX")
                || c.contains("FP16") || c.startsWith("AVX10");
    }
}
