package dev.finetune.vision.data;

import dev.finetune.core.fixtures.FashionMnist;

import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32;
import java.util.zip.Deflater;
import javax.imageio.ImageIO;

/**
 * Real image bytes to damage (scikit-image's sample photos, Fashion-MNIST items as PNG), crafted
 * PNGs, and a tally of what a hostile-input test tried, printed as one {@code HOSTILE} line.
 */
public final class HostileInputs {

    /** scikit-image's sample images: real PNG and JPEG files of several kinds. */
    public static final Path PHOTOS = Paths.get("/usr/lib/python3/dist-packages/skimage/data");

    private HostileInputs() {}

    /**
     * @return name to bytes of real images: small skimage PNGs (grey, RGB, palette), two JPEG photos
     *     and three Fashion-MNIST items written as PNG
     * @throws IOException if the files are missing
     */
    public static Map<String, byte[]> realImages() throws IOException {
        Map<String, byte[]> out = new LinkedHashMap<>();
        for (String name : List.of("block.png", "chessboard_RGB.png", "palette_color.png", "horse.png",
                "microaneurysms.png", "rocket.jpg", "retina.jpg")) {
            out.put(name, Files.readAllBytes(PHOTOS.resolve(name)));
        }
        FashionMnist.Split split = FashionMnist.train();
        for (int i : new int[] {0, 1, 2}) {
            out.put("fashion-" + i + ".png", greyPng(split.images()[i]));
        }
        return out;
    }

    /**
     * @param pixels 784 grey bytes
     * @return a 28x28 PNG of them
     * @throws IOException never in practice
     */
    public static byte[] greyPng(byte[] pixels) throws IOException {
        BufferedImage img = new BufferedImage(28, 28, BufferedImage.TYPE_BYTE_GRAY);
        img.getRaster().setDataElements(0, 0, 28, 28, pixels);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ImageIO.write(img, "png", out);
        return out.toByteArray();
    }

    /**
     * A well-formed PNG whose header claims any size: signature, IHDR (8-bit RGB), one tiny IDAT of
     * a single zero-filtered row, IEND, every chunk with its correct CRC.
     *
     * @param width the claimed width
     * @param height the claimed height
     * @return the file's bytes
     */
    public static byte[] pngClaiming(int width, int height) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(new byte[] {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'});
        ByteBuffer ihdr = ByteBuffer.allocate(13).putInt(width).putInt(height)
                .put((byte) 8).put((byte) 2).put((byte) 0).put((byte) 0).put((byte) 0);
        chunk(out, "IHDR", ihdr.array());
        Deflater deflater = new Deflater();
        deflater.setInput(new byte[1 + 3 * 4]);
        deflater.finish();
        byte[] z = new byte[64];
        int n = deflater.deflate(z);
        deflater.end();
        chunk(out, "IDAT", java.util.Arrays.copyOf(z, n));
        chunk(out, "IEND", new byte[0]);
        return out.toByteArray();
    }

    private static void chunk(ByteArrayOutputStream out, String type, byte[] data) {
        byte[] t = type.getBytes(StandardCharsets.US_ASCII);
        CRC32 crc = new CRC32();
        crc.update(t);
        crc.update(data);
        out.writeBytes(ByteBuffer.allocate(4).putInt(data.length).array());
        out.writeBytes(t);
        out.writeBytes(data);
        out.writeBytes(ByteBuffer.allocate(4).putInt((int) crc.getValue()).array());
    }

    /**
     * @param png a PNG file's bytes
     * @param name a chunk type
     * @return the offset of that chunk's data in the file, or -1
     */
    public static int chunkData(byte[] png, String name) {
        int i = 8;
        while (i + 8 <= png.length) {
            int length = ByteBuffer.wrap(png, i, 4).getInt();
            if (new String(png, i + 4, 4, StandardCharsets.US_ASCII).equals(name)) {
                return i + 8;
            }
            i += 12 + length;
        }
        return -1;
    }

    /** What one hostile-input test tried and how each input ended. */
    public static final class Tally {
        private final String test;
        private int tried;
        private int decoded;
        private int rejected;
        private final List<String> crashes = new ArrayList<>();

        /**
         * @param test the test's name, for the HOSTILE line
         */
        public Tally(String test) {
            this.test = test;
        }

        /**
         * Reads one file and classifies the outcome: a decoded image, an IOException whose message
         * names the file, or a crash (any other throwable, or a message without the file).
         *
         * @param file the file
         * @param maxPixels the size limit
         * @return the IOException's message, or null if the image decoded
         */
        public synchronized String read(Path file, long maxPixels) {
            tried++;
            try {
                ImageFiles.read(file, maxPixels).flush();
                decoded++;
                return null;
            } catch (IOException e) {
                if (e.getMessage() == null || !e.getMessage().contains(file.toString())) {
                    crashes.add(file.getFileName() + ": message does not name the file: " + e.getMessage());
                } else {
                    rejected++;
                }
                return e.getMessage();
            } catch (Throwable t) {
                crashes.add(file.getFileName() + ": " + t);
                return t.toString();
            }
        }

        /**
         * Counts inputs checked outside {@link #read}.
         *
         * @param rejectedWithMessage whether the input was refused with a message naming it
         */
        public synchronized void count(boolean rejectedWithMessage) {
            tried++;
            if (rejectedWithMessage) {
                rejected++;
            } else {
                decoded++;
            }
        }

        /**
         * Counts an input that ended in an unexpected way.
         *
         * @param what the input and what happened
         */
        public synchronized void crash(String what) {
            tried++;
            crashes.add(what);
        }

        /** @return inputs tried */
        public synchronized int tried() {
            return tried;
        }

        /** @return inputs that decoded */
        public synchronized int decoded() {
            return decoded;
        }

        /** @return inputs rejected with a message naming the file */
        public synchronized int rejected() {
            return rejected;
        }

        /** @return what crashed, empty when nothing did */
        public synchronized List<String> crashes() {
            return List.copyOf(crashes);
        }

        /** Prints the HOSTILE line. */
        public synchronized void print() {
            System.out.printf("HOSTILE %s: %d inputs tried, %d rejected with a message, %d crashes (%d decoded)%n",
                    test, tried, rejected, crashes.size(), decoded);
            System.out.flush();
        }
    }
}
