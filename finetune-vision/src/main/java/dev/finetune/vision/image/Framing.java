package dev.finetune.vision.image;

import ai.djl.modality.cv.util.NDImageUtils;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.translate.Transform;

import java.awt.Color;
import java.util.Objects;

/**
 * Frames an HWC image of any size (1 or 3 channels, uint8 or float on the 0-255 scale) as exactly
 * width x height (FLOAT32, same channels), by a {@link ResizeMode}. Unlike DJL 0.35.1's
 * {@code ResizeShort} + {@code CenterCrop}, which give 225x224 for a 376x379 image, the output size
 * never depends on the image size: the centre crop picks its window in the source image (the
 * window that scaling the short side to {@code resizeShort} would leave in the middle, rounded to
 * whole pixels) and resizes only that window, which also keeps memory bounded for extreme aspect
 * ratios. Letterboxing fits the long side and fills the rest with the background colour (its luma
 * for one channel). Resizing is bilinear.
 */
public final class Framing implements Transform {

    private final ResizeMode mode;
    private final int width;
    private final int height;
    private final int resizeShort;
    private final Color background;

    /**
     * @param mode how the image is brought to the output size
     * @param width output width
     * @param height output height
     * @param resizeShort for {@link ResizeMode#CENTER_CROP}, the short side the image is scaled to
     *     before the centred window is cut, at least width and height; 0 for the larger of the two.
     *     Must be 0 for the other modes
     * @param background the colour of the letterbox bars ({@link ResizeMode#PAD})
     */
    public Framing(ResizeMode mode, int width, int height, int resizeShort, Color background) {
        this.mode = Objects.requireNonNull(mode, "resize mode");
        if (width < 1 || height < 1) {
            throw new IllegalArgumentException("Framing size must be positive, got " + width + "x" + height);
        }
        if (resizeShort != 0 && (mode != ResizeMode.CENTER_CROP || resizeShort < Math.max(width, height))) {
            throw new IllegalArgumentException("resizeShort " + resizeShort + " applies to CENTER_CROP only and must be"
                    + " at least the output size " + width + "x" + height + " (or 0)");
        }
        this.width = width;
        this.height = height;
        this.resizeShort = resizeShort == 0 ? Math.max(width, height) : resizeShort;
        this.background = Objects.requireNonNull(background, "background colour");
    }

    /**
     * The window of a w x h image that the centre crop keeps: the part that scaling the short side
     * to {@code resizeShort} and cutting the centred {@code width} x {@code height} would keep.
     *
     * @param w image width
     * @param h image height
     * @param width output width
     * @param height output height
     * @param resizeShort the short side after scaling, at least width and height
     * @return x, y, width, height of the window, all whole pixels inside the image
     */
    public static int[] centreWindow(int w, int h, int width, int height, int resizeShort) {
        double sourcePerOutput = Math.min(w, h) / (double) resizeShort;
        int cw = Math.max(1, Math.min(w, (int) Math.round(width * sourcePerOutput)));
        int ch = Math.max(1, Math.min(h, (int) Math.round(height * sourcePerOutput)));
        return new int[] {(w - cw) / 2, (h - ch) / 2, cw, ch};
    }

    /**
     * Brings an image, already cut to the part to show, to exactly width x height: resized for
     * {@link ResizeMode#CENTER_CROP} and {@link ResizeMode#SQUASH}, letterboxed for {@link ResizeMode#PAD}.
     *
     * @param image an HWC image (uint8 or FLOAT32)
     * @param mode the mode
     * @param width output width
     * @param height output height
     * @param background the bars' colour for PAD
     * @return a new width x height HWC array (FLOAT32 for PAD, the input's type otherwise)
     */
    public static NDArray fit(NDArray image, ResizeMode mode, int width, int height, Color background) {
        if (mode != ResizeMode.PAD) {
            return NDImageUtils.resize(image, width, height);
        }
        Shape s = image.getShape();
        int h = (int) s.get(0);
        int w = (int) s.get(1);
        int channels = (int) s.get(2);
        double scale = Math.min(width / (double) w, height / (double) h);
        int nw = Math.max(1, Math.min(width, (int) Math.round(w * scale)));
        int nh = Math.max(1, Math.min(height, (int) Math.round(h * scale)));
        int x = (width - nw) / 2;
        int y = (height - nh) / 2;
        NDArray canvas = image.getManager().zeros(new Shape(height, width, channels), DataType.FLOAT32);
        try (NDArray fill = image.getManager().create(Backdrop.values(background, channels));
                NDArray resized = NDImageUtils.resize(image, nw, nh);
                NDArray values = resized.toType(DataType.FLOAT32, false)) {
            canvas.addi(fill);
            canvas.set(new NDIndex("{}:{}, {}:{}, :", y, y + nh, x, x + nw), values);
        }
        return canvas;
    }

    /** {@inheritDoc} */
    @Override
    public NDArray transform(NDArray array) {
        Shape s = Channels.checkHwc(array, "Framing");
        NDArray image = array.getDataType() == DataType.FLOAT32 ? array : array.toType(DataType.FLOAT32, false);
        try {
            if (mode == ResizeMode.CENTER_CROP) {
                int[] box = centreWindow((int) s.get(1), (int) s.get(0), width, height, resizeShort);
                try (NDArray window = NDImageUtils.crop(image, box[0], box[1], box[2], box[3])) {
                    return fit(window, mode, width, height, background);
                }
            }
            return fit(image, mode, width, height, background);
        } finally {
            if (image != array) {
                image.close();
            }
        }
    }

    @Override
    public String toString() {
        return "Framing(" + mode + " " + width + "x" + height
                + (mode == ResizeMode.CENTER_CROP ? ", short side " + resizeShort : "")
                + (mode == ResizeMode.PAD ? ", background " + Integer.toHexString(background.getRGB() & 0xffffff) : "")
                + ")";
    }
}
