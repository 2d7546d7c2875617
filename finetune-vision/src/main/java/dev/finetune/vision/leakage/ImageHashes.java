package dev.finetune.vision.leakage;

import dev.finetune.vision.data.ImageFiles;

import java.awt.Graphics2D;
import java.awt.Image;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.HexFormat;

/**
 * Content and perceptual hashes of image files: SHA-256 of the bytes (exact copies) and a 64-bit
 * DCT perceptual hash (pHash) of the decoded image that survives re-encoding, resizing and small
 * brightness changes (near copies).
 */
public final class ImageHashes {

    private static final int SIZE = 32;
    private static final double[][] DCT = dctMatrix(SIZE);

    private ImageHashes() {}

    /**
     * @param file an image file
     * @return the hex SHA-256 of its bytes
     * @throws IOException if it cannot be read
     */
    public static String sha256(Path file) throws IOException {
        try {
            MessageDigest digest = MessageDigest.getInstance("SHA-256");
            return HexFormat.of().formatHex(digest.digest(Files.readAllBytes(file)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM", e);
        }
    }

    /**
     * The perceptual hash: the image in grey, averaged down to 32x32, 2-D DCT, the 8x8 lowest
     * frequencies without the constant term, each bit set when above their median. The file is
     * decoded as training decodes it ({@link ImageFiles#read}: exact 8-bit samples, upright by its
     * EXIF orientation, at most {@link ImageFiles#DEFAULT_MAX_PIXELS}), so the same picture in
     * another encoding hashes the same.
     *
     * @param file an image file
     * @return 64 bits
     * @throws IOException if it cannot be read or decoded as an image; the message names the file
     */
    public static long perceptual(Path file) throws IOException {
        return perceptual(ImageFiles.read(file, ImageFiles.DEFAULT_MAX_PIXELS));
    }

    /**
     * @param img a decoded image
     * @return its 64-bit perceptual hash
     */
    public static long perceptual(BufferedImage img) {
        Image scaled = img.getScaledInstance(SIZE, SIZE, Image.SCALE_AREA_AVERAGING);
        BufferedImage grey = new BufferedImage(SIZE, SIZE, BufferedImage.TYPE_BYTE_GRAY);
        Graphics2D g = grey.createGraphics();
        g.drawImage(scaled, 0, 0, null);
        g.dispose();
        double[][] pixels = new double[SIZE][SIZE];
        for (int y = 0; y < SIZE; y++) {
            for (int x = 0; x < SIZE; x++) {
                pixels[y][x] = grey.getRaster().getSample(x, y, 0);
            }
        }
        double[][] freq = multiply(multiply(DCT, pixels), transpose(DCT));
        double[] low = new double[64];
        int k = 0;
        for (int u = 0; u < 8; u++) {
            for (int v = 0; v < 8; v++) {
                low[k++] = (u == 0 && v == 0) ? 0 : freq[u][v];
            }
        }
        double[] sorted = Arrays.copyOfRange(low, 1, 64);
        Arrays.sort(sorted);
        double median = sorted[sorted.length / 2];
        long hash = 0;
        for (int i = 1; i < 64; i++) {
            if (low[i] > median) {
                hash |= 1L << i;
            }
        }
        return hash;
    }

    /**
     * @param a a hash
     * @param b another hash
     * @return the number of differing bits
     */
    public static int distance(long a, long b) {
        return Long.bitCount(a ^ b);
    }

    private static double[][] dctMatrix(int n) {
        double[][] m = new double[n][n];
        for (int u = 0; u < n; u++) {
            double scale = u == 0 ? Math.sqrt(1.0 / n) : Math.sqrt(2.0 / n);
            for (int x = 0; x < n; x++) {
                m[u][x] = scale * Math.cos((2 * x + 1) * u * Math.PI / (2.0 * n));
            }
        }
        return m;
    }

    private static double[][] multiply(double[][] a, double[][] b) {
        int n = a.length;
        int m = b[0].length;
        double[][] out = new double[n][m];
        for (int i = 0; i < n; i++) {
            for (int k = 0; k < b.length; k++) {
                double v = a[i][k];
                for (int j = 0; j < m; j++) {
                    out[i][j] += v * b[k][j];
                }
            }
        }
        return out;
    }

    private static double[][] transpose(double[][] a) {
        double[][] t = new double[a[0].length][a.length];
        for (int i = 0; i < a.length; i++) {
            for (int j = 0; j < a[0].length; j++) {
                t[j][i] = a[i][j];
            }
        }
        return t;
    }
}
