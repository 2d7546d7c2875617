package dev.finetune.vision.data;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * What the JDK's JPEG decoder ignores in a JPEG's header: the EXIF orientation (tag 0x0112 of IFD0
 * in the APP1 {@code Exif} segment, 1 = upright to 8), whether an Adobe APP14 marker is present
 * (it says CMYK numbers are stored inverted) and the number of components of the frame (4 for
 * CMYK or YCCK). Read by a small reader of the segments before the scan, robust to garbage: a
 * malformed or missing segment gives orientation 1 and no marker, never an exception.
 *
 * @param orientation the EXIF orientation, 1 to 8 (1 when absent or malformed)
 * @param adobe whether an Adobe APP14 marker precedes the scan
 * @param components the frame's components (1 grey, 3 colour, 4 CMYK/YCCK), or 0 when no frame header was found
 */
record JpegHeader(int orientation, boolean adobe, int components) {

    /** The header of a JPEG without any of these segments. */
    static final JpegHeader PLAIN = new JpegHeader(1, false, 0);

    /** The EXIF orientation tag. */
    private static final int ORIENTATION = 0x0112;

    /**
     * Reads the segments up to the first scan (SOS) or the end of the stream.
     *
     * @param in the JPEG's bytes from its start; read, not closed
     * @return what was found
     * @throws IOException only if the stream itself fails
     */
    static JpegHeader scan(InputStream in) throws IOException {
        if (in.read() != 0xff || in.read() != 0xd8) {
            return PLAIN;
        }
        int orientation = 0;
        boolean adobe = false;
        int components = 0;
        while (true) {
            int b = in.read();
            if (b != 0xff) {
                break; // garbage between segments, or the end
            }
            int marker;
            do {
                marker = in.read(); // fill bytes 0xff may precede a marker
            } while (marker == 0xff);
            if (marker < 0 || marker == 0x00 || marker == 0xd9 || marker == 0xda) {
                break; // end of stream, a stuffed byte out of place, EOI, or the scan: nothing more to read here
            }
            if (marker == 0x01 || (marker >= 0xd0 && marker <= 0xd8)) {
                continue; // markers without a length
            }
            int hi = in.read();
            int lo = in.read();
            if (lo < 0) {
                break;
            }
            int length = ((hi << 8) | lo) - 2;
            if (length < 0) {
                break;
            }
            boolean exif = marker == 0xe1 && orientation == 0;
            boolean app14 = marker == 0xee;
            boolean frame = isFrame(marker) && components == 0;
            if (exif || app14 || frame) {
                byte[] payload = in.readNBytes(length);
                if (payload.length < length) {
                    break;
                }
                if (exif && startsWith(payload, "Exif\0")) {
                    orientation = exifOrientation(payload, 6);
                } else if (app14 && startsWith(payload, "Adobe")) {
                    adobe = true;
                } else if (frame && payload.length >= 6) {
                    components = payload[5] & 0xff;
                }
            } else if (!skip(in, length)) {
                break;
            }
        }
        return new JpegHeader(orientation < 1 || orientation > 8 ? 1 : orientation, adobe, components);
    }

    /** SOF0..SOF15 but DHT (c4), JPG (c8) and DAC (cc). */
    private static boolean isFrame(int marker) {
        return marker >= 0xc0 && marker <= 0xcf && marker != 0xc4 && marker != 0xc8 && marker != 0xcc;
    }

    private static boolean skip(InputStream in, long n) throws IOException {
        long left = n;
        while (left > 0) {
            long s = in.skip(left);
            if (s <= 0) {
                if (in.read() < 0) {
                    return false;
                }
                s = 1;
            }
            left -= s;
        }
        return true;
    }

    private static boolean startsWith(byte[] payload, String prefix) {
        byte[] p = prefix.getBytes(StandardCharsets.ISO_8859_1);
        return payload.length >= p.length && Arrays.equals(payload, 0, p.length, p, 0, p.length);
    }

    /**
     * The orientation in a TIFF structure (the EXIF payload after {@code Exif\0\0}): byte order
     * {@code II} or {@code MM}, 42, the offset of IFD0, then IFD0's 12-byte entries.
     *
     * @param p the segment's payload
     * @param tiff where the TIFF header starts in it
     * @return the orientation, or 0 when absent or malformed
     */
    static int exifOrientation(byte[] p, int tiff) {
        if (p.length < tiff + 8) {
            return 0;
        }
        boolean little;
        if (p[tiff] == 'I' && p[tiff + 1] == 'I') {
            little = true;
        } else if (p[tiff] == 'M' && p[tiff + 1] == 'M') {
            little = false;
        } else {
            return 0;
        }
        if (u16(p, tiff + 2, little) != 42) {
            return 0;
        }
        long ifd = u32(p, tiff + 4, little);
        if (ifd < 8 || tiff + ifd + 2 > p.length) {
            return 0;
        }
        int at = (int) (tiff + ifd);
        int entries = u16(p, at, little);
        for (int i = 0; i < entries; i++) {
            int e = at + 2 + 12 * i;
            if (e + 12 > p.length) {
                return 0;
            }
            if (u16(p, e, little) != ORIENTATION) {
                continue;
            }
            int type = u16(p, e + 2, little);
            long value = type == 3 ? u16(p, e + 8, little) : type == 4 ? u32(p, e + 8, little) : 0;
            return value >= 1 && value <= 8 ? (int) value : 0;
        }
        return 0;
    }

    private static int u16(byte[] p, int at, boolean little) {
        int a = p[at] & 0xff;
        int b = p[at + 1] & 0xff;
        return little ? (b << 8) | a : (a << 8) | b;
    }

    private static long u32(byte[] p, int at, boolean little) {
        long hi = u16(p, little ? at + 2 : at, little);
        long lo = u16(p, little ? at : at + 2, little);
        return (hi << 16) | lo;
    }
}
