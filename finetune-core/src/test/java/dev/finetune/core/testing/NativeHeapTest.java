package dev.finetune.core.testing;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** The C-heap probe sees libtorch's allocations come and go, and tells them from the JVM's own. */
class NativeHeapTest {

    private static final long MB = 1 << 20;

    @Test
    void readableUnderTheTestFlags() {
        assertThat(NativeHeap.available()).as(NativeHeap.reason()).isTrue();
        assertThat(NativeHeap.jvmMalloc()).as("native memory tracking on (pom: test.nativeHeapArgs)").isPositive();
    }

    @Test
    void seesLibtorchArraysAllocatedAndFreed() {
        // the first round loads libtorch (about 50 MB of its own) and its kernels; the second is measured
        for (int round = 0; round < 2; round++) {
            NativeHeap.Reading before = NativeHeap.read();
            try (NDManager m = NDManager.newBaseManager()) {
                // one 64 MB array (a mapped chunk) and 200 arrays of 80 KB (arena chunks)
                NDArray big = m.ones(new Shape(16 * MB), DataType.FLOAT32);
                List<NDArray> small = new ArrayList<>();
                for (int i = 0; i < 200; i++) {
                    small.add(m.ones(new Shape(20_000), DataType.FLOAT32));
                }
                NativeHeap.Reading during = NativeHeap.read();
                long expected = big.size() * 4 + 200L * 80_000;
                if (round == 1) {
                    assertThat((double) (during.outsideJvm() - before.outsideJvm()))
                            .isCloseTo(expected, within(0.05 * expected));
                }
            }
            NativeHeap.Reading after = NativeHeap.read();
            if (round == 1) {
                assertThat((double) (after.outsideJvm() - before.outsideJvm())).isCloseTo(0, within(1.0 * MB));
            }
        }
    }

    @Test
    void directBuffersCountAsTheJvmsNotOutside() {
        NativeHeap.Reading before = NativeHeap.read();
        ByteBuffer buffer = ByteBuffer.allocateDirect((int) (32 * MB));
        NativeHeap.Reading during = NativeHeap.read();
        assertThat(buffer.capacity()).isEqualTo(32 * MB);
        assertThat((double) (during.jvm() - before.jvm())).isCloseTo(32 * MB, within(2.0 * MB));
        assertThat((double) (during.outsideJvm() - before.outsideJvm())).isCloseTo(0, within(2.0 * MB));
        assertThat(during.inUse() - before.inUse()).isGreaterThanOrEqualTo(30 * MB);
    }
}
