package dev.finetune.vision.export;

import ai.djl.modality.cv.BufferedImageFactory;
import ai.djl.modality.cv.Image;
import dev.finetune.vision.data.ImageFiles;

import java.io.IOException;
import java.io.InputStream;
import java.net.URL;
import java.nio.file.Path;

/**
 * A DJL image factory that decodes as training does, with {@link ImageFiles#read}: exact 8-bit
 * samples for 16-bit PNGs (no colour-space conversion), JPEGs turned upright by their EXIF
 * orientation, CMYK JPEGs converted to RGB, and the size limit and damage checks. DJL's own
 * {@code BufferedImageFactory} reads with plain {@code ImageIO.read}, which ignores the orientation,
 * gives a 16-bit grey PNG brighter than its 8-bit twin and a CMYK JPEG all black.
 *
 * <p>The served translator ({@link ImageClassifierTranslatorFactory}) decodes its {@code Path},
 * {@code URL}, {@code String}, {@code InputStream} and serving {@code Input} requests with this
 * factory. An {@code Image} handed to a predictor was decoded by its caller; to have
 * {@code ImageFactory.getInstance().fromFile(path)} decode as training does, install this factory
 * once with {@code ImageFactory.setImageFactory(new ExactImageFactory())}.
 */
public class ExactImageFactory extends BufferedImageFactory {

    private final long maxPixels;

    /** With the default size limit, {@link ImageFiles#DEFAULT_MAX_PIXELS}. */
    public ExactImageFactory() {
        this(ImageFiles.DEFAULT_MAX_PIXELS);
    }

    /**
     * @param maxPixels the largest width x height decoded; larger images are refused from their header
     */
    public ExactImageFactory(long maxPixels) {
        if (maxPixels <= 0) {
            throw new IllegalArgumentException("maxPixels must be positive, not " + maxPixels);
        }
        this.maxPixels = maxPixels;
    }

    @Override
    public Image fromFile(Path path) throws IOException {
        return fromImage(ImageFiles.read(path, maxPixels));
    }

    @Override
    public Image fromUrl(URL url) throws IOException {
        try (InputStream in = url.openStream()) {
            return fromImage(ImageFiles.read(in.readAllBytes(), url.toString(), maxPixels));
        }
    }

    @Override
    public Image fromInputStream(InputStream is) throws IOException {
        return fromImage(ImageFiles.read(is.readAllBytes(), "the image stream", maxPixels));
    }
}
