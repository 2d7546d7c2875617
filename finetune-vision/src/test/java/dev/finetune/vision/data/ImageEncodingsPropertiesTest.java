package dev.finetune.vision.data;

import ai.djl.modality.cv.Image;
import ai.djl.modality.cv.ImageFactory;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.finetune.vision.image.Backdrop;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.ShrinkingMode;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.lifecycle.AfterContainer;

import java.awt.Color;
import java.awt.image.BufferedImage;
import java.awt.image.Raster;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The same picture (a random crop of a real photo) in every encoding the JDK reads decodes, as
 * training reads it ({@link ImageFiles#read}, {@link Backdrop#flatten}, DJL's {@code toNDArray}),
 * to the same pixels: exactly for PNG (grey of 1, 2, 4, 8 and 16 bits, grey with alpha of 8 and
 * 16, palette, RGB and RGBA of 8 and 16; 16-bit samples carry up to 128/65535 of noise, so only
 * {@code round(v / 257)} gives them back), and for JPEG (grey, colour, plain CMYK, Adobe CMYK,
 * YCCK) under each EXIF orientation 1 to 8 in either byte order: exactly the JDK's decoded numbers
 * turned upright (CMYK converted from the raw components by {@code R = 255 (1 - C)(1 - K)}), and
 * close to the picture (YCCK: close only). And a JPEG's EXIF segment, however damaged, never breaks
 * decoding: the image decodes upright or as stored, or is refused naming the file.
 */
class ImageEncodingsPropertiesTest {

    private static final long LIMIT = 4_000_000;
    private static final Map<Encodings.Kind, double[]> WORST = new EnumMap<>(Encodings.Kind.class);
    private static final HostileInputs.Tally EXIF = new HostileInputs.Tally("property damagedExifSegments");

    @Provide
    Arbitrary<Encodings.Kind> kinds() {
        return Arbitraries.of(Encodings.Kind.class).withoutEdgeCases();
    }

    @Property(tries = 300, shrinking = ShrinkingMode.BOUNDED)
    void everyEncodingOfAPictureDecodesToItsPixels(@ForAll("kinds") Encodings.Kind kind,
            @ForAll @IntRange(min = 1, max = 40) int w, @ForAll @IntRange(min = 1, max = 40) int h,
            @ForAll @IntRange(min = 0, max = 400) int x, @ForAll @IntRange(min = 0, max = 250) int y,
            @ForAll @IntRange(min = 1, max = 8) int orientation, @ForAll boolean littleEndian, @ForAll long seed)
            throws Exception {
        Encodings.Encoded e = Encodings.encode(kind, x, y, w, h, orientation, littleEndian, seed);
        Path dir = Files.createTempDirectory("encodings");
        Path file = dir.resolve("picture." + kind.extension());
        try {
            Files.write(file, e.bytes());
            int[] decoded = trainingPixels(file);
            assertThat(decoded).as("%s %dx%d: height x width x 3 values", kind, w, h).hasSize(w * h * 3);
            if (!kind.jpeg()) {
                assertThat(decoded).as("%s %dx%d at (%d, %d)", kind, w, h, x, y).containsExactly(e.expected());
                record(kind, 0, 0);
                return;
            }
            int[] jdk = jdkUpright(kind, e.bytes(), w, h, orientation);
            if (jdk != null) {
                assertThat(decoded).as("%s %dx%d orientation %d: the JDK's numbers, upright", kind, w, h, orientation)
                        .containsExactly(jdk);
            }
            double mean = 0;
            int max = 0;
            for (int i = 0; i < decoded.length; i++) {
                int d = Math.abs(decoded[i] - e.expected()[i]);
                mean += d;
                max = Math.max(max, d);
            }
            mean /= decoded.length;
            record(kind, mean, max);
            assertThat(mean).as("%s %dx%d orientation %d: mean |diff| to the picture, in levels", kind, w, h,
                    orientation).isLessThan(8);
        } finally {
            Files.deleteIfExists(file);
            Files.deleteIfExists(dir);
        }
    }

    @Provide
    Arbitrary<List<Integer>> damage() {
        return Arbitraries.integers().between(0, 32 * 256 - 1).list().ofMinSize(1).ofMaxSize(6);
    }

    /**
     * Random bytes written over an EXIF segment's payload (its length kept), or its orientation
     * entry given any value: never an exception other than an IOException naming the file, and a
     * decoded image is the stored one or one of its turns.
     */
    @Property(tries = 300, shrinking = ShrinkingMode.BOUNDED)
    void aDamagedExifSegmentNeverBreaksDecoding(@ForAll @IntRange(min = 0, max = 70000) int orientation,
            @ForAll boolean littleEndian, @ForAll("damage") List<Integer> damage) throws Exception {
        Encodings.Encoded e = Encodings.encode(Encodings.Kind.JPEG_GREY, 200, 100, 24, 16, 1, littleEndian, 1);
        byte[] bytes = Encodings.withExif(e.bytes(), orientation, littleEndian);
        int payload = Encodings.segment(bytes, 0xe1) + 4;
        for (int d : damage) {
            bytes[payload + (d >> 8) % 32] = (byte) d; // "Exif\0\0", the TIFF header and IFD0: 32 bytes
        }
        assertThat(JpegHeader.scan(new ByteArrayInputStream(bytes)).orientation()).isBetween(1, 8);
        Path dir = Files.createTempDirectory("exif");
        Path file = dir.resolve("damaged-exif.jpg");
        try {
            Files.write(file, bytes);
            String refused = EXIF.read(file, LIMIT);
            if (refused == null) {
                BufferedImage img = ImageFiles.read(file, LIMIT);
                int[] size = {img.getWidth(), img.getHeight()};
                assertThat(size).isIn(new int[] {24, 16}, new int[] {16, 24});
                assertThat(ImageFiles.size(file)).containsExactly(size);
            }
            assertThat(EXIF.crashes()).isEmpty();
        } finally {
            Files.deleteIfExists(file);
            Files.deleteIfExists(dir);
        }
    }

    /** The pixels training sees: height x width x 3, 0..255. */
    static int[] trainingPixels(Path file) throws IOException {
        BufferedImage img = Backdrop.flatten(ImageFiles.read(file, LIMIT), Color.WHITE, Image.Flag.COLOR);
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray a = ImageFactory.getInstance().fromImage(img).toNDArray(m, Image.Flag.COLOR);
            return a.toUint8Array();
        }
    }

    /**
     * The JDK decoder's own numbers for a JPEG (grey raster, or RGB through {@code getRGB}; for
     * CMYK the raw components by {@code readRaster}, converted by {@code R = 255 (1 - C)(1 - K)},
     * inverted first for Adobe's), turned upright by the test's own reading of the orientation; null
     * for YCCK, whose raw components are not CMYK.
     */
    private static int[] jdkUpright(Encodings.Kind kind, byte[] bytes, int w, int h, int orientation) throws IOException {
        boolean swap = orientation >= 5;
        int sw = swap ? h : w;
        int sh = swap ? w : h;
        int[] stored = new int[sw * sh * 3];
        if (kind == Encodings.Kind.JPEG_YCCK) {
            return null;
        }
        if (kind == Encodings.Kind.JPEG_CMYK || kind == Encodings.Kind.JPEG_CMYK_ADOBE) {
            boolean adobe = kind == Encodings.Kind.JPEG_CMYK_ADOBE;
            try (ImageInputStream in = ImageIO.createImageInputStream(new ByteArrayInputStream(bytes))) {
                ImageReader reader = ImageIO.getImageReadersByFormatName("jpeg").next();
                reader.setInput(in);
                Raster raw = reader.readRaster(0, null);
                reader.dispose();
                int[] p = new int[4];
                for (int i = 0; i < sw * sh; i++) {
                    raw.getPixel(i % sw, i / sw, p);
                    int k = adobe ? p[3] : 255 - p[3];
                    for (int c = 0; c < 3; c++) {
                        int left = adobe ? p[c] : 255 - p[c];
                        stored[3 * i + c] = Math.round(left * k / 255f);
                    }
                }
            }
        } else {
            BufferedImage img = ImageIO.read(new ByteArrayInputStream(bytes));
            for (int i = 0; i < sw * sh; i++) {
                if (kind == Encodings.Kind.JPEG_GREY) {
                    int g = img.getRaster().getSample(i % sw, i / sw, 0);
                    stored[3 * i] = stored[3 * i + 1] = stored[3 * i + 2] = g;
                } else {
                    int rgb = img.getRGB(i % sw, i / sw);
                    stored[3 * i] = (rgb >> 16) & 0xff;
                    stored[3 * i + 1] = (rgb >> 8) & 0xff;
                    stored[3 * i + 2] = rgb & 0xff;
                }
            }
        }
        // where each upright pixel is stored, by the test's reading of the orientation
        int[] ids = new int[w * h];
        Arrays.setAll(ids, i -> i);
        int[] where = Encodings.stored(ids, w, h, orientation);
        int[] upright = new int[w * h * 3];
        for (int j = 0; j < where.length; j++) {
            System.arraycopy(stored, 3 * j, upright, 3 * where[j], 3);
        }
        return upright;
    }

    private static synchronized void record(Encodings.Kind kind, double mean, int max) {
        double[] worst = WORST.computeIfAbsent(kind, k -> new double[3]);
        worst[0]++;
        worst[1] = Math.max(worst[1], mean);
        worst[2] = Math.max(worst[2], max);
    }

    @AfterContainer
    static void print() {
        StringBuilder s = new StringBuilder("ENCODINGS tries, worst mean and max |diff| to the picture in levels:");
        for (Iterator<Map.Entry<Encodings.Kind, double[]>> it = WORST.entrySet().iterator(); it.hasNext();) {
            Map.Entry<Encodings.Kind, double[]> e = it.next();
            s.append(String.format(Locale.ROOT, " %s %d, %.2f, %d;", e.getKey(), (int) e.getValue()[0],
                    e.getValue()[1], (int) e.getValue()[2]));
        }
        System.out.println(s);
        EXIF.print();
    }
}
