package dev.finetune.vision.data;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.Locale;
import java.util.Set;
import java.util.TreeSet;
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
     * Decodes an image, refusing one larger than {@code maxPixels} before decoding its pixels.
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
                if (w * h > maxPixels) {
                    throw new IOException(file + ": the header says " + w + "x" + h + " pixels, more than the limit of "
                            + maxPixels + " pixels; it was not decoded (raise the limit if the image is genuine)");
                }
                BufferedImage image = reader.read(0);
                if (image == null) {
                    throw new IOException(file + ": the decoder returned no image");
                }
                return image;
            } finally {
                reader.dispose();
            }
        } catch (IOException | RuntimeException e) {
            throw failure(file, e);
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
