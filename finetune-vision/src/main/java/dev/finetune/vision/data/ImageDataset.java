package dev.finetune.vision.data;

import ai.djl.modality.cv.Image;
import ai.djl.modality.cv.ImageFactory;
import ai.djl.modality.cv.transform.ToTensor;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.training.dataset.RandomAccessDataset;
import ai.djl.training.dataset.Record;
import ai.djl.ndarray.types.Shape;
import ai.djl.translate.Pipeline;
import ai.djl.util.Progress;
import dev.finetune.vision.image.Backdrop;
import dev.finetune.vision.transform.DescribedPipeline;

import java.awt.Color;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Objects;

/**
 * A DJL dataset over a catalog's image files: each record is the decoded image (HWC, colour or
 * grey) passed through the transform pipeline (default: to a CHW tensor in [0, 1]) and its class
 * index. Images are read from disk when a record is asked for, so the pipeline's random
 * augmentations differ every epoch; use an evaluation pipeline for validation, test and feature
 * caching. A transparent image is composited over a background colour before it becomes an array
 * (the {@code ImagePipeline}'s, white by default; see {@link Backdrop}).
 *
 * <p>Given a pipeline made by an {@code ImagePipeline} ({@code training()} or {@code evaluation()}),
 * {@link Builder#build()} checks from the catalog's recorded sizes that every image can become the
 * network input, and fails at once naming the images that cannot, instead of mid-training or in
 * {@code evaluate()} after the fit. {@link #checkShapes()} checks any pipeline by running it once
 * per distinct image size.
 */
public final class ImageDataset extends RandomAccessDataset {

    private final ImageCatalog catalog;
    private final Pipeline transform;
    private final Image.Flag flag;
    private final long maxPixels;
    private final Color background;

    private ImageDataset(Builder builder) {
        super(builder);
        catalog = builder.catalog;
        transform = builder.pipelineOrDefault();
        flag = builder.flag;
        maxPixels = builder.maxPixels;
        background = builder.background();
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

    /** @return the colour transparent pixels are composited over */
    public Color background() {
        return background;
    }

    /** @return the largest image, in pixels, this dataset decodes (checked before decoding) */
    public long maxPixels() {
        return maxPixels;
    }

    /**
     * Runs the pipeline once on a blank image of each distinct image size of the catalog (no file
     * is decoded; a training pipeline made by an {@code ImagePipeline} runs as a twin, so its random
     * draws are untouched) and checks that all give one shape: any pipeline, also one this library
     * did not make, is checked before training.
     *
     * @return the input shape every image gets
     * @throws IOException if a sample without a recorded size has an unreadable header
     * @throws IllegalArgumentException naming the images whose shape differs from the others', or
     *     that the pipeline refuses, and what to do
     */
    public Shape checkShapes() throws IOException {
        return ShapeCheck.byDryRun(catalog, transform, flag);
    }

    @Override
    public Record get(NDManager manager, long index) throws IOException {
        ImageSample s = catalog.samples().get(Math.toIntExact(index));
        BufferedImage decoded = Backdrop.flatten(ImageFiles.read(s.path(), maxPixels), background, flag);
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
        private Color background;

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

        /**
         * @param colour the colour transparent pixels are composited over, for a pipeline not made
         *     by an {@code ImagePipeline} (default white, {@link Backdrop#DEFAULT}); an
         *     {@code ImagePipeline}'s pipeline brings its own ({@code optBackground} there)
         * @return this
         */
        public Builder optBackground(Color colour) {
            background = Objects.requireNonNull(colour, "optBackground(colour)");
            return this;
        }

        private Color background() {
            if (pipeline instanceof DescribedPipeline) {
                return ((DescribedPipeline) pipeline).description().background();
            }
            return background != null ? background : Backdrop.DEFAULT;
        }

        private Pipeline pipelineOrDefault() {
            return pipeline != null ? pipeline : new Pipeline(new ToTensor());
        }

        /**
         * Builds the dataset; with a pipeline made by an {@code ImagePipeline}, first checks from the
         * catalog's recorded sizes (no decoding) that every image can become the network input.
         *
         * @return the dataset
         * @throws IllegalArgumentException naming the images the pipeline cannot frame, and what to do
         * @throws UncheckedIOException if a sample without a recorded size has an unreadable header
         */
        public ImageDataset build() {
            Objects.requireNonNull(catalog, "setCatalog: the images");
            if (sampler == null) {
                throw new IllegalStateException("Call setSampling(batchSize, shuffle) on the ImageDataset builder.");
            }
            if (pipeline instanceof DescribedPipeline) {
                DescribedPipeline described = (DescribedPipeline) pipeline;
                if (background != null && !background.equals(described.description().background())) {
                    throw new IllegalArgumentException("optBackground(" + background + ") differs from the"
                            + " ImagePipeline's background " + described.description().background()
                            + ": set it once, with ImagePipeline.builder().optBackground(colour).");
                }
                try {
                    ShapeCheck.bySize(catalog, described.description());
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                } catch (IllegalArgumentException e) {
                    throw new IllegalArgumentException("ImageDataset (" + (described.isTraining() ? "training"
                            : "evaluation") + " pipeline): " + e.getMessage(), e);
                }
            }
            return new ImageDataset(this);
        }
    }
}
