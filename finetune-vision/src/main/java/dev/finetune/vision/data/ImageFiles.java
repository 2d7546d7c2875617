package dev.finetune.vision.data;

import dev.finetune.vision.image.ExactPixels;

import java.awt.image.BufferedImage;
import java.awt.image.DataBuffer;
import java.awt.image.Raster;
import java.awt.image.WritableRaster;
import java.io.BufferedInputStream;
import java.io.ByteArrayInputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.TreeSet;
import java.util.zip.CRC32;
import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;
import javax.imageio.stream.MemoryCacheImageInputStream;

/**
 * Decodes image files with a size limit checked from the header before any pixel is decoded, and
 * with errors that name the file: the one place where image bytes enter the library, in training
 * (catalog scans, datasets, leakage checks) and in serving alike. Decoded pixels are the file's
 * numbers on the 8-bit scale, for every PNG colour type and bit depth and every JPEG (grey,
 * YCbCr, CMYK, YCCK), turned upright by a JPEG's EXIF orientation: see {@link #read(Path, long)}.
 */
public final class ImageFiles {

    /** The default largest image, in pixels (64 megapixels, e.g. 8000 x 8000). */
    public static final long DEFAULT_MAX_PIXELS = 64L << 20;

    private static final Set<String> EXTENSIONS = new TreeSet<>();

    /** Said of a CMYK JPEG the JDK decoder cannot read. */
    private static final String CMYK_JPEG = "this is a CMYK JPEG, which this library cannot decode exactly;"
            + " convert it to RGB";

    static {
        for (String s : ImageIO.getReaderFileSuffixes()) {
            EXTENSIONS.add(s.toLowerCase(Locale.ROOT));
        }
    }

    private ImageFiles() {}

    /** @return the file extensions the decoder reads (lower case, e.g. png, jpg, bmp, gif, tif) */
    public static Set<String> extensions() {
        return java.util.Collections.unmodifiableSet(EXTENSIONS);
    }

    /**
     * @param file a path
     * @return whether its extension is one of the decodable image formats
     */
    public static boolean hasImageExtension(Path file) {
        String name = file.getFileName().toString();
        int dot = name.lastIndexOf('.');
        return dot > 0 && EXTENSIONS.contains(name.substring(dot + 1).toLowerCase(Locale.ROOT));
    }

    /**
     * Reads the width and height from the header, upright: a JPEG whose EXIF orientation turns it
     * by 90 degrees (5 to 8) has them swapped, as {@link #read} returns it.
     *
     * @param file an image file
     * @return {width, height}
     * @throws IOException if the file is missing, empty or not a decodable image; the message names it
     */
    public static int[] size(Path file) throws IOException {
        Source source = Source.of(file);
        try (ImageInputStream in = source.imageStream()) {
            ImageReader reader = reader(source, in);
            try {
                int w = reader.getWidth(0);
                int h = reader.getHeight(0);
                if (isJpeg(reader) && Orientation.swapsSides(jpegHeader(source).orientation())) {
                    return new int[] {h, w};
                }
                return new int[] {w, h};
            } finally {
                reader.dispose();
            }
        } catch (IOException | RuntimeException e) {
            throw failure(source.name(), e);
        }
    }

    /**
     * Decodes an image, refusing one larger than {@code maxPixels} before decoding its pixels, a PNG
     * whose chunks fail their CRC, and a JPEG the decoder finds cut short or corrupt (which the JDK
     * decoder would otherwise fill with grey). The pixels are the file's numbers, exactly:
     *
     * <ul>
     *   <li>samples of more than 8 bits (16-bit grey, grey with alpha, RGB, RGBA PNGs) are scaled to
     *       8 bits, {@code round(v / 257)}, with no colour-space conversion ({@link ExactPixels});
     *   <li>a JPEG is turned upright by its EXIF orientation (1 to 8), as photo viewers show it;
     *   <li>a CMYK or YCCK JPEG becomes RGB by {@code R = 255 (1 - C)(1 - K)} (likewise G with M, B
     *       with Y), each component the amount of ink from 0 to 1: stored inverted when the file has
     *       an Adobe APP14 marker (as Adobe writes them), as is without one; an embedded colour
     *       profile is not applied. A CMYK image of another format is refused.
     * </ul>
     *
     * @param file an image file
     * @param maxPixels the largest width x height accepted
     * @return the decoded image: 8-bit grey, grey with alpha, sRGB, sRGB with alpha or a palette,
     *     or (for an embedded ICC colour profile the JDK keeps) the JDK's own colour model
     * @throws IOException if the file is missing, empty, truncated, corrupt, too large or not an
     *     image, or an image this library cannot decode exactly; the message names the file
     */
    public static BufferedImage read(Path file, long maxPixels) throws IOException {
        return read(Source.of(file), maxPixels);
    }

    /**
     * Decodes an image held in memory (a served request's body), exactly as {@link #read(Path, long)}
     * decodes a file.
     *
     * @param bytes the encoded image
     * @param name what to call it in messages (a URL, "the request body")
     * @param maxPixels the largest width x height accepted
     * @return the decoded image
     * @throws IOException if the bytes are empty, truncated, corrupt, too large or not an image; the
     *     message starts with {@code name}
     */
    public static BufferedImage read(byte[] bytes, String name, long maxPixels) throws IOException {
        return read(Source.of(bytes, name), maxPixels);
    }

    private static BufferedImage read(Source source, long maxPixels) throws IOException {
        String name = source.name();
        try (ImageInputStream in = source.imageStream()) {
            ImageReader reader = reader(source, in);
            try {
                long w = reader.getWidth(0);
                long h = reader.getHeight(0);
                if (w <= 0 || h <= 0) {
                    throw new IOException(name + ": the header says " + w + "x" + h
                            + " pixels; the file is corrupt (re-export or remove it)");
                }
                if (w * h > maxPixels) {
                    throw new IOException(name + ": the header says " + w + "x" + h + " pixels, more than the limit of "
                            + maxPixels + " pixels; it was not decoded (raise the limit if the image is genuine)");
                }
                if ("png".equalsIgnoreCase(reader.getFormatName())) {
                    checkPngChunks(source);
                }
                JpegHeader jpeg = isJpeg(reader) ? jpegHeader(source) : null;
                List<String> damage = new ArrayList<>();
                reader.addIIOReadWarningListener((src, warning) -> {
                    if (isDamage(warning)) {
                        damage.add(warning);
                    }
                });
                BufferedImage image;
                try {
                    image = reader.read(0);
                } catch (IOException | RuntimeException e) {
                    if (jpeg != null && jpeg.components() == 4) {
                        throw new IOException(name + ": " + CMYK_JPEG + " (the decoder said: " + e.getMessage() + ")", e);
                    }
                    throw e;
                }
                if (image == null) {
                    throw new IOException(name + ": the decoder returned no image");
                }
                if (!damage.isEmpty()) {
                    image.flush();
                    throw new IOException(name + ": the image is truncated or damaged (" + String.join("; ", damage)
                            + "); the decoder would fill the missing part with grey. Re-copy or remove the file.");
                }
                if (ExactPixels.isCmyk(image)) {
                    if (jpeg == null || image.getRaster().getNumBands() != 4
                            || image.getRaster().getTransferType() != DataBuffer.TYPE_BYTE) {
                        throw new IOException(name + ": this is a CMYK " + reader.getFormatName() + " image, which this"
                                + " library cannot decode exactly; convert it to RGB");
                    }
                    image = cmykToRgb(image.getRaster(), jpeg.adobe());
                }
                image = ExactPixels.of(image);
                return jpeg == null ? image : Orientation.upright(image, jpeg.orientation());
            } finally {
                reader.dispose();
            }
        } catch (IOException | RuntimeException e) {
            throw failure(name, e);
        }
    }

    /**
     * CMYK to RGB, {@code R = 255 (1 - C)(1 - K)} rounded, from the samples the JDK decoder gives:
     * it inverts every CMYK JPEG's numbers (as if all were Adobe's), so they are the ink amounts
     * when the file has an Adobe marker and 255 minus them when it has none (plain CMYK).
     */
    private static BufferedImage cmykToRgb(Raster cmyk, boolean adobe) {
        int w = cmyk.getWidth();
        int h = cmyk.getHeight();
        BufferedImage out = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        WritableRaster target = out.getRaster();
        int[] in = new int[4 * w];
        int[] row = new int[3 * w];
        for (int y = 0; y < h; y++) {
            cmyk.getPixels(cmyk.getMinX(), cmyk.getMinY() + y, w, 1, in);
            for (int x = 0; x < w; x++) {
                // light left by each ink, 0..255: 255 - ink
                int k = adobe ? 255 - in[4 * x + 3] : in[4 * x + 3];
                for (int c = 0; c < 3; c++) {
                    int left = adobe ? 255 - in[4 * x + c] : in[4 * x + c];
                    row[3 * x + c] = (left * k + 127) / 255;
                }
            }
            target.setPixels(0, y, w, 1, row);
        }
        return out;
    }

    private static boolean isJpeg(ImageReader reader) throws IOException {
        return "jpeg".equalsIgnoreCase(reader.getFormatName());
    }

    private static JpegHeader jpegHeader(Source source) throws IOException {
        try (InputStream in = source.stream()) {
            return JpegHeader.scan(in);
        }
    }

    /**
     * Whether a decoder warning means pixels are missing or wrong (the JPEG decoder warns, rather
     * than fails, on a file cut short); extraneous bytes between JPEG markers are common and harmless.
     */
    private static boolean isDamage(String warning) {
        String w = warning.toLowerCase(Locale.ROOT);
        return !w.contains("extraneous bytes") && (w.contains("truncated") || w.contains("premature end")
                || w.contains("corrupt") || w.contains("huffman"));
    }

    /**
     * Walks a PNG's chunks and checks each one's CRC: the JDK decoder checks none, so a flipped
     * byte in the compressed pixels can decode silently into wrong pixels.
     */
    private static void checkPngChunks(Source source) throws IOException {
        String file = source.name();
        try (DataInputStream in = new DataInputStream(source.stream())) {
            in.skipNBytes(8); // signature, already matched by the reader
            byte[] buf = new byte[1 << 16];
            long offset = 8;
            while (true) {
                long length;
                try {
                    length = in.readInt() & 0xffffffffL;
                } catch (EOFException e) {
                    throw new IOException(file + ": the PNG ends without its IEND chunk after " + offset
                            + " bytes; the file is truncated (re-copy or remove it)");
                }
                byte[] type = in.readNBytes(4);
                CRC32 crc = new CRC32();
                crc.update(type);
                long left = length;
                while (left > 0) {
                    int n = in.read(buf, 0, (int) Math.min(buf.length, left));
                    if (n < 0) {
                        break;
                    }
                    crc.update(buf, 0, n);
                    left -= n;
                }
                String name = new String(type, StandardCharsets.ISO_8859_1);
                if (left > 0 || type.length < 4) {
                    throw new IOException(file + ": the PNG's " + name + " chunk at byte " + offset
                            + " is cut short; the file is truncated (re-copy or remove it)");
                }
                long stored;
                try {
                    stored = in.readInt() & 0xffffffffL;
                } catch (EOFException e) {
                    throw new IOException(file + ": the PNG's " + name + " chunk at byte " + offset
                            + " has no CRC; the file is truncated (re-copy or remove it)");
                }
                if (stored != crc.getValue()) {
                    throw new IOException(file + ": the PNG's " + name + " chunk at byte " + offset
                            + " fails its CRC check; the file is damaged (re-copy or remove it)");
                }
                if ("IEND".equals(name)) {
                    return;
                }
                offset += 12 + length;
            }
        }
    }

    /** Where an image's bytes come from: a file, or bytes in memory with a name for messages. */
    private interface Source {
        String name();

        /** @return the bytes from the start, buffered */
        InputStream stream() throws IOException;

        /** @return the bytes for an ImageIO reader, after checking that there are some */
        ImageInputStream imageStream() throws IOException;

        static Source of(Path file) {
            return new Source() {
                @Override
                public String name() {
                    return file.toString();
                }

                @Override
                public InputStream stream() throws IOException {
                    return new BufferedInputStream(Files.newInputStream(file), 1 << 16);
                }

                @Override
                public ImageInputStream imageStream() throws IOException {
                    if (!Files.isRegularFile(file)) {
                        throw new IOException(file + ": no such file");
                    }
                    if (Files.size(file) == 0) {
                        throw new IOException(file + ": the file is empty (0 bytes)");
                    }
                    ImageInputStream in = ImageIO.createImageInputStream(file.toFile());
                    if (in == null) {
                        throw new IOException(file + ": cannot be opened");
                    }
                    return in;
                }
            };
        }

        static Source of(byte[] bytes, String name) {
            return new Source() {
                @Override
                public String name() {
                    return name;
                }

                @Override
                public InputStream stream() {
                    return new ByteArrayInputStream(bytes);
                }

                @Override
                public ImageInputStream imageStream() throws IOException {
                    if (bytes.length == 0) {
                        throw new IOException(name + ": the image is empty (0 bytes)");
                    }
                    return new MemoryCacheImageInputStream(new ByteArrayInputStream(bytes));
                }
            };
        }
    }

    private static ImageReader reader(Source source, ImageInputStream in) throws IOException {
        Iterator<ImageReader> readers = ImageIO.getImageReaders(in);
        if (!readers.hasNext()) {
            throw new IOException(source.name() + ": not an image in a known format (" + String.join(", ", EXTENSIONS) + ")");
        }
        ImageReader reader = readers.next();
        reader.setInput(in, true, true);
        return reader;
    }

    private static IOException failure(String name, Exception e) {
        if (e instanceof IOException && e.getMessage() != null && e.getMessage().startsWith(name)) {
            return (IOException) e;
        }
        String why = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        return new IOException(name + ": unreadable image (" + why + ")", e);
    }
}
