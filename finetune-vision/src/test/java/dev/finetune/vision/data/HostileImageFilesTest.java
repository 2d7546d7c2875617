package dev.finetune.vision.data;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

/**
 * Damaged and crafted image files fed to {@link ImageFiles}: each is refused with an IOException
 * naming the file and saying what is wrong, or decodes; nothing else escapes.
 */
class HostileImageFilesTest {

    @TempDir
    Path dir;

    @Test
    void realImagesStillDecodeWithTheStricterChecks() throws Exception {
        HostileInputs.Tally tally = new HostileInputs.Tally("realImagesStillDecode");
        for (Map.Entry<String, byte[]> e : HostileInputs.realImages().entrySet()) {
            Path file = dir.resolve(e.getKey());
            Files.write(file, e.getValue());
            assertThat(tally.read(file, ImageFiles.DEFAULT_MAX_PIXELS)).as(e.getKey()).isNull();
        }
        tally.print();
        assertThat(tally.decoded()).isEqualTo(10);
    }

    @Test
    void zeroByteTruncatedAndCorruptImagesAreRefusedNamingTheFile() throws Exception {
        HostileInputs.Tally tally = new HostileInputs.Tally("zeroByteTruncatedAndCorrupt");
        for (Map.Entry<String, byte[]> e : HostileInputs.realImages().entrySet()) {
            byte[] good = e.getValue();
            String name = e.getKey();
            String ext = name.substring(name.lastIndexOf('.'));
            Path empty = dir.resolve("empty-" + name);
            Files.write(empty, new byte[0]);
            assertThat(tally.read(empty, ImageFiles.DEFAULT_MAX_PIXELS)).contains("the file is empty (0 bytes)");
            for (int cut : new int[] {good.length / 2, good.length / 3, 40, good.length - 1}) {
                Path truncated = dir.resolve("cut" + cut + "-" + name);
                Files.write(truncated, Arrays.copyOf(good, cut));
                assertThat(tally.read(truncated, ImageFiles.DEFAULT_MAX_PIXELS)).as(truncated.toString()).isNotNull();
            }
            Path header = dir.resolve("header-only" + ext);
            Files.write(header, Arrays.copyOf(good, 16));
            assertThat(tally.read(header, ImageFiles.DEFAULT_MAX_PIXELS)).isNotNull();
        }
        // a JPEG cut in half: the JDK decoder only warns and fills the rest with grey
        byte[] rocket = Files.readAllBytes(HostileInputs.PHOTOS.resolve("rocket.jpg"));
        Path half = dir.resolve("rocket-half.jpg");
        Files.write(half, Arrays.copyOf(rocket, rocket.length / 2));
        assertThat(tally.read(half, ImageFiles.DEFAULT_MAX_PIXELS))
                .startsWith(half.toString()).contains("truncated or damaged").contains("Re-copy or remove");
        // scikit-image's own broken sample
        Path skTruncated = HostileInputs.PHOTOS.resolve("truncated.jpg");
        assertThat(tally.read(skTruncated, ImageFiles.DEFAULT_MAX_PIXELS)).startsWith(skTruncated.toString());
        tally.print();
        assertThat(tally.crashes()).isEmpty();
        assertThat(tally.decoded()).isZero();
    }

    @Test
    void pngWithAFlippedByteInItsPixelDataFailsItsCrc() throws Exception {
        HostileInputs.Tally tally = new HostileInputs.Tally("pngFlippedIdatByte");
        for (Map.Entry<String, byte[]> e : HostileInputs.realImages().entrySet()) {
            if (!e.getKey().endsWith(".png")) {
                continue;
            }
            byte[] good = e.getValue();
            int idat = HostileInputs.chunkData(good, "IDAT");
            int length = java.nio.ByteBuffer.wrap(good, idat - 8, 4).getInt();
            // start, middle and the last bytes (the zlib checksum, which the JDK decoder never reads)
            for (int at : new int[] {0, length / 2, length - 6, length - 1}) {
                byte[] bad = good.clone();
                bad[idat + at] ^= 0x10;
                Path file = dir.resolve("flip" + at + "-" + e.getKey());
                Files.write(file, bad);
                String message = tally.read(file, ImageFiles.DEFAULT_MAX_PIXELS);
                assertThat(message).as(file.toString()).isNotNull().startsWith(file.toString());
                assertThat(message).contains("IDAT chunk at byte " + (idat - 8) + " fails its CRC check");
            }
        }
        tally.print();
        assertThat(tally.crashes()).isEmpty();
        assertThat(tally.rejected()).isEqualTo(tally.tried()).isEqualTo(32);
    }

    @Test
    void headerClaiming50000x50000IsRejectedBeforeDecoding() throws Exception {
        HostileInputs.Tally tally = new HostileInputs.Tally("pngHeaderClaims50000x50000");
        Path huge = dir.resolve("huge.png");
        Files.write(huge, HostileInputs.pngClaiming(50_000, 50_000));
        assertThat(Files.size(huge)).isLessThan(100);
        assertThat(ImageFiles.size(huge)).containsExactly(50_000, 50_000); // the crafted header is valid
        // the message is the header check's: without that check the JDK's reader fails on its own ("Can
        // not read image of the size 50000 by 50000"). The timeout only guards against a hang; it is
        // not a performance claim
        String message = assertTimeoutPreemptively(Duration.ofSeconds(30),
                () -> tally.read(huge, ImageFiles.DEFAULT_MAX_PIXELS));
        assertThat(message).startsWith(huge.toString())
                .contains("the header says 50000x50000 pixels, more than the limit of " + ImageFiles.DEFAULT_MAX_PIXELS)
                .contains("it was not decoded");

        // the same header is accepted at a small size: the crafted file itself is well formed
        Path tiny = dir.resolve("tiny.png");
        Files.write(tiny, HostileInputs.pngClaiming(4, 1));
        assertThat(tally.read(tiny, ImageFiles.DEFAULT_MAX_PIXELS)).isNull();

        // and a header of zero width is corrupt, not "small"
        Path zero = dir.resolve("zero-width.png");
        Files.write(zero, HostileInputs.pngClaiming(0, 10));
        assertThat(tally.read(zero, ImageFiles.DEFAULT_MAX_PIXELS)).startsWith(zero.toString());

        // a scan refuses it too, listing it as unreadable
        Path root = dir.resolve("folder");
        ImageFolders.fashion(root, new int[] {0, 7}, new int[] {2, 2}, 9);
        Files.copy(huge, root.resolve("Sneaker/huge.png"));
        ImageCatalog c = ImageCatalog.builder().setRoot(root).optUnreadable(UnreadablePolicy.SKIP).build();
        tally.count(true);
        assertThat(c.size()).isEqualTo(4);
        assertThat(c.unreadable()).singleElement()
                .satisfies(f -> assertThat(f.reason()).contains("50000x50000"));
        assertThatThrownBy(() -> ImageCatalog.scan(root)).hasMessageContaining("huge.png")
                .hasMessageContaining("50000x50000");
        tally.print();
        assertThat(tally.crashes()).isEmpty();
    }
}
