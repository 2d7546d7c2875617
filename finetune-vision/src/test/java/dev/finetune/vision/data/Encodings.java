package dev.finetune.vision.data;

import java.awt.Transparency;
import java.awt.color.ColorSpace;
import java.awt.image.BufferedImage;
import java.awt.image.ComponentColorModel;
import java.awt.image.DataBuffer;
import java.awt.image.IndexColorModel;
import java.awt.image.Raster;
import java.awt.image.WritableRaster;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Arrays;
import java.util.Random;
import javax.imageio.IIOImage;
import javax.imageio.ImageIO;
import javax.imageio.ImageWriteParam;
import javax.imageio.ImageWriter;
import javax.imageio.stream.ImageOutputStream;

/**
 * One picture written in every encoding the JDK reads: PNG grey of 1, 2, 4, 8 and 16 bits, grey
 * with alpha, palette, RGB and RGBA of 8 and 16 bits; JPEG grey, colour, CMYK (plain, Adobe) and
 * YCCK; and a JPEG's EXIF orientation (an APP1 segment written here). Each encoding comes with the
 * pixels training must see: the picture's own 8-bit values, as DJL's {@code toNDArray} gives them
 * (height x width x 3, composited over white where there is alpha).
 */
public final class Encodings {

    /** scikit-image's sample photos. */
    public static final Path PHOTOS = Paths.get("/usr/lib/python3/dist-packages/skimage/data");

    private static BufferedImage chelsea;
    private static BufferedImage camera;

    private Encodings() {}

    /** The encodings. */
    public enum Kind {
        GREY_1(false, true), GREY_2(false, true), GREY_4(false, true), GREY_8(false, true), GREY_16(false, true),
        GREY_ALPHA_8(false, true), GREY_ALPHA_16(false, true), PALETTE_8(false, false),
        RGB_8(false, false), RGB_16(false, false), RGBA_8(false, false), RGBA_16(false, false),
        JPEG_GREY(true, true), JPEG_RGB(true, false), JPEG_CMYK(true, false), JPEG_CMYK_ADOBE(true, false),
        JPEG_YCCK(true, false);

        private final boolean jpeg;
        private final boolean grey;

        Kind(boolean jpeg, boolean grey) {
            this.jpeg = jpeg;
            this.grey = grey;
        }

        /** @return whether it is a JPEG (lossy; can carry an EXIF orientation) */
        public boolean jpeg() {
            return jpeg;
        }

        /** @return whether the picture is grey */
        public boolean grey() {
            return grey;
        }

        /** @return the file extension */
        public String extension() {
            return jpeg ? "jpg" : "png";
        }
    }

    /**
     * A file's bytes and what training must see.
     *
     * @param bytes the file
     * @param expected the upright picture's 8-bit values, height x width x 3, composited over white
     * @param width the upright width
     * @param height the upright height
     */
    public record Encoded(byte[] bytes, int[] expected, int width, int height) {}

    /**
     * @param name a photo in {@link #PHOTOS}
     * @return it decoded by ImageIO
     */
    public static synchronized BufferedImage photo(String name) {
        try {
            if (name.equals("chelsea.png") && chelsea != null) {
                return chelsea;
            }
            if (name.equals("camera.png") && camera != null) {
                return camera;
            }
            BufferedImage img = ImageIO.read(PHOTOS.resolve(name).toFile());
            if (name.equals("chelsea.png")) {
                chelsea = img;
            } else if (name.equals("camera.png")) {
                camera = img;
            }
            return img;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Writes a crop of a photo (camera.png for the grey encodings, chelsea.png for the colour ones)
     * in one encoding.
     *
     * @param kind the encoding
     * @param x left of the crop
     * @param y top of the crop
     * @param w its width
     * @param h its height
     * @param orientation for a JPEG, the EXIF orientation written (1 to 8; the stored pixels are
     *     turned so that the upright picture is the crop); ignored for PNG
     * @param littleEndian the EXIF byte order
     * @param seed for the alpha pattern and the 16-bit noise
     * @return the file and the pixels training must see
     */
    public static Encoded encode(Kind kind, int x, int y, int w, int h, int orientation, boolean littleEndian,
            long seed) {
        try {
            return encodeOrThrow(kind, x, y, w, h, kind.jpeg ? orientation : 1, littleEndian, seed);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static Encoded encodeOrThrow(Kind kind, int x0, int y0, int w, int h, int orientation,
            boolean littleEndian, long seed) throws IOException {
        BufferedImage src = photo(kind.grey ? "camera.png" : "chelsea.png");
        Random random = new Random(seed);
        // the upright picture's 8-bit values, channels r, g, b (grey: three equal)
        int[][] rgb = new int[3][w * h];
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int sx = Math.min(src.getWidth() - 1, x0 + x);
                int sy = Math.min(src.getHeight() - 1, y0 + y);
                for (int c = 0; c < 3; c++) {
                    rgb[c][y * w + x] = kind.grey ? src.getRaster().getSample(sx, sy, 0)
                            : src.getRaster().getSample(sx, sy, c);
                }
            }
        }
        int bits = switch (kind) {
            case GREY_1 -> 1;
            case GREY_2 -> 2;
            case GREY_4 -> 4;
            default -> 8;
        };
        if (bits < 8) {
            int levels = (1 << bits) - 1;
            for (int[] channel : rgb) {
                for (int i = 0; i < channel.length; i++) {
                    channel[i] = Math.round(channel[i] * levels / 255f) * (255 / levels);
                }
            }
        }
        if (kind == Kind.PALETTE_8) {
            for (int[] channel : rgb) {
                for (int i = 0; i < channel.length; i++) {
                    channel[i] = Math.round(channel[i] / 51f) * 51; // a 6x6x6 colour cube
                }
            }
        }
        boolean alpha = kind == Kind.GREY_ALPHA_8 || kind == Kind.GREY_ALPHA_16 || kind == Kind.RGBA_8
                || kind == Kind.RGBA_16;
        int[] a = new int[w * h];
        int[] levelsOfAlpha = {0, 1, 64, 128, 200, 254, 255, 255};
        for (int i = 0; i < a.length; i++) {
            a[i] = alpha ? levelsOfAlpha[random.nextInt(levelsOfAlpha.length)] : 255;
        }
        // what training must see: over white where there is alpha
        int[] expected = new int[w * h * 3];
        for (int i = 0; i < w * h; i++) {
            for (int c = 0; c < 3; c++) {
                expected[3 * i + c] = (rgb[c][i] * a[i] + 255 * (255 - a[i]) + 127) / 255;
            }
        }
        int[][] stored = new int[3][];
        int sw = orientation >= 5 ? h : w;
        int sh = orientation >= 5 ? w : h;
        for (int c = 0; c < 3; c++) {
            stored[c] = stored(rgb[c], w, h, orientation);
        }
        byte[] bytes = switch (kind) {
            case GREY_1, GREY_2, GREY_4 -> png(lowBitGrey(rgb[0], w, h, bits));
            case GREY_8 -> png(grey8(rgb[0], w, h));
            case GREY_16 -> png(components(new int[][] {rgb[0]}, null, w, h, 16, random));
            case GREY_ALPHA_8 -> png(components(new int[][] {rgb[0]}, a, w, h, 8, random));
            case GREY_ALPHA_16 -> png(components(new int[][] {rgb[0]}, a, w, h, 16, random));
            case PALETTE_8 -> png(palette(rgb, w, h));
            case RGB_8 -> png(components(rgb, null, w, h, 8, random));
            case RGB_16 -> png(components(rgb, null, w, h, 16, random));
            case RGBA_8 -> png(components(rgb, a, w, h, 8, random));
            case RGBA_16 -> png(components(rgb, a, w, h, 16, random));
            case JPEG_GREY -> jpeg(grey8(stored[0], sw, sh));
            case JPEG_RGB -> jpeg(components(stored, null, sw, sh, 8, random));
            case JPEG_CMYK -> cmykJpeg(stored, sw, sh, false);
            case JPEG_CMYK_ADOBE -> cmykJpeg(stored, sw, sh, true);
            case JPEG_YCCK -> ycckJpeg(stored, sw, sh);
        };
        if (kind.jpeg && orientation != 1) {
            bytes = withExif(bytes, orientation, littleEndian);
        }
        return new Encoded(bytes, expected, w, h);
    }

    /**
     * The stored pixels of an upright picture under an EXIF orientation, from the tag's definition:
     * where the stored row 0 and column 0 are shown (1: top, left; 2: top, right; 3: bottom, right;
     * 4: bottom, left; 5: left, top; 6: right, top; 7: right, bottom; 8: left, bottom).
     *
     * @param upright the picture, row by row
     * @param w its width
     * @param h its height
     * @param orientation 1 to 8
     * @return the stored image, row by row (width and height swapped for 5 to 8)
     */
    public static int[] stored(int[] upright, int w, int h, int orientation) {
        boolean swap = orientation >= 5;
        int sw = swap ? h : w;
        int sh = swap ? w : h;
        int[] out = new int[upright.length];
        for (int sy = 0; sy < sh; sy++) {
            for (int sx = 0; sx < sw; sx++) {
                // the shown position of stored (sx, sy)
                int ux;
                int uy;
                switch (orientation) {
                    case 1 -> { ux = sx; uy = sy; }
                    case 2 -> { ux = w - 1 - sx; uy = sy; }
                    case 3 -> { ux = w - 1 - sx; uy = h - 1 - sy; }
                    case 4 -> { ux = sx; uy = h - 1 - sy; }
                    case 5 -> { ux = sy; uy = sx; }
                    case 6 -> { ux = w - 1 - sy; uy = sx; }
                    case 7 -> { ux = w - 1 - sy; uy = h - 1 - sx; }
                    case 8 -> { ux = sy; uy = h - 1 - sx; }
                    default -> throw new IllegalArgumentException("orientation " + orientation);
                }
                out[sy * sw + sx] = upright[uy * w + ux];
            }
        }
        return out;
    }

    private static BufferedImage grey8(int[] g, int w, int h) {
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_BYTE_GRAY);
        img.getRaster().setPixels(0, 0, w, h, g);
        return img;
    }

    private static BufferedImage lowBitGrey(int[] g, int w, int h, int bits) {
        int n = 1 << bits;
        int step = 255 / (n - 1);
        byte[] ramp = new byte[n];
        for (int i = 0; i < n; i++) {
            ramp[i] = (byte) (i * step);
        }
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_BYTE_BINARY,
                new IndexColorModel(bits, n, ramp, ramp, ramp));
        for (int i = 0; i < g.length; i++) {
            img.getRaster().setSample(i % w, i / w, 0, g[i] / step);
        }
        return img;
    }

    private static BufferedImage palette(int[][] rgb, int w, int h) {
        byte[] r = new byte[256];
        byte[] g = new byte[256];
        byte[] b = new byte[256];
        for (int i = 0; i < 216; i++) {
            r[i] = (byte) (i / 36 * 51);
            g[i] = (byte) (i / 6 % 6 * 51);
            b[i] = (byte) (i % 6 * 51);
        }
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_BYTE_INDEXED, new IndexColorModel(8, 256, r, g, b));
        for (int i = 0; i < w * h; i++) {
            img.getRaster().setSample(i % w, i / w, 0, rgb[0][i] / 51 * 36 + rgb[1][i] / 51 * 6 + rgb[2][i] / 51);
        }
        return img;
    }

    /**
     * Grey or RGB with or without alpha, of 8 or 16 bits: a 16-bit sample is {@code v * 257} plus
     * noise of at most 128 either way, so that only {@code round(v16 / 257)} gives {@code v} back.
     */
    private static BufferedImage components(int[][] colours, int[] alpha, int w, int h, int bits, Random random) {
        boolean grey = colours.length == 1;
        ColorSpace cs = ColorSpace.getInstance(grey ? ColorSpace.CS_GRAY : ColorSpace.CS_sRGB);
        int bands = colours.length + (alpha == null ? 0 : 1);
        int[] sizes = new int[bands];
        Arrays.fill(sizes, bits);
        ComponentColorModel cm = new ComponentColorModel(cs, sizes, alpha != null, false,
                alpha == null ? Transparency.OPAQUE : Transparency.TRANSLUCENT,
                bits == 16 ? DataBuffer.TYPE_USHORT : DataBuffer.TYPE_BYTE);
        WritableRaster r = cm.createCompatibleWritableRaster(w, h);
        for (int i = 0; i < w * h; i++) {
            for (int b = 0; b < bands; b++) {
                int v = b < colours.length ? colours[b][i] : alpha[i];
                if (bits == 16) {
                    v = Math.max(0, Math.min(65535, v * 257 + random.nextInt(257) - 128));
                }
                r.setSample(i % w, i / w, b, v);
            }
        }
        return new BufferedImage(cm, r, false, null);
    }

    /**
     * @param img an image
     * @return it as a PNG
     */
    public static byte[] png(BufferedImage img) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            if (!ImageIO.write(img, "png", out)) {
                throw new IllegalStateException("no PNG writer for " + img);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toByteArray();
    }

    /**
     * @param img an image
     * @return it as a JPEG of quality 0.95
     */
    public static byte[] jpeg(BufferedImage img) throws IOException {
        return jpeg(new IIOImage(img, null, null));
    }

    private static byte[] jpeg(IIOImage image) throws IOException {
        ImageWriter writer = ImageIO.getImageWritersByFormatName("jpeg").next();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (ImageOutputStream ios = ImageIO.createImageOutputStream(out)) {
            writer.setOutput(ios);
            ImageWriteParam param = writer.getDefaultWriteParam();
            param.setCompressionMode(ImageWriteParam.MODE_EXPLICIT);
            param.setCompressionQuality(0.95f);
            writer.write(null, image, param);
        } finally {
            writer.dispose();
        }
        return out.toByteArray();
    }

    /** Ink amounts 0..255 (c, m, y, k) of 8-bit light (r, g, b), with all the grey in k. */
    private static int[] ink(int r, int g, int b) {
        int k = 255 - Math.max(r, Math.max(g, b));
        if (k == 255) {
            return new int[] {0, 0, 0, 255};
        }
        int[] out = new int[4];
        int[] light = {r, g, b};
        for (int c = 0; c < 3; c++) {
            out[c] = Math.round(255f * (255 - light[c] - k) / (255 - k));
        }
        out[3] = k;
        return out;
    }

    /**
     * A 4-component JPEG written from a raster: plain CMYK (ink amounts, no Adobe marker), or as
     * Adobe writes it (inverted, with an APP14 {@code Adobe} marker of transform 0).
     */
    private static byte[] cmykJpeg(int[][] rgb, int w, int h, boolean adobe) throws IOException {
        WritableRaster r = Raster.createInterleavedRaster(DataBuffer.TYPE_BYTE, w, h, 4, null);
        for (int i = 0; i < w * h; i++) {
            int[] ink = ink(rgb[0][i], rgb[1][i], rgb[2][i]);
            for (int c = 0; c < 4; c++) {
                r.setSample(i % w, i / w, c, adobe ? 255 - ink[c] : ink[c]);
            }
        }
        byte[] bytes = jpeg(new IIOImage(r, null, null));
        if (segment(bytes, 0xee) >= 0) {
            throw new IllegalStateException("the JDK wrote an Adobe marker for a raster");
        }
        if (adobe) {
            byte[] payload = {'A', 'd', 'o', 'b', 'e', 0, 100, 0, 0, 0, 0, 0};
            bytes = insertAfterSoi(bytes, 0xee, payload);
        }
        return bytes;
    }

    /** A CMYK colour space, naive, for the JDK's JPEG writer to take a CMYK image (it writes YCCK). */
    private static final class Cmyk extends ColorSpace {
        Cmyk() {
            super(TYPE_CMYK, 4);
        }

        @Override
        public float[] toRGB(float[] v) {
            return new float[] {(1 - v[0]) * (1 - v[3]), (1 - v[1]) * (1 - v[3]), (1 - v[2]) * (1 - v[3])};
        }

        @Override
        public float[] fromRGB(float[] rgb) {
            throw new UnsupportedOperationException();
        }

        @Override
        public float[] toCIEXYZ(float[] v) {
            return ColorSpace.getInstance(CS_sRGB).toCIEXYZ(toRGB(v));
        }

        @Override
        public float[] fromCIEXYZ(float[] xyz) {
            throw new UnsupportedOperationException();
        }
    }

    /** The JDK writes a CMYK image as YCCK with an Adobe marker of transform 2, inverted as Adobe does. */
    private static byte[] ycckJpeg(int[][] rgb, int w, int h) throws IOException {
        ComponentColorModel cm = new ComponentColorModel(new Cmyk(), false, false, Transparency.OPAQUE,
                DataBuffer.TYPE_BYTE);
        WritableRaster r = cm.createCompatibleWritableRaster(w, h);
        for (int i = 0; i < w * h; i++) {
            r.setPixel(i % w, i / w, ink(rgb[0][i], rgb[1][i], rgb[2][i]));
        }
        byte[] bytes = jpeg(new BufferedImage(cm, r, false, null));
        int adobe = segment(bytes, 0xee);
        if (adobe < 0 || bytes[adobe + 4 + 11] != 2) {
            throw new IllegalStateException("the JDK wrote no YCCK Adobe marker");
        }
        return bytes;
    }

    /**
     * A JPEG as a phone writes it: the JFIF APP0 segment (if any) removed and an APP1 {@code Exif}
     * segment first after SOI, holding a TIFF header and IFD0 with the one orientation entry.
     *
     * @param jpeg a JPEG
     * @param orientation the EXIF orientation, 1 to 8 (or anything, to test robustness)
     * @param littleEndian {@code II} (Intel) or {@code MM} (Motorola) byte order
     * @return the new file
     */
    public static byte[] withExif(byte[] jpeg, int orientation, boolean littleEndian) {
        ByteBuffer tiff = ByteBuffer.allocate(26).order(littleEndian ? ByteOrder.LITTLE_ENDIAN : ByteOrder.BIG_ENDIAN);
        tiff.put(littleEndian ? (byte) 'I' : (byte) 'M').put(littleEndian ? (byte) 'I' : (byte) 'M');
        tiff.putShort((short) 42).putInt(8); // IFD0 right after the header
        tiff.putShort((short) 1); // one entry
        tiff.putShort((short) 0x0112).putShort((short) 3).putInt(1).putShort((short) orientation).putShort((short) 0);
        tiff.putInt(0); // no next IFD
        byte[] payload = new byte[6 + 26];
        System.arraycopy("Exif\0\0".getBytes(StandardCharsets.ISO_8859_1), 0, payload, 0, 6);
        System.arraycopy(tiff.array(), 0, payload, 6, 26);
        return insertAfterSoi(withoutSegment(jpeg, 0xe0), 0xe1, payload);
    }

    /**
     * @param jpeg a JPEG
     * @param marker a marker's second byte (0xe1 for APP1)
     * @param payload the segment's bytes after its length
     * @return the JPEG with the segment first after SOI
     */
    public static byte[] insertAfterSoi(byte[] jpeg, int marker, byte[] payload) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(jpeg, 0, 2);
        out.write(0xff);
        out.write(marker);
        out.write((payload.length + 2) >> 8);
        out.write((payload.length + 2) & 0xff);
        out.write(payload, 0, payload.length);
        out.write(jpeg, 2, jpeg.length - 2);
        return out.toByteArray();
    }

    /** The offset of the first segment with this marker before the scan, or -1. */
    static int segment(byte[] jpeg, int marker) {
        int i = 2;
        while (i + 4 <= jpeg.length && (jpeg[i] & 0xff) == 0xff) {
            int m = jpeg[i + 1] & 0xff;
            if (m == marker) {
                return i;
            }
            if (m == 0xda) {
                return -1;
            }
            i += 2 + (((jpeg[i + 2] & 0xff) << 8) | (jpeg[i + 3] & 0xff));
        }
        return -1;
    }

    private static byte[] withoutSegment(byte[] jpeg, int marker) {
        int at = segment(jpeg, marker);
        if (at < 0) {
            return jpeg;
        }
        int length = 2 + (((jpeg[at + 2] & 0xff) << 8) | (jpeg[at + 3] & 0xff));
        byte[] out = new byte[jpeg.length - length];
        System.arraycopy(jpeg, 0, out, 0, at);
        System.arraycopy(jpeg, at + length, out, at, jpeg.length - at - length);
        return out;
    }
}
