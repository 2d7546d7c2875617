package dev.finetune.vision.interpret;

import ai.djl.modality.cv.Image;
import dev.finetune.vision.data.ImageFiles;
import dev.finetune.vision.image.Backdrop;

import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.awt.image.ColorModel;
import java.awt.image.IndexColorModel;
import java.awt.image.Raster;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import javax.imageio.ImageIO;

/**
 * The layout and drawing of {@link Interpretation#writeContactSheet}: a white PNG of
 * {@code columns x rows} cells, filled row by row in the order of the losses. Each cell is
 * {@code max(thumbnail, }{@value #MIN_TEXT_WIDTH}{@code ) + 2 x }{@value #MARGIN} pixels wide and
 * {@code thumbnail + 2 x }{@value #MARGIN}{@code  + }{@value #CAPTION_HEIGHT} high: the image in a
 * light grey square of {@code thumbnail} pixels, centred across the cell {@value #MARGIN} pixels
 * below its top, then three caption lines of {@value #LINE_HEIGHT} pixels: "true / predicted" (red
 * for a mistake, green for a right answer), "p=0.93 loss=2.41" (the probability of the prediction and
 * the image's loss) and the file name, each cut with "..." to the cell's width.
 *
 * <p>The image is shown whole (not the crop the model saw), decoded as the dataset decodes it and
 * scaled to fit the square with its aspect ratio kept: enlarged by nearest neighbour (each pixel a
 * block, so small images stay sharp and exact), reduced by repeated halving with bilinear filtering.
 */
public final class ContactSheet {

    /** The default side of a thumbnail's square, in pixels. */
    public static final int DEFAULT_THUMBNAIL = 160;
    /** Space around a thumbnail's square, in pixels. */
    public static final int MARGIN = 4;
    /** The narrowest space for the captions, in pixels: a cell is at least this plus the margins wide. */
    public static final int MIN_TEXT_WIDTH = 160;
    /** Height of a caption line, in pixels. */
    public static final int LINE_HEIGHT = 14;
    /** Height of a cell's three caption lines, in pixels. */
    public static final int CAPTION_HEIGHT = 3 * LINE_HEIGHT;

    /** Behind a thumbnail that does not fill its square. */
    static final Color BOX = new Color(0xE8E8E8);
    private static final Color MISTAKE = new Color(0xB00020);
    private static final Color RIGHT = new Color(0x1B7F3B);
    private static final Color TEXT = new Color(0x303030);

    private ContactSheet() {}

    /**
     * Where things are on a sheet.
     *
     * @param count the images shown
     * @param columns cells per row
     * @param rows rows of cells
     * @param thumbnail the side of a thumbnail's square
     * @param cellWidth a cell's width
     * @param cellHeight a cell's height
     */
    record Layout(int count, int columns, int rows, int thumbnail, int cellWidth, int cellHeight) {

        static Layout of(int count, int columns, int thumbnail) {
            if (count < 1 || columns < 1 || thumbnail < 1) {
                throw new IllegalArgumentException("A contact sheet needs at least one image, one column and a"
                        + " thumbnail of 1 pixel or more, got " + count + " images, " + columns + " columns, "
                        + thumbnail + " px");
            }
            int cols = Math.min(columns, count);
            int rows = (count + cols - 1) / cols;
            return new Layout(count, cols, rows, thumbnail, Math.max(thumbnail, MIN_TEXT_WIDTH) + 2 * MARGIN,
                    thumbnail + 2 * MARGIN + CAPTION_HEIGHT);
        }

        int width() {
            return columns * cellWidth;
        }

        int height() {
            return rows * cellHeight;
        }

        /** @return the left edge of cell k's thumbnail square */
        int squareX(int k) {
            return (k % columns) * cellWidth + (cellWidth - thumbnail) / 2;
        }

        /** @return the top edge of cell k's thumbnail square */
        int squareY(int k) {
            return (k / columns) * cellHeight + MARGIN;
        }
    }

    /** The three caption lines of a cell. */
    static List<String> caption(Prediction p) {
        return List.of(p.trueName() + " / " + p.predictedName(),
                String.format(Locale.ROOT, "p=%.2f loss=%.2f", p.probability(), p.loss()),
                p.fileName());
    }

    static void write(Path png, List<Prediction> shown, int columns, int thumbnail, long maxPixels, Color background)
            throws IOException {
        Layout layout = Layout.of(shown.size(), columns, thumbnail);
        BufferedImage sheet = new BufferedImage(layout.width(), layout.height(), BufferedImage.TYPE_INT_RGB);
        Graphics2D g = sheet.createGraphics();
        try {
            g.setColor(Color.WHITE);
            g.fillRect(0, 0, sheet.getWidth(), sheet.getHeight());
            g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
            g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 11));
            FontMetrics metrics = g.getFontMetrics();
            for (int k = 0; k < shown.size(); k++) {
                Prediction p = shown.get(k);
                int x = layout.squareX(k);
                int y = layout.squareY(k);
                g.setColor(BOX);
                g.fillRect(x, y, thumbnail, thumbnail);
                BufferedImage image = fit(read(p.path(), maxPixels, background), thumbnail);
                g.drawImage(image, x + (thumbnail - image.getWidth()) / 2, y + (thumbnail - image.getHeight()) / 2,
                        null);
                int textX = (k % layout.columns()) * layout.cellWidth() + MARGIN;
                int textWidth = layout.cellWidth() - 2 * MARGIN;
                List<String> lines = caption(p);
                for (int i = 0; i < lines.size(); i++) {
                    g.setColor(i > 0 ? TEXT : p.isMistake() ? MISTAKE : RIGHT);
                    int baseline = y + thumbnail + MARGIN + i * LINE_HEIGHT + metrics.getAscent();
                    g.drawString(cut(lines.get(i), metrics, textWidth), textX, baseline);
                }
            }
        } finally {
            g.dispose();
        }
        if (!ImageIO.write(sheet, "png", png.toFile())) {
            throw new IOException("No PNG writer in this JDK for " + png);
        }
    }

    /** The file decoded as the dataset decodes it, transparency over its background, as 8-bit RGB. */
    static BufferedImage read(Path file, long maxPixels, Color background) throws IOException {
        return toRgb(Backdrop.flatten(ImageFiles.read(file, maxPixels), background, Image.Flag.COLOR));
    }

    /** Exact 8-bit RGB: a grey image's samples copied to the three channels (no colour-space conversion). */
    static BufferedImage toRgb(BufferedImage image) {
        if (image.getType() == BufferedImage.TYPE_INT_RGB) {
            return image;
        }
        int w = image.getWidth();
        int h = image.getHeight();
        BufferedImage out = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        ColorModel cm = image.getColorModel();
        int[] row = new int[w];
        if (!(cm instanceof IndexColorModel) && cm.getNumComponents() == 1 && cm.getComponentSize(0) == 8) {
            Raster raster = image.getRaster();
            int[] grey = new int[w];
            for (int y = 0; y < h; y++) {
                raster.getSamples(0, y, w, 1, 0, grey);
                for (int x = 0; x < w; x++) {
                    row[x] = grey[x] * 0x010101;
                }
                out.setRGB(0, y, w, 1, row, 0, w);
            }
            return out;
        }
        for (int y = 0; y < h; y++) {
            image.getRGB(0, y, w, 1, row, 0, w);
            for (int x = 0; x < w; x++) {
                row[x] &= 0xFFFFFF;
            }
            out.setRGB(0, y, w, 1, row, 0, w);
        }
        return out;
    }

    /** The image scaled to fit a square of {@code size}, aspect ratio kept. */
    static BufferedImage fit(BufferedImage rgb, int size) {
        int w = rgb.getWidth();
        int h = rgb.getHeight();
        double scale = Math.min((double) size / w, (double) size / h);
        int dw = Math.max(1, Math.min(size, (int) Math.round(w * scale)));
        int dh = Math.max(1, Math.min(size, (int) Math.round(h * scale)));
        if (dw == w && dh == h) {
            return rgb;
        }
        if (dw >= w && dh >= h) {
            return nearest(rgb, dw, dh);
        }
        BufferedImage current = rgb;
        while (current.getWidth() / 2 >= dw && current.getHeight() / 2 >= dh) {
            current = bilinear(current, current.getWidth() / 2, current.getHeight() / 2);
        }
        return bilinear(current, dw, dh);
    }

    /** Enlarges: each target pixel takes the source pixel under its centre. */
    private static BufferedImage nearest(BufferedImage src, int dw, int dh) {
        int w = src.getWidth();
        int h = src.getHeight();
        BufferedImage out = new BufferedImage(dw, dh, BufferedImage.TYPE_INT_RGB);
        int[] srcRow = new int[w];
        int[] row = new int[dw];
        for (int y = 0; y < dh; y++) {
            int sy = Math.min(h - 1, (int) ((y + 0.5) * h / dh));
            src.getRGB(0, sy, w, 1, srcRow, 0, w);
            for (int x = 0; x < dw; x++) {
                row[x] = srcRow[Math.min(w - 1, (int) ((x + 0.5) * w / dw))];
            }
            out.setRGB(0, y, dw, 1, row, 0, dw);
        }
        return out;
    }

    private static BufferedImage bilinear(BufferedImage src, int dw, int dh) {
        BufferedImage out = new BufferedImage(dw, dh, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = out.createGraphics();
        try {
            g.setRenderingHint(RenderingHints.KEY_INTERPOLATION, RenderingHints.VALUE_INTERPOLATION_BILINEAR);
            g.drawImage(src, 0, 0, dw, dh, null);
        } finally {
            g.dispose();
        }
        return out;
    }

    /** The text, cut with "..." to fit the width. */
    private static String cut(String text, FontMetrics metrics, int width) {
        if (metrics.stringWidth(text) <= width) {
            return text;
        }
        int end = text.length();
        while (end > 0 && metrics.stringWidth(text.substring(0, end) + "...") > width) {
            end--;
        }
        return text.substring(0, end) + "...";
    }
}
