package dev.finetune.vision.data;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The small reader of a JPEG's header segments: the EXIF orientation in either byte order and as
 * SHORT or LONG, after an XMP APP1 segment; the Adobe marker; the frame's components; and
 * orientation 1 for anything malformed, never an exception.
 */
class JpegHeaderTest {

    private static final byte[] GREY = Encodings.encode(Encodings.Kind.JPEG_GREY, 0, 0, 16, 8, 1, true, 1).bytes();

    private static JpegHeader scan(byte[] bytes) throws IOException {
        return JpegHeader.scan(new ByteArrayInputStream(bytes));
    }

    @Test
    void readsTheOrientationInBothByteOrders() throws Exception {
        for (int o = 1; o <= 8; o++) {
            assertThat(scan(Encodings.withExif(GREY, o, true)).orientation()).isEqualTo(o);
            assertThat(scan(Encodings.withExif(GREY, o, false)).orientation()).isEqualTo(o);
        }
        assertThat(scan(GREY)).isEqualTo(new JpegHeader(1, false, 1));
    }

    @Test
    void readsALongOrientationAndSkipsAnXmpSegmentBeforeIt() throws Exception {
        byte[] exif = Encodings.withExif(GREY, 6, false);
        int entry = Encodings.segment(exif, 0xe1) + 4 + 6 + 10; // after "Exif\0\0", the TIFF header, the count
        exif[entry + 3] = 4; // type LONG: the value is 4 bytes, big-endian 0x00060000 in the file as written
        assertThat(scan(exif).orientation()).as("LONG 0x00060000 is out of range").isEqualTo(1);
        exif[entry + 8] = 0;
        exif[entry + 9] = 0;
        exif[entry + 10] = 0;
        exif[entry + 11] = 6;
        assertThat(scan(exif).orientation()).isEqualTo(6);
        byte[] xmp = "http://ns.adobe.com/xap/1.0/\0<x:xmpmeta/>".getBytes(StandardCharsets.ISO_8859_1);
        assertThat(scan(Encodings.insertAfterSoi(Encodings.withExif(GREY, 3, true), 0xe1, xmp)).orientation())
                .isEqualTo(3);
    }

    @Test
    void findsTheAdobeMarkerAndTheComponents() throws Exception {
        byte[] adobe = Encodings.insertAfterSoi(GREY, 0xee, new byte[] {'A', 'd', 'o', 'b', 'e', 0, 100, 0, 0, 0, 0, 0});
        assertThat(scan(adobe)).isEqualTo(new JpegHeader(1, true, 1));
        byte[] cmyk = Encodings.encode(Encodings.Kind.JPEG_CMYK, 0, 0, 8, 8, 1, true, 1).bytes();
        assertThat(scan(cmyk)).isEqualTo(new JpegHeader(1, false, 4));
        byte[] ycck = Encodings.encode(Encodings.Kind.JPEG_YCCK, 0, 0, 8, 8, 1, true, 1).bytes();
        assertThat(scan(ycck)).isEqualTo(new JpegHeader(1, true, 4));
    }

    @Test
    void malformedSegmentsGiveOrientationOne() throws Exception {
        byte[] good = Encodings.withExif(GREY, 8, true);
        int payload = Encodings.segment(good, 0xe1) + 4;
        // not Exif, a bad byte order, a bad magic number, IFD0 out of the segment, no entries, type ASCII
        int[][] edits = {{payload, 'X'}, {payload + 6, 'X'}, {payload + 8, 43}, {payload + 10, 0x7f},
            {payload + 14, 0}, {payload + 18, 2}};
        for (int[] edit : edits) {
            byte[] bad = good.clone();
            bad[edit[0]] = (byte) edit[1];
            assertThat(scan(bad).orientation()).as("byte %d set to %d", edit[0] - payload, edit[1]).isEqualTo(1);
        }
        for (int orientation : new int[] {0, 9, 255, 0xffff}) {
            assertThat(scan(Encodings.withExif(GREY, orientation, true)).orientation()).isEqualTo(1);
        }
        // cut anywhere, or not a JPEG at all
        for (int cut = 0; cut < payload + 40; cut++) {
            JpegHeader h = scan(Arrays.copyOf(good, cut));
            assertThat(h.orientation()).as("cut at %d", cut).isEqualTo(cut >= payload + 32 ? 8 : 1);
        }
        assertThat(scan("GIF89a".getBytes(StandardCharsets.ISO_8859_1))).isEqualTo(JpegHeader.PLAIN);
        assertThat(scan(new byte[] {(byte) 0xff, (byte) 0xd8, 0x12, 0x34})).isEqualTo(JpegHeader.PLAIN);
        // a segment length below 2
        assertThat(scan(new byte[] {(byte) 0xff, (byte) 0xd8, (byte) 0xff, (byte) 0xe1, 0, 1})).isEqualTo(JpegHeader.PLAIN);
    }
}
