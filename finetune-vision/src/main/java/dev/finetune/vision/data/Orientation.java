package dev.finetune.vision.data;

import java.awt.image.BufferedImage;
import java.awt.image.ColorModel;
import java.awt.image.Raster;
import java.awt.image.WritableRaster;

/**
 * Turns a decoded image upright by its EXIF orientation, exactly (pixels moved, never
 * resampled). The value says where the stored rows and columns belong on screen: 1 upright, 2
 * mirrored left-right, 3 turned 180 degrees, 4 mirrored top-bottom, 5 mirrored along the
 * top-left diagonal (transposed), 6 to be turned 90 degrees clockwise, 7 mirrored along the
 * other diagonal, 8 to be turned 90 degrees anticlockwise. 5 to 8 swap width and height.
 */
final class Orientation {

    private Orientation() {}

    /**
     * @param orientation an EXIF orientation, 1 to 8
     * @return whether the upright image has width and height swapped
     */
    static boolean swapsSides(int orientation) {
        return orientation >= 5 && orientation <= 8;
    }

    /**
     * @param image a decoded image as stored in the file
     * @param orientation its EXIF orientation, 1 to 8 (anything else is taken as 1)
     * @return the upright image: {@code image} itself for 1, else a new image of the same colour model
     */
    static BufferedImage upright(BufferedImage image, int orientation) {
        if (orientation < 2 || orientation > 8) {
            return image;
        }
        Raster src = image.getRaster();
        int w = image.getWidth();
        int h = image.getHeight();
        boolean swap = swapsSides(orientation);
        int outW = swap ? h : w;
        int outH = swap ? w : h;
        ColorModel cm = image.getColorModel();
        int type = image.getType();
        boolean standard = type != BufferedImage.TYPE_CUSTOM && type != BufferedImage.TYPE_BYTE_BINARY
                && type != BufferedImage.TYPE_BYTE_INDEXED;
        BufferedImage upright = standard ? new BufferedImage(outW, outH, type)
                : new BufferedImage(cm, cm.createCompatibleWritableRaster(outW, outH), cm.isAlphaPremultiplied(), null);
        WritableRaster out = upright.getRaster();
        int bands = src.getNumBands();
        int[] line = new int[outW * bands];
        int x0 = src.getMinX();
        int y0 = src.getMinY();
        for (int oy = 0; oy < outH; oy++) {
            // each output row is one source row or column, read forwards or backwards
            boolean reversed;
            switch (orientation) {
                case 2: // mirrored left-right
                    src.getPixels(x0, y0 + oy, w, 1, line);
                    reversed = true;
                    break;
                case 3: // turned 180 degrees
                    src.getPixels(x0, y0 + h - 1 - oy, w, 1, line);
                    reversed = true;
                    break;
                case 4: // mirrored top-bottom
                    src.getPixels(x0, y0 + h - 1 - oy, w, 1, line);
                    reversed = false;
                    break;
                case 5: // transposed: output (x, y) is source (y, x)
                    src.getPixels(x0 + oy, y0, 1, h, line);
                    reversed = false;
                    break;
                case 6: // turned clockwise: output (x, y) is source (y, h - 1 - x)
                    src.getPixels(x0 + oy, y0, 1, h, line);
                    reversed = true;
                    break;
                case 7: // transversed: output (x, y) is source (w - 1 - y, h - 1 - x)
                    src.getPixels(x0 + w - 1 - oy, y0, 1, h, line);
                    reversed = true;
                    break;
                default: // 8, turned anticlockwise: output (x, y) is source (w - 1 - y, x)
                    src.getPixels(x0 + w - 1 - oy, y0, 1, h, line);
                    reversed = false;
                    break;
            }
            if (reversed) {
                reverse(line, outW, bands);
            }
            out.setPixels(0, oy, outW, 1, line);
        }
        return upright;
    }

    private static void reverse(int[] line, int pixels, int bands) {
        for (int i = 0, j = pixels - 1; i < j; i++, j--) {
            for (int b = 0; b < bands; b++) {
                int t = line[i * bands + b];
                line[i * bands + b] = line[j * bands + b];
                line[j * bands + b] = t;
            }
        }
    }
}
