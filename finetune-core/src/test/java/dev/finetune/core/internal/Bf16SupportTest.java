package dev.finetune.core.internal;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDManager;

import org.junit.jupiter.api.Test;

/** Where the library trains in bfloat16 and what it says when it does not. */
class Bf16SupportTest {

    @Test
    void oneDnnCapsBelowAvx512Bf16LeaveNoBfloat16Kernels() {
        for (String cap : new String[] {"AVX2", "avx2", "AVX512_CORE", "AVX512_CORE_VNNI", "SSE41", "AVX"}) {
            assertThat(Bf16Support.isaAllowsBfloat16(cap)).as(cap).isFalse();
        }
        for (String cap : new String[] {"AVX512_CORE_BF16", "AVX512_CORE_FP16", "AVX512_CORE_AMX", "AVX10_1_512_AMX",
            "ALL", ""}) {
            assertThat(Bf16Support.isaAllowsBfloat16(cap)).as(cap).isTrue();
        }
    }

    @Test
    void thePropertySwitchesTheCheckOffOrOverridesIt() {
        try (NDManager m = NDManager.newBaseManager("PyTorch")) {
            System.setProperty(Bf16Support.PROPERTY, "off");
            assertThat(Bf16Support.unsupported(m)).contains("switched off").contains("-Dfinetune.bf16=off");
            System.setProperty(Bf16Support.PROPERTY, "force");
            assertThat(Bf16Support.unsupported(m)).isNull();
            System.clearProperty(Bf16Support.PROPERTY);
            // the test JVMs cap oneDNN at AVX2 (pom.xml): auto says why it would be emulated
            String reason = Bf16Support.unsupported(m);
            if (System.getenv("DNNL_MAX_CPU_ISA") != null && !Bf16Support.isaAllowsBfloat16(System.getenv("DNNL_MAX_CPU_ISA"))) {
                assertThat(reason).contains("DNNL_MAX_CPU_ISA=").contains("emulated");
            }
        } finally {
            System.clearProperty(Bf16Support.PROPERTY);
        }
    }
}
