package dev.finetune.vision.data;

import java.awt.image.BufferedImage;
import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
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

/**
 * Decodes image files with a size limit checked from the header before any pixel is decoded, and
 * with errors that name the file: the one place where image bytes enter the library.
 */
public final class ImageFiles {

    /** The default largest image, in pixels (64 megapixels, e.g. 8000 x 8000). */
    public static final long DEFAULT_MAX_PIXELS = 64L << 20;

    private static final Set<String> EXTENSIONS = new TreeSet<>();

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
     * Reads the width and height from the header.
     *
     * @param file an image file
     * @return {width, height}
     * @throws IOException if the file is missing, empty or not a decodable image; the message names it
     */
    public static int[] size(Path file) throws IOException {
        try (ImageInputStream in = open(file)) {
            ImageReader reader = reader(file, in);
            try {
                return new int[] {reader.getWidth(0), reader.getHeight(0)};
            } finally {
                reader.dispose();
            }
        } catch (IOException | RuntimeException e) {
            throw failure(file, e);
        }
    }

    /**
     * Decodes an image, refusing one larger than {@code maxPixels} before decoding its pixels, a PNG
     * whose chunks fail their CRC, and a JPEG the decoder finds cut short or corrupt (which the JDK
     * decoder would otherwise fill with grey).
     *
     * @param file an image file
     * @param maxPixels the largest width x height accepted
     * @return the decoded image
     * @throws IOException if the file is missing, empty, truncated, corrupt, too large or not an image
     */
    public static BufferedImage read(Path file, long maxPixels) throws IOException {
        try (ImageInputStream in = open(file)) {
            ImageReader reader = reader(file, in);
            try {
                long w = reader.getWidth(0);
                long h = reader.getHeight(0);
                if (w <= 0 || h <= 0) {
                    throw new IOException(file + ": the header says " + w + "x" + h
                            + " pixels; the file is corrupt (re-export or remove it)");
                }
                if (w * h > maxPixels) {
                    throw new IOException(file + ": the header says " + w + "x" + h + " pixels, more than the limit of "
                            + maxPixels + " pixels; it was not decoded (raise the limit if the image is genuine)");
                }
                if ("png".equalsIgnoreCase(reader.getFormatName())) {
                    checkPngChunks(file);
                }
                List<String> damage = new ArrayList<>();
                reader.addIIOReadWarningListener((source, warning) -> {
                    if (isDamage(warning)) {
                        damage.add(warning);
                    }
                });
                BufferedImage image = reader.read(0);
                if (image == null) {
                    throw new IOException(file + ": the decoder returned no image");
                }
                if (!damage.isEmpty()) {
                    image.flush();
                    throw new IOException(file + ": the image is truncated or damaged (" + String.join("; ", damage)
                            + "); the decoder would fill the missing part with grey. Re-copy or remove the file.");
                }
                return image;
            } finally {
                reader.dispose();
            }
        } catch (IOException | RuntimeException e) {
            throw failure(file, e);
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
    private static void checkPngChunks(Path file) throws IOException {
        try (DataInputStream in = new DataInputStream(new BufferedInputStream(Files.newInputStream(file), 1 << 16))) {
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

    private static ImageInputStream open(Path file) throws IOException {
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

    private static ImageReader reader(Path file, ImageInputStream in) throws IOException {
        Iterator<ImageReader> readers = ImageIO.getImageReaders(in);
        if (!readers.hasNext()) {
            throw new IOException(file + ": not an image in a known format (" + String.join(", ", EXTENSIONS) + ")");
        }
        ImageReader reader = readers.next();
        reader.setInput(in, true, true);
        return reader;
    }

    private static IOException failure(Path file, Exception e) {
        if (e instanceof IOException && e.getMessage() != null && e.getMessage().startsWith(file.toString())) {
            return (IOException) e;
        }
        String why = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        return new IOException(file + ": unreadable image (" + why + ")", e);
    }
}
