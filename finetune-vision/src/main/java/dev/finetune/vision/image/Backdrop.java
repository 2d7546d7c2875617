package dev.finetune.vision.image;

import ai.djl.modality.cv.Image;
import ai.djl.modality.cv.ImageFactory;

import java.awt.Color;
import java.awt.image.BufferedImage;
import java.awt.image.ColorModel;
import java.awt.image.Raster;
import java.awt.image.WritableRaster;
import java.util.Objects;

/**
 * Composites transparent images (RGBA, grey with alpha, palette with a tRNS chunk) over a stated
 * background colour before they become arrays. DJL's {@code ImageFactory} drops the alpha channel
 * and keeps whatever colour the file stores under transparent pixels (white in some files, black in
 * others), so the same picture could reach the network in two looks; composited, a fully
 * transparent pixel is the background colour whatever the file stored under it, and a partly
 * transparent one is {@code round((c * a + background * (255 - a)) / 255)} per channel on the 8-bit
 * scale. Images without alpha pass through unchanged, but for samples of more than 8 bits (a
 * 16-bit PNG), which are first scaled exactly to 8 by {@link ExactPixels}, as the two places every
 * image passes before it becomes an array (the dataset and the served translator) both call
 * {@code flatten}. The grey value of a colour is DJL's luma, {@code round(0.299 R + 0.587 G + 0.114 B)}.
 */
public final class Backdrop {

    /** The default background: white, the usual choice for clip art and product photos. */
    public static final Color DEFAULT = Color.WHITE;

    private Backdrop() {}

    /**
     * @param background a colour
     * @return its 8-bit grey value, {@code round(0.299 R + 0.587 G + 0.114 B)} (as DJL converts colour to grey)
     */
    public static int luma(Color background) {
        return Math.round(0.299f * background.getRed() + 0.587f * background.getGreen() + 0.114f * background.getBlue());
    }

    /**
     * @param background a colour
     * @param channels 1 (grey: the luma) or 3 (red, green, blue)
     * @return the colour's values on the 0-255 scale
     */
    public static float[] values(Color background, int channels) {
        if (channels == 1) {
            return new float[] {luma(background)};
        }
        return new float[] {background.getRed(), background.getGreen(), background.getBlue()};
    }

    /**
     * Composites a DJL image over the background when it wraps a {@link BufferedImage} with alpha
     * (images from DJL's default {@code BufferedImageFactory}), and gives one of more than 8 bits
     * (a 16-bit PNG) its exact 8-bit samples ({@link ExactPixels}); any other image is returned as is.
     *
     * @param image a decoded image
     * @param background the colour under transparent pixels
     * @param flag the channels the image will be read with
     * @return an image without alpha, or {@code image} itself
     * @throws IllegalArgumentException for a CMYK image, which only its file can convert exactly
     */
    public static Image flatten(Image image, Color background, Image.Flag flag) {
        Object wrapped = image.getWrappedImage();
        if (wrapped instanceof BufferedImage) {
            BufferedImage flat = flatten((BufferedImage) wrapped, background, flag);
            if (flat != wrapped) {
                return ImageFactory.getInstance().fromImage(flat);
            }
        }
        return image;
    }

    /**
     * Composites an image over the background. A grey image with alpha, or any image read with
     * {@code Image.Flag.GRAYSCALE}, becomes {@code TYPE_BYTE_GRAY} (its raw grey values, as DJL
     * reads a grey file); other images with alpha become {@code TYPE_INT_RGB}. Samples of more than
     * 8 bits are first scaled exactly to 8 ({@link ExactPixels#of}), so a 16-bit image without alpha
     * comes back as its 8-bit twin.
     *
     * @param decoded a decoded image
     * @param background the colour under transparent pixels
     * @param flag the channels the image will be read with
     * @return an image without alpha, or {@code decoded} itself when it has none and 8-bit samples
     * @throws IllegalArgumentException for a CMYK image, which only its file can convert exactly
     */
    public static BufferedImage flatten(BufferedImage decoded, Color background, Image.Flag flag) {
        Objects.requireNonNull(background, "background colour");
        BufferedImage image = ExactPixels.of(decoded);
        ColorModel cm = image.getColorModel();
        if (!cm.hasAlpha()) {
            return image;
        }
        int w = image.getWidth();
        int h = image.getHeight();
        boolean greySource = cm.getNumColorComponents() == 1 && !(cm instanceof java.awt.image.IndexColorModel);
        boolean greyOut = flag == Image.Flag.GRAYSCALE;
        int[] bg = {background.getRed(), background.getGreen(), background.getBlue()};
        int bgGrey = luma(background);
        BufferedImage out = new BufferedImage(w, h, greyOut ? BufferedImage.TYPE_BYTE_GRAY : BufferedImage.TYPE_INT_RGB);
        WritableRaster target = out.getRaster();
        if (greySource) {
            Raster src = image.getRaster();
            int greyMax = (1 << cm.getComponentSize(0)) - 1;
            int alphaMax = (1 << cm.getComponentSize(1)) - 1;
            int[] g = new int[w];
            int[] a = new int[w];
            int[] row = new int[w * (greyOut ? 1 : 3)];
            for (int y = 0; y < h; y++) {
                src.getSamples(0, y, w, 1, 0, g);
                src.getSamples(0, y, w, 1, 1, a);
                for (int x = 0; x < w; x++) {
                    int grey = scale(g[x], greyMax);
                    int alpha = scale(a[x], alphaMax);
                    if (greyOut) {
                        row[x] = over(grey, alpha, bgGrey);
                    } else {
                        for (int c = 0; c < 3; c++) {
                            row[3 * x + c] = over(grey, alpha, bg[c]);
                        }
                    }
                }
                target.setPixels(0, y, w, 1, row);
            }
            return out;
        }
        int[] argb = new int[w];
        int[] row = new int[w * (greyOut ? 1 : 3)];
        for (int y = 0; y < h; y++) {
            image.getRGB(0, y, w, 1, argb, 0, w);
            for (int x = 0; x < w; x++) {
                int p = argb[x];
                int alpha = p >>> 24;
                int r = over((p >> 16) & 0xff, alpha, bg[0]);
                int gr = over((p >> 8) & 0xff, alpha, bg[1]);
                int b = over(p & 0xff, alpha, bg[2]);
                if (greyOut) {
                    row[x] = Math.round(0.299f * r + 0.587f * gr + 0.114f * b);
                } else {
                    row[3 * x] = r;
                    row[3 * x + 1] = gr;
                    row[3 * x + 2] = b;
                }
            }
            target.setPixels(0, y, w, 1, row);
        }
        return out;
    }

    private static int scale(int value, int max) {
        return max == 255 ? value : (int) ((value * 255L + max / 2) / max);
    }

    private static int over(int colour, int alpha, int background) {
        return (colour * alpha + background * (255 - alpha) + 127) / 255;
    }
}
