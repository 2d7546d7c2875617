package dev.finetune.vision.data;

import ai.djl.modality.cv.transform.CenterCrop;
import ai.djl.modality.cv.transform.ResizeShort;
import ai.djl.modality.cv.transform.ToTensor;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.dataset.Batch;
import ai.djl.translate.Pipeline;
import dev.finetune.vision.image.ResizeMode;
import dev.finetune.vision.transform.ImagePipeline;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * A folder of odd-sized images (the clip-art sizes of issue 12): every one batches with an
 * ImagePipeline, and a shape problem fails before training, naming the file.
 */
class ShapeCheckTest {

    @TempDir
    Path dir;

    private static final int[][] SIZES = {{376, 379}, {400, 402}, {500, 500}, {300, 120}, {59, 61}, {1, 300}};

    private ImageCatalog folder() throws Exception {
        for (int i = 0; i < SIZES.length; i++) {
            Path cls = Files.createDirectories(dir.resolve(i % 2 == 0 ? "a" : "b"));
            BufferedImage img = new BufferedImage(SIZES[i][0], SIZES[i][1], BufferedImage.TYPE_INT_ARGB);
            img.setRGB(0, 0, 0xff336699);
            ImageIO.write(img, "png", cls.resolve("clip-" + SIZES[i][0] + "x" + SIZES[i][1] + ".png").toFile());
        }
        return ImageCatalog.scan(dir);
    }

    @Test
    void theScanRecordsSizesAndTooSmallImagesFailBeforeTrainingNamingTheFiles() throws Exception {
        ImageCatalog catalog = folder();
        assertThat(catalog.samples()).allMatch(ImageSample::hasSize);
        assertThat(catalog.samples()).anyMatch(s -> s.width() == 376 && s.height() == 379);
        ImagePipeline strict = ImagePipeline.builder().setSize(224).build();
        assertThatThrownBy(() -> catalog.checkShapes(strict))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("3 of 6 images are too small")
                .hasMessageContaining("clip-59x61.png (59x61)").hasMessageContaining("clip-1x300.png (1x300)")
                .hasMessageContaining("clip-300x120.png (300x120)")
                .hasMessageContaining("optAllowUpscale(true)");
        long start = System.nanoTime();
        assertThatThrownBy(() -> ImageDataset.builder().setCatalog(catalog).optPipeline(strict.evaluation())
                .setSampling(4, false).build())
                .hasMessageStartingWith("ImageDataset (evaluation pipeline): ")
                .hasMessageContaining("clip-59x61.png");
        assertThat((System.nanoTime() - start) / 1e9).as("seconds to fail").isLessThan(2);
        // a letterbox only needs the long side: the 1x300 and 300x120 images fit, the 59x61 one does not
        assertThatThrownBy(() -> catalog.checkShapes(strict.toBuilder().optResizeMode(ResizeMode.PAD).build()))
                .hasMessageContaining("1 of 6").hasMessageContaining("clip-59x61.png")
                .hasMessageNotContaining("clip-1x300.png");
        assertThat(catalog.checkShapes(strict.toBuilder().optAllowUpscale(true).build())).isEqualTo(new Shape(3, 224, 224));
    }

    @Test
    void everyOddSizedImageBatchesInEveryModeAndDjlsCropIsCaughtByTheDryRun() throws Exception {
        ImageCatalog catalog = folder();
        for (ResizeMode mode : ResizeMode.values()) {
            ImagePipeline pipe = ImagePipeline.builder().setSize(224).optEvalResize(224).optResizeMode(mode)
                    .optAllowUpscale(true).build();
            for (Pipeline p : new Pipeline[] {pipe.evaluation(), pipe.training()}) {
                ImageDataset data = ImageDataset.builder().setCatalog(catalog).optPipeline(p)
                        .setSampling(SIZES.length, false).build();
                assertThat(data.checkShapes()).isEqualTo(new Shape(3, 224, 224));
                try (NDManager m = NDManager.newBaseManager(); Batch b = data.getData(m).iterator().next()) {
                    assertThat(b.getData().head().getShape()).isEqualTo(new Shape(SIZES.length, 3, 224, 224));
                }
            }
        }
        Pipeline djl = new Pipeline(new ResizeShort(224), new CenterCrop(224, 224), new ToTensor());
        ImageDataset data = ImageDataset.builder().setCatalog(catalog).optPipeline(djl).setSampling(2, false).build();
        assertThatThrownBy(data::checkShapes)
                .hasMessageContaining("batches cannot be stacked")
                .hasMessageContaining("clip-376x379.png (376x379) -> (3, 225, 224)")
                .hasMessageContaining("clip-400x402.png");
    }
}
