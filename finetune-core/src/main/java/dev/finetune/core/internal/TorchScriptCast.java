package dev.finetune.core.internal;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

/**
 * Turns a TorchScript archive's float32 tensors into bfloat16 ones, without Python: DJL can
 * neither cast a loaded TorchScript module nor replace its parameters, but it can write the module
 * to bytes and load bytes back. An archive ({@code torch.jit.save}) pickles every tensor as a
 * reference to a storage record ({@code data/<key>}, or {@code constants/<key>} for constants of
 * the traced code) whose element type is a pickled global such as {@code torch.FloatStorage}; the
 * pickler writes each global once and refers to it by memo index afterwards. Renaming that one
 * global to {@code torch.BFloat16Storage} and rounding the float records to bfloat16 (to nearest,
 * ties to even) yields the same module with bfloat16 parameters, buffers and constants; integer
 * records (BatchNorm's batch counter) are left as they are.
 */
public final class TorchScriptCast {

    private static final byte[] FLOAT_GLOBAL = "torch\nFloatStorage\n".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] BF16_GLOBAL = "torch\nBFloat16Storage\n".getBytes(StandardCharsets.US_ASCII);

    private TorchScriptCast() {}

    /**
     * Casts an archive's float32 tensors to bfloat16.
     *
     * @param archive the bytes of a TorchScript archive (a zip, as {@code torch.jit.save} writes it)
     * @return the bytes of the same archive with bfloat16 tensors
     * @throws IllegalArgumentException if the bytes are not an archive this understands
     */
    public static byte[] toBfloat16(byte[] archive) {
        Map<String, byte[]> entries = read(archive);
        Set<String> floatRecords = new HashSet<>();
        boolean found = false;
        for (Map.Entry<String, byte[]> e : new LinkedHashMap<>(entries).entrySet()) {
            String name = e.getKey();
            String dir;
            if (name.endsWith("/data.pkl")) {
                dir = name.substring(0, name.length() - "data.pkl".length()) + "data/";
            } else if (name.endsWith("/constants.pkl")) {
                dir = name.substring(0, name.length() - "constants.pkl".length()) + "constants/";
            } else {
                continue;
            }
            found |= name.endsWith("/data.pkl");
            byte[] pickle = e.getValue();
            storageTypes(pickle, name).forEach((key, type) -> {
                if (type.equals("Float")) {
                    floatRecords.add(dir + key);
                }
            });
            entries.put(name, replaceGlobal(pickle));
        }
        if (!found) {
            throw new IllegalArgumentException("Not a TorchScript archive: no data.pkl among its "
                    + entries.size() + " entries. Pass the bytes torch.jit.save (or DJL's"
                    + " JniUtils.writeModule) writes.");
        }
        for (String record : floatRecords) {
            byte[] bytes = entries.get(record);
            if (bytes == null) {
                throw new IllegalArgumentException("The archive's pickle refers to a storage record "
                        + record + " that the archive does not hold.");
            }
            entries.put(record, toBfloat16Bits(bytes));
        }
        return write(entries);
    }

    /**
     * The integer records of a module (BatchNorm's {@code num_batches_tracked}, which counts the
     * batches its running statistics have taken in), by path: if they change, the statistics did.
     *
     * @param archive the bytes of a TorchScript archive
     * @return the contents of its integer records
     */
    public static Map<String, ByteBuffer> integerRecords(byte[] archive) {
        Map<String, byte[]> entries = read(archive);
        Map<String, ByteBuffer> out = new LinkedHashMap<>();
        recordTypes(entries).forEach((path, type) -> {
            if (type.equals("Long") || type.equals("Int")) {
                out.put(path, ByteBuffer.wrap(entries.get(path)));
            }
        });
        return out;
    }

    /** Each storage record's element type ({@code Float}, {@code Long}, ...), by its path in the archive. */
    private static Map<String, String> recordTypes(Map<String, byte[]> entries) {
        Map<String, String> types = new LinkedHashMap<>();
        entries.forEach((name, bytes) -> {
            if (name.endsWith("/data.pkl")) {
                String dir = name.substring(0, name.length() - "data.pkl".length()) + "data/";
                storageTypes(bytes, name).forEach((key, type) -> types.put(dir + key, type));
            }
        });
        return types;
    }

    /**
     * A float32 archive whose buffers (BatchNorm's running statistics and counters) are taken from
     * its bfloat16 copy (written by the same module structure, so with the same record keys),
     * widened exactly to float32; its parameters stay as they are. A float record is a parameter
     * when its bytes are those of one of the given parameters.
     *
     * @param float32 the float32 module's archive (its parameters are the masters)
     * @param bfloat16 the archive of its bfloat16 copy, whose statistics moved on
     * @param parameters the contents of the module's parameters, as little-endian float32 bytes
     * @return the float32 archive with the copy's statistics
     */
    public static byte[] withStatistics(byte[] float32, byte[] bfloat16, Set<ByteBuffer> parameters) {
        Map<String, byte[]> target = read(float32);
        Map<String, byte[]> source = read(bfloat16);
        Map<String, String> targetTypes = recordTypes(target);
        Map<String, String> sourceTypes = recordTypes(source);
        if (!targetTypes.keySet().equals(sourceTypes.keySet())) {
            throw new IllegalArgumentException("The bfloat16 copy's archive has other records than the module's.");
        }
        targetTypes.forEach((path, type) -> {
            byte[] own = target.get(path);
            byte[] copy = source.get(path);
            if (type.equals("Float") && sourceTypes.get(path).equals("BFloat16")) {
                if (!parameters.contains(ByteBuffer.wrap(own))) {
                    target.put(path, toFloat32Bits(copy));
                }
            } else if (type.equals(sourceTypes.get(path)) && !type.equals("Float")) {
                target.put(path, copy);
            }
        });
        return write(target);
    }

    /** Widens little-endian bfloat16 values to float32 (exact). */
    static byte[] toFloat32Bits(byte[] bf16) {
        ByteBuffer in = ByteBuffer.wrap(bf16).order(ByteOrder.LITTLE_ENDIAN);
        ByteBuffer out = ByteBuffer.allocate(bf16.length * 2).order(ByteOrder.LITTLE_ENDIAN);
        while (in.hasRemaining()) {
            out.putInt((in.getShort() & 0xFFFF) << 16);
        }
        return out.array();
    }

    /** Rounds little-endian float32 values to bfloat16, to nearest with ties to even; NaN stays NaN. */
    static byte[] toBfloat16Bits(byte[] floats) {
        if (floats.length % 4 != 0) {
            throw new IllegalArgumentException("A float storage of " + floats.length + " bytes is not"
                    + " a whole number of float32 values.");
        }
        ByteBuffer in = ByteBuffer.wrap(floats).order(ByteOrder.LITTLE_ENDIAN);
        ByteBuffer out = ByteBuffer.allocate(floats.length / 2).order(ByteOrder.LITTLE_ENDIAN);
        while (in.hasRemaining()) {
            out.putShort(bfloat16(in.getFloat()));
        }
        return out.array();
    }

    /**
     * Rounds a float to bfloat16 bits, to nearest with ties to even (as PyTorch's conversion does).
     *
     * @param value the value
     * @return its bfloat16 bits
     */
    public static short bfloat16(float value) {
        int bits = Float.floatToRawIntBits(value);
        if (Float.isNaN(value)) {
            return (short) ((bits >>> 16) | 0x40); // quiet NaN, sign kept
        }
        int rounding = 0x7FFF + ((bits >>> 16) & 1);
        return (short) ((bits + rounding) >>> 16);
    }

    /**
     * The element type of each storage record the pickle declares ({@code Float}, {@code Long},
     * {@code BFloat16}, ...), by key. Walks the pickle's opcodes
     * (protocol 2, as TorchScript writes it) with its memo, since strings and globals are written
     * once and fetched by memo index afterwards; a storage reference is the tuple
     * {@code ("storage", torch.<Type>Storage, key, location, size)}.
     */
    private static Map<String, String> storageTypes(byte[] pickle, String name) {
        Map<Integer, Object> memo = new HashMap<>();
        Map<String, String> keys = new HashMap<>();
        Object last = null;
        // the values seen since the last MARK: MARK "storage" type key
        int state = 0;
        String type = null;
        int p = 0;
        while (p < pickle.length) {
            int op = pickle[p++] & 0xFF;
            Object value = NO_VALUE;
            switch (op) {
                case 0x80, 'K', 'U', 'C' -> p += op == 'U' || op == 'C' ? 1 + (pickle[p] & 0xFF) : 1;
                case 'M' -> p += 2;
                case 'J' -> p += 4;
                case 'G' -> p += 8;
                case 0x8a -> p += 1 + (pickle[p] & 0xFF);
                case 'B', 'T' -> p += 4 + littleInt(pickle, p);
                case 'X' -> {
                    int length = littleInt(pickle, p);
                    value = new String(pickle, p + 4, length, StandardCharsets.UTF_8);
                    p += 4 + length;
                }
                case 'c' -> {
                    int start = p;
                    int newlines = 0;
                    while (newlines < 2) {
                        if (pickle[p++] == '\n') {
                            newlines++;
                        }
                    }
                    value = new Global(new String(pickle, start, p - start, StandardCharsets.US_ASCII));
                }
                case 'q' -> memo.put(pickle[p++] & 0xFF, last);
                case 'r' -> {
                    memo.put(littleInt(pickle, p), last);
                    p += 4;
                }
                case 'h' -> value = memo.get(pickle[p++] & 0xFF);
                case 'j' -> {
                    value = memo.get(littleInt(pickle, p));
                    p += 4;
                }
                case '(' -> {
                    state = 1;
                    continue;
                }
                case ')', '}', ']', 0x81, 0x88, 0x89, 'N', 't', 0x85, 0x86, 0x87, 'u', 's', 'e', 'a', 'b', 'R',
                        'Q', 'd', 'l', '0', '2' -> { }
                case '.' -> p = pickle.length;
                default -> throw new IllegalArgumentException("Unexpected pickle opcode 0x" + Integer.toHexString(op)
                        + " in " + name + " at byte " + (p - 1) + ": the archive was written by a TorchScript"
                        + " version this does not read.");
            }
            if (op == 'q' || op == 'r') {
                continue; // a memo store leaves the stack as it was
            }
            if (value == NO_VALUE) {
                state = 0;
                last = null;
                continue;
            }
            last = value;
            if (state == 1) {
                state = "storage".equals(value) ? 2 : 0;
            } else if (state == 2) {
                type = value instanceof Global g ? g.name() : null;
                state = type != null ? 3 : 0;
            } else if (state == 3) {
                if (value instanceof String key) {
                    keys.put(key, type.substring("torch\n".length(), type.length() - "Storage\n".length()));
                }
                state = 0;
            }
        }
        return keys;
    }

    private static final Object NO_VALUE = new Object();

    /** A pickled global: module and name, each ended by a line break. */
    private record Global(String name) {}

    private static byte[] replaceGlobal(byte[] pickle) {
        byte[] marker = new byte[FLOAT_GLOBAL.length + 1];
        marker[0] = 'c';
        System.arraycopy(FLOAT_GLOBAL, 0, marker, 1, FLOAT_GLOBAL.length);
        int at = indexOf(pickle, marker, 0);
        if (at < 0) {
            return pickle;
        }
        if (indexOf(pickle, marker, at + 1) >= 0) {
            throw new IllegalArgumentException("The archive names torch.FloatStorage twice; it was written"
                    + " by a TorchScript version this does not read.");
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream(pickle.length + 3);
        out.write(pickle, 0, at + 1);
        out.writeBytes(BF16_GLOBAL);
        int rest = at + marker.length;
        out.write(pickle, rest, pickle.length - rest);
        return out.toByteArray();
    }

    private static int littleInt(byte[] b, int at) {
        return (b[at] & 0xFF) | (b[at + 1] & 0xFF) << 8 | (b[at + 2] & 0xFF) << 16 | (b[at + 3] & 0xFF) << 24;
    }

    private static int indexOf(byte[] data, byte[] pattern, int from) {
        outer:
        for (int i = from; i <= data.length - pattern.length; i++) {
            for (int j = 0; j < pattern.length; j++) {
                if (data[i + j] != pattern[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }

    /**
     * Reads the entries through the central directory: PyTorch writes stored entries with data
     * descriptors, which {@code ZipInputStream} refuses, so the bytes go through a temporary file.
     */
    private static Map<String, byte[]> read(byte[] archive) {
        Map<String, byte[]> entries = new LinkedHashMap<>();
        java.nio.file.Path file = null;
        try {
            file = java.nio.file.Files.createTempFile("finetune-torchscript", ".zip");
            java.nio.file.Files.write(file, archive);
            try (java.util.zip.ZipFile zip = new java.util.zip.ZipFile(file.toFile())) {
                for (ZipEntry e : java.util.Collections.list(zip.entries())) {
                    try (java.io.InputStream in = zip.getInputStream(e)) {
                        entries.put(e.getName(), in.readAllBytes());
                    }
                }
            }
        } catch (java.util.zip.ZipException e) {
            throw new IllegalArgumentException("Not a TorchScript archive (not a readable zip): " + e.getMessage(), e);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } finally {
            if (file != null) {
                try {
                    java.nio.file.Files.deleteIfExists(file);
                } catch (IOException ignored) {
                    // a temporary file left behind is harmless
                }
            }
        }
        return entries;
    }

    /** Writes the entries uncompressed, as {@code torch.jit.save} does. */
    private static byte[] write(Map<String, byte[]> entries) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ZipOutputStream zip = new ZipOutputStream(bytes)) {
            zip.setMethod(ZipOutputStream.STORED);
            for (Map.Entry<String, byte[]> e : entries.entrySet()) {
                ZipEntry entry = new ZipEntry(e.getKey());
                byte[] data = e.getValue();
                CRC32 crc = new CRC32();
                crc.update(data);
                entry.setSize(data.length);
                entry.setCompressedSize(data.length);
                entry.setCrc(crc.getValue());
                zip.putNextEntry(entry);
                zip.write(data);
                zip.closeEntry();
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return bytes.toByteArray();
    }
}
