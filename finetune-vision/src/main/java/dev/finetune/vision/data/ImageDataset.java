package dev.finetune.vision.data;

import ai.djl.modality.cv.Image;
import ai.djl.modality.cv.ImageFactory;
import ai.djl.modality.cv.transform.ToTensor;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.training.dataset.RandomAccessDataset;
import ai.djl.training.dataset.Record;
import ai.djl.translate.Pipeline;
import ai.djl.util.Progress;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.util.Objects;

/**
 * A DJL dataset over a catalog's image files: each record is the decoded image (HWC, colour or
 * grey) passed through the transform pipeline (default: to a CHW tensor in [0, 1]) and its class
 * index. Images are read from disk when a record is asked for, so the pipeline's random
 * augmentations differ every epoch; use an evaluation pipeline for validation, test and feature
 * caching.
 */
public final class ImageDataset extends RandomAccessDataset {

    private final ImageCatalog catalog;
    private final Pipeline transform;
    private final Image.Flag flag;
    private final long maxPixels;

    private ImageDataset(Builder builder) {
        super(builder);
        catalog = builder.catalog;
        transform = builder.pipelineOrDefault();
        flag = builder.flag;
        maxPixels = builder.maxPixels;
        pipeline = null; // applied in get(), so that every reader of a record sees the same input
    }

    /** @return a builder */
    public static Builder builder() {
        return new Builder();
    }

    /** @return the catalog this dataset reads */
    public ImageCatalog catalog() {
        return catalog;
    }

    @Override
    public Record get(NDManager manager, long index) throws IOException {
        ImageSample s = catalog.samples().get(Math.toIntExact(index));
        BufferedImage decoded = ImageFiles.read(s.path(), maxPixels);
        Image image = ImageFactory.getInstance().fromImage(decoded);
        NDArray pixels = image.toNDArray(manager, flag);
        NDList data;
        try {
            data = transform.transform(new NDList(pixels));
        } catch (RuntimeException e) {
            throw new IllegalArgumentException(s.path() + ": " + e.getMessage(), e);
        }
        NDArray label = manager.create((float) s.label());
        return new Record(data, new NDList(label));
    }

    @Override
    protected long availableSize() {
        return catalog.size();
    }

    @Override
    public void prepare(Progress progress) {
        // files are read lazily; the catalog scan already checked them
    }

    /** Builds an image dataset: the catalog and the sampling are required. */
    public static final class Builder extends BaseBuilder<Builder> {
        private ImageCatalog catalog;
        private Image.Flag flag = Image.Flag.COLOR;
        private long maxPixels = ImageFiles.DEFAULT_MAX_PIXELS;

        private Builder() {}

        @Override
        protected Builder self() {
            return this;
        }

        /**
         * @param images the labelled image files
         * @return this
         */
        public Builder setCatalog(ImageCatalog images) {
            catalog = images;
            return this;
        }

        /**
         * @param colour {@code Image.Flag.COLOR} (3 channels, default) or {@code GRAYSCALE} (1)
         * @return this
         */
        public Builder optFlag(Image.Flag colour) {
            flag = Objects.requireNonNull(colour);
            return this;
        }

        /**
         * @param pixels the largest image accepted (checked before decoding)
         * @return this
         */
        public Builder optMaxPixels(long pixels) {
            maxPixels = pixels;
            return this;
        }

        private Pipeline pipelineOrDefault() {
            return pipeline != null ? pipeline : new Pipeline(new ToTensor());
        }

        /** @return the dataset */
        public ImageDataset build() {
            Objects.requireNonNull(catalog, "setCatalog: the images");
            if (sampler == null) {
                throw new IllegalStateException("Call setSampling(batchSize, shuffle) on the ImageDataset builder.");
            }
            return new ImageDataset(this);
        }
    }
}
