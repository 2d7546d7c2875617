package dev.finetune.core.testing;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodType;
import java.lang.management.ManagementFactory;
import java.lang.reflect.Array;
import java.lang.reflect.Method;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import javax.management.ObjectName;

/**
 * The C heap of this process as glibc's allocator sees it ({@code mallinfo2}): the bytes handed out
 * and not yet freed (by libtorch, DJL's JNI, the JVM) apart from the freed bytes the allocator keeps
 * for reuse, which resident memory counts too. With native memory tracking on it also subtracts the
 * JVM's own allocations, leaving what libtorch and DJL hold.
 *
 * <p>Reading it needs Linux with glibc 2.33 or newer and, on JDK 17, the incubating foreign-function
 * API: {@code --add-modules jdk.incubator.foreign --enable-native-access=ALL-UNNAMED} (plus
 * {@code -XX:NativeMemoryTracking=summary} for the JVM's share). Without them {@link #available()}
 * is false and {@link #reason()} says which part is missing; the library itself never needs it.
 *
 * <p>A test and benchmark tool, compiled into finetune-testkit (never deployed), not part of the
 * library.
 */
public final class NativeHeap {

    /** The JVM flags {@link #read()} needs on JDK 17, for a child JVM that measures itself. */
    public static final List<String> JVM_FLAGS = List.of("--add-modules", "jdk.incubator.foreign",
            "--enable-native-access=ALL-UNNAMED", "-XX:NativeMemoryTracking=summary");

    /** Bytes of one NMT malloc header on 64-bit JDK 17, which glibc counts and NMT does not. */
    private static final long NMT_HEADER_BYTES = 16;
    private static final Pattern NMT_MALLOC = Pattern.compile("malloc: (\\d+)KB #(\\d+)");

    /**
     * One reading.
     *
     * @param inUse bytes allocated and not freed, in every arena and in mapped chunks
     * @param free freed bytes the allocator keeps in its arenas (resident until reused or trimmed)
     * @param jvm the JVM's own allocations by native memory tracking, with its headers; -1 when off
     */
    public record Reading(long inUse, long free, long jvm) {

        /** @return bytes in use outside the JVM's own allocations (libtorch, DJL, JDK libraries); -1 when unknown */
        public long outsideJvm() {
            return jvm < 0 ? -1 : inUse - jvm;
        }
    }

    /** A downcall to mallinfo2, or why there is none. */
    private record Link(MethodHandle handle, String reason) {}

    private static final Link MALLINFO = linkMallinfo();

    private NativeHeap() {}

    /** @return whether {@link #read()} can read the allocator */
    public static boolean available() {
        return MALLINFO.handle() != null;
    }

    /** @return why the allocator cannot be read, or an empty string */
    public static String reason() {
        return MALLINFO.reason();
    }

    /**
     * Reads the allocator's counters (locks each arena briefly).
     *
     * @return the reading
     * @throws IllegalStateException when {@link #available()} is false
     */
    public static Reading read() {
        if (!available()) {
            throw new IllegalStateException("the C heap cannot be read here: " + reason());
        }
        long[] v = mallinfo2();
        // mallinfo2 fields: arena, ordblks, smblks, hblks, hblkhd, usmblks, fsmblks, uordblks, fordblks, keepcost
        return new Reading(v[7] + v[4], v[8], jvmMalloc());
    }

    /**
     * @return the JVM's own malloc'd bytes (native memory tracking's total plus one header per
     *     allocation), or -1 when tracking is off
     */
    public static long jvmMalloc() {
        try {
            String out = (String) ManagementFactory.getPlatformMBeanServer().invoke(
                    new ObjectName("com.sun.management:type=DiagnosticCommand"), "vmNativeMemory",
                    new Object[] {new String[] {"summary"}}, new String[] {String[].class.getName()});
            Matcher m = NMT_MALLOC.matcher(out);
            if (!m.find()) {
                return -1;
            }
            return Long.parseLong(m.group(1)) * 1024 + Long.parseLong(m.group(2)) * NMT_HEADER_BYTES;
        } catch (Exception | LinkageError e) {
            return -1;
        }
    }

    private static long[] mallinfo2() {
        try {
            Class<?> scopeType = Class.forName("jdk.incubator.foreign.ResourceScope");
            Class<?> allocatorType = Class.forName("jdk.incubator.foreign.SegmentAllocator");
            Class<?> segmentType = Class.forName("jdk.incubator.foreign.MemorySegment");
            try (AutoCloseable scope = (AutoCloseable) scopeType.getMethod("newConfinedScope").invoke(null)) {
                Object allocator = allocatorType.getMethod("ofScope", scopeType).invoke(null, scope);
                Object segment = MALLINFO.handle().invokeWithArguments(allocator);
                return (long[]) segmentType.getMethod("toLongArray").invoke(segment);
            }
        } catch (Throwable e) {
            throw new IllegalStateException("reading mallinfo2 failed", e);
        }
    }

    /** @return a downcall to glibc's mallinfo2 through JDK 17's incubator API, or why there is none */
    private static Link linkMallinfo() {
        if (!System.getProperty("os.name", "").startsWith("Linux")) {
            return new Link(null, "not Linux (glibc's mallinfo2 is read)");
        }
        try {
            Class<?> linkerType = Class.forName("jdk.incubator.foreign.CLinker");
            Class<?> layoutType = Class.forName("jdk.incubator.foreign.MemoryLayout");
            Class<?> lookupType = Class.forName("jdk.incubator.foreign.SymbolLookup");
            Class<?> descriptorType = Class.forName("jdk.incubator.foreign.FunctionDescriptor");
            Class<?> addressableType = Class.forName("jdk.incubator.foreign.Addressable");
            Class<?> segmentType = Class.forName("jdk.incubator.foreign.MemorySegment");
            Class<?> allocatorType = Class.forName("jdk.incubator.foreign.SegmentAllocator");
            Object sizeT = linkerType.getField("C_LONG").get(null);
            Object fields = Array.newInstance(layoutType, 10);
            for (int i = 0; i < 10; i++) {
                Array.set(fields, i, sizeT);
            }
            Object struct = layoutType.getMethod("structLayout", fields.getClass()).invoke(null, fields);
            Object lookup = linkerType.getMethod("systemLookup").invoke(null);
            Optional<?> symbol = (Optional<?>) lookupType.getMethod("lookup", String.class).invoke(lookup, "mallinfo2");
            if (symbol.isEmpty()) {
                return new Link(null, "this C library has no mallinfo2 (glibc 2.33 or newer is needed)");
            }
            Object descriptor = descriptorType.getMethod("of", layoutType, fields.getClass())
                    .invoke(null, struct, Array.newInstance(layoutType, 0));
            Object linker = linkerType.getMethod("getInstance").invoke(null);
            Method downcall = linkerType.getMethod("downcallHandle", addressableType, MethodType.class, descriptorType);
            MethodHandle handle = (MethodHandle) downcall.invoke(linker, symbol.get(),
                    MethodType.methodType(segmentType), descriptor);
            // the returned struct is written into memory from an allocator given as the first argument
            if (handle.type().parameterCount() != 1 || handle.type().parameterType(0) != allocatorType) {
                return new Link(null, "unexpected downcall shape " + handle.type());
            }
            return new Link(handle, "");
        } catch (ClassNotFoundException e) {
            return new Link(null, "module jdk.incubator.foreign is not in the module graph (run with"
                    + " --add-modules jdk.incubator.foreign --enable-native-access=ALL-UNNAMED on JDK 17)");
        } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
            Throwable cause = e.getCause() != null ? e.getCause() : e;
            return new Link(null, "the foreign-function API refused: " + cause
                    + " (run with --enable-native-access=ALL-UNNAMED)");
        }
    }
}
