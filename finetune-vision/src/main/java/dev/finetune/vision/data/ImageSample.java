package dev.finetune.vision.data;

import java.nio.file.Path;

/**
 * One labelled image file, with its size as the catalog scan found it.
 *
 * @param path the file
 * @param label the class index
 * @param group the unit it belongs to (patient, product, video), or null when there are no groups
 * @param width the image width in pixels, or 0 when not known (then read from the header when needed)
 * @param height the image height in pixels, or 0 when not known
 */
public record ImageSample(Path path, int label, String group, int width, int height) {

    /**
     * Checks the size.
     *
     * @param path the file
     * @param label the class index
     * @param group the unit it belongs to (patient, product, video), or null when there are no groups
     * @param width the image width in pixels, or 0 when not known (then read from the header when needed)
     * @param height the image height in pixels, or 0 when not known
     */
    public ImageSample {
        if (width < 0 || height < 0 || (width == 0) != (height == 0)) {
            throw new IllegalArgumentException("Image size must be positive, or 0x0 for unknown, got " + width + "x"
                    + height + " for " + path);
        }
    }

    /**
     * A sample whose size is not known yet.
     *
     * @param path the file
     * @param label the class index
     * @param group the unit it belongs to, or null
     */
    public ImageSample(Path path, int label, String group) {
        this(path, label, group, 0, 0);
    }

    /** @return whether the size is known */
    public boolean hasSize() {
        return width > 0;
    }
}
