package dev.finetune.vision.image;

import java.awt.Transparency;
import java.awt.color.ColorSpace;
import java.awt.image.BufferedImage;
import java.awt.image.ColorModel;
import java.awt.image.ComponentColorModel;
import java.awt.image.DataBuffer;
import java.awt.image.DirectColorModel;
import java.awt.image.IndexColorModel;
import java.awt.image.Raster;
import java.awt.image.WritableRaster;

/**
 * Decoded images as 8-bit samples that DJL's {@code Image.toNDArray} and {@link Backdrop} read
 * exactly, without a colour-space conversion. The JDK reads a grey PNG as linear grey
 * ({@code CS_GRAY}), and DJL reads any image but {@code TYPE_BYTE_GRAY} through {@code getRGB},
 * which converts linear grey to sRGB: a 16-bit grey picture came out up to 0.286 brighter per pixel
 * than the same picture as 8-bit grey. Here every sample is scaled on its own, {@code
 * round(v * 255 / (2^bits - 1))} (for 16 bits {@code round(v / 257)}), and the picture's numbers
 * stay the file's numbers:
 *
 * <ul>
 *   <li>grey of any bit depth becomes {@code TYPE_BYTE_GRAY};
 *   <li>grey with alpha becomes 8-bit grey with alpha (which {@link Backdrop} composites);
 *   <li>sRGB of more than 8 bits (16-bit PNG) becomes {@code TYPE_INT_RGB}, or {@code TYPE_INT_ARGB}
 *       (not premultiplied) with alpha;
 *   <li>8-bit grey, 8-bit sRGB and palette images are returned as they are (their values are
 *       already exact, and stay identical to earlier releases);
 *   <li>any other colour space (an embedded ICC profile the decoder kept) is returned as is and
 *       read through the JDK's colour conversion, the file's own colour management.
 * </ul>
 *
 * A CMYK image is refused: its four numbers mean ink in one of two conventions that only the file
 * tells apart (an Adobe marker inverts them), so it must be decoded from the file, by {@code
 * ImageFiles.read}.
 */
public final class ExactPixels {

    private ExactPixels() {}

    /**
     * @param image a decoded image
     * @return whether DJL and {@link Backdrop} read its samples as they are: 8-bit grey
     *     ({@code TYPE_BYTE_GRAY}), 8-bit grey with alpha, 8-bit sRGB (interleaved or packed) or a palette
     */
    public static boolean isExact(BufferedImage image) {
        ColorModel cm = image.getColorModel();
        if (cm instanceof IndexColorModel) {
            return true;
        }
        if (cm.isAlphaPremultiplied() || !allEightBit(cm)) {
            return false;
        }
        ColorSpace cs = cm.getColorSpace();
        if (cm instanceof DirectColorModel) {
            return cs.isCS_sRGB();
        }
        if (!(cm instanceof ComponentColorModel) || cm.getTransferType() != DataBuffer.TYPE_BYTE) {
            return false;
        }
        if (cs.isCS_sRGB()) {
            return true;
        }
        if (cs.getType() == ColorSpace.TYPE_GRAY && cm.getNumColorComponents() == 1) {
            // DJL reads only TYPE_BYTE_GRAY's raster directly; Backdrop reads grey with alpha directly
            return cm.hasAlpha() || image.getType() == BufferedImage.TYPE_BYTE_GRAY;
        }
        return false;
    }

    /**
     * @param image a decoded image
     * @return whether it is CMYK (or YCCK): four colour components that are ink, not light
     */
    public static boolean isCmyk(BufferedImage image) {
        return image.getColorModel().getColorSpace().getType() == ColorSpace.TYPE_CMYK;
    }

    /**
     * The image with 8-bit samples scaled exactly from the decoded ones (see the class comment).
     *
     * @param image a decoded image
     * @return {@code image} itself when {@link #isExact} or in a colour space left to the JDK, else
     *     a new 8-bit image of the same size
     * @throws IllegalArgumentException for a CMYK image, saying to decode the file with {@code ImageFiles.read}
     */
    public static BufferedImage of(BufferedImage image) {
        if (isExact(image)) {
            return image;
        }
        ColorModel cm = image.getColorModel();
        ColorSpace cs = cm.getColorSpace();
        if (cs.getType() == ColorSpace.TYPE_CMYK) {
            throw new IllegalArgumentException("A CMYK image (" + image.getWidth() + "x" + image.getHeight()
                    + ") cannot be converted to RGB exactly once decoded: whether its numbers are inverted depends"
                    + " on the file's Adobe marker. Decode the file with ImageFiles.read (or give the served model"
                    + " its Path, URL or bytes), or convert it to RGB.");
        }
        if (!(cm instanceof ComponentColorModel) || cm.isAlphaPremultiplied()) {
            return image; // packed or premultiplied layouts that PNG and JPEG never produce: left to the JDK
        }
        int colours = cm.getNumColorComponents();
        if (cs.getType() == ColorSpace.TYPE_GRAY && colours == 1) {
            return grey(image, cm);
        }
        if (cs.isCS_sRGB() && colours == 3) {
            return rgb(image, cm);
        }
        return image;
    }

    private static boolean allEightBit(ColorModel cm) {
        for (int size : cm.getComponentSize()) {
            if (size != 8) {
                return false;
            }
        }
        return true;
    }

    private static BufferedImage grey(BufferedImage image, ColorModel cm) {
        int w = image.getWidth();
        int h = image.getHeight();
        boolean alpha = cm.hasAlpha();
        BufferedImage out;
        if (alpha) {
            ComponentColorModel greyAlpha = new ComponentColorModel(ColorSpace.getInstance(ColorSpace.CS_GRAY),
                    new int[] {8, 8}, true, false, Transparency.TRANSLUCENT, DataBuffer.TYPE_BYTE);
            out = new BufferedImage(greyAlpha, greyAlpha.createCompatibleWritableRaster(w, h), false, null);
        } else {
            out = new BufferedImage(w, h, BufferedImage.TYPE_BYTE_GRAY);
        }
        copyScaled(image.getRaster(), cm, out.getRaster(), alpha ? 2 : 1);
        return out;
    }

    private static BufferedImage rgb(BufferedImage image, ColorModel cm) {
        int w = image.getWidth();
        int h = image.getHeight();
        boolean alpha = cm.hasAlpha();
        BufferedImage out = new BufferedImage(w, h, alpha ? BufferedImage.TYPE_INT_ARGB : BufferedImage.TYPE_INT_RGB);
        copyScaled(image.getRaster(), cm, out.getRaster(), alpha ? 4 : 3);
        return out;
    }

    /** Copies bands 0..bands-1, each scaled from its own bit depth to 8 bits with rounding. */
    private static void copyScaled(Raster src, ColorModel cm, WritableRaster target, int bands) {
        int w = src.getWidth();
        int h = src.getHeight();
        int[] max = new int[bands];
        for (int b = 0; b < bands; b++) {
            max[b] = (int) ((1L << cm.getComponentSize(b)) - 1);
        }
        int[] samples = new int[w];
        int[] row = new int[w * bands];
        for (int y = 0; y < h; y++) {
            for (int b = 0; b < bands; b++) {
                src.getSamples(src.getMinX(), src.getMinY() + y, w, 1, b, samples);
                for (int x = 0; x < w; x++) {
                    row[x * bands + b] = scale(samples[x], max[b]);
                }
            }
            target.setPixels(0, y, w, 1, row);
        }
    }

    /**
     * @param value a sample
     * @param max the largest sample of its bit depth (255, 65535, ...)
     * @return {@code round(value * 255 / max)}: for 16 bits {@code round(value / 257)}; never a tie,
     *     as {@code max} is odd
     */
    static int scale(int value, int max) {
        if (max == 255) {
            return value;
        }
        int v = Math.max(0, Math.min(max, value));
        return (int) ((v * 255L + max / 2) / max);
    }
}
