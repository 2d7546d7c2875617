package dev.finetune.core;

import dev.finetune.core.checkpoint.Checkpoint;
import dev.finetune.core.checkpoint.CheckpointException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.zip.CRC32;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Checkpoint files crafted to pass the checksum but lie inside (lengths, metadata), and random
 * bytes: each is refused with a {@link CheckpointException} naming the file, never another exception.
 */
class HostileCheckpointTest {

    private static final byte[] MAGIC = "FTCKPT01".getBytes(StandardCharsets.US_ASCII);

    @TempDir
    Path dir;

    /** A file in the checkpoint layout with a correct CRC over whatever it is given. */
    private static byte[] framed(int jsonLength, byte[] json, long paramLength, byte[] params) {
        ByteBuffer buf = ByteBuffer.allocate(MAGIC.length + 4 + json.length + 8 + params.length + 8);
        buf.put(MAGIC).putInt(jsonLength).put(json).putLong(paramLength).put(params);
        CRC32 crc = new CRC32();
        crc.update(buf.array(), 0, buf.position());
        buf.putLong(crc.getValue());
        return buf.array();
    }

    @Test
    void checksummedFilesThatLieInsideAreRefusedWithTheFileName() throws Exception {
        byte[] json = "{\"classNames\":[\"a\",\"b\"],\"stagePlan\":[],\"parameterShapes\":[]}"
                .getBytes(StandardCharsets.UTF_8);
        byte[] params = new byte[16];
        Map<String, byte[]> files = new LinkedHashMap<>();
        files.put("json-length-past-end.ckpt", framed(json.length + 20, json, params.length, params));
        files.put("json-length-negative.ckpt", framed(-1, json, params.length, params));
        files.put("json-length-max.ckpt", framed(Integer.MAX_VALUE, json, params.length, params));
        files.put("param-length-wrong.ckpt", framed(json.length, json, params.length + 1, params));
        files.put("param-length-huge.ckpt", framed(json.length, json, Long.MAX_VALUE, params));
        files.put("metadata-not-json.ckpt", framed(5, "{[}}}".getBytes(StandardCharsets.UTF_8), 16, params));
        files.put("metadata-array.ckpt", framed(2, "[]".getBytes(StandardCharsets.UTF_8), 16, params));
        files.put("metadata-null.ckpt", framed(4, "null".getBytes(StandardCharsets.UTF_8), 16, params));
        byte[] partial = "{\"classNames\":[\"a\",\"b\"]}".getBytes(StandardCharsets.UTF_8);
        files.put("metadata-without-lists.ckpt", framed(partial.length, partial, 16, params));
        byte[] wrongType = "{\"classNames\":\"a\",\"epoch\":\"x\"}".getBytes(StandardCharsets.UTF_8);
        files.put("metadata-wrong-types.ckpt", framed(wrongType.length, wrongType, 16, params));
        files.put("empty.ckpt", new byte[0]);
        files.put("magic-only.ckpt", MAGIC);
        Random random = new Random(6);
        for (int i = 0; i < 20; i++) {
            byte[] noise = new byte[random.nextInt(200)];
            random.nextBytes(noise);
            if (i % 2 == 0 && noise.length >= MAGIC.length) {
                System.arraycopy(MAGIC, 0, noise, 0, MAGIC.length); // past the header check
            }
            files.put("random-" + i + ".ckpt", noise);
        }

        int rejected = 0;
        List<String> crashes = new ArrayList<>();
        for (Map.Entry<String, byte[]> e : files.entrySet()) {
            Path file = dir.resolve(e.getKey());
            Files.write(file, e.getValue());
            try {
                Checkpoint.load(file);
                crashes.add(e.getKey() + ": loaded");
            } catch (CheckpointException ex) {
                assertThat(ex.getMessage()).as(e.getKey()).contains(file.toString())
                        .contains("corrupt or not a finetune checkpoint");
                rejected++;
            } catch (RuntimeException ex) {
                crashes.add(e.getKey() + ": " + ex);
            }
        }
        System.out.printf("HOSTILE %s: %d inputs tried, %d rejected with a message, %d crashes%n",
                "checksummedFilesThatLieInside", files.size(), rejected, crashes.size());
        assertThat(crashes).isEmpty();
        assertThat(rejected).isEqualTo(files.size());
    }
}
