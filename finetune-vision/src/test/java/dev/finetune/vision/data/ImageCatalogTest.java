package dev.finetune.vision.data;

import ai.djl.modality.cv.Image;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.dataset.Batch;
import dev.finetune.core.fixtures.FashionMnist;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Scanning image folders of real Fashion-MNIST PNGs: classes, hidden/foreign files, broken images. */
class ImageCatalogTest {

    private static final int[] CLASSES = {0, 7, 9}; // T-shirt/top, Sneaker, Ankle boot

    @Test
    void scanFindsClassesInFolderOrderAndLeavesOutHiddenAndForeignFiles(@TempDir Path root) throws Exception {
        ImageFolders.fashion(root, CLASSES, new int[] {12, 6, 4}, 1);
        Files.writeString(root.resolve("README.txt"), "notes");
        Files.createDirectories(root.resolve(".thumbnails"));
        Files.write(root.resolve("Sneaker/.DS_Store"), new byte[] {0, 1, 2});
        Files.writeString(root.resolve("Sneaker/labels.csv"), "a,b");
        Files.createDirectories(root.resolve("Sneaker/extra"));

        ImageCatalog c = ImageCatalog.scan(root);
        assertThat(c.classNames()).containsExactly("Ankle_boot", "Sneaker", "T-shirt-top");
        assertThat(c.classCounts().counts()).containsExactly(4, 6, 12);
        assertThat(c.size()).isEqualTo(22);
        assertThat(c.ignored()).extracting(f -> f.path().getFileName().toString())
                .containsExactlyInAnyOrder("README.txt", ".thumbnails", ".DS_Store", "labels.csv", "extra");
        assertThat(c.ignored()).filteredOn(f -> f.path().endsWith("labels.csv"))
                .extracting(SkippedFile::reason).containsExactly("not an image (extension)");
        assertThat(c.unreadable()).isEmpty();
        assertThat(c.classCounts().imbalanceRatio()).isEqualTo(3.0);
    }

    private static void plantBrokenImages(Path root) throws IOException {
        Path good = Files.list(root.resolve("Sneaker")).sorted().findFirst().orElseThrow();
        byte[] bytes = Files.readAllBytes(good);
        Files.write(root.resolve("Sneaker/truncated.png"), Arrays.copyOf(bytes, bytes.length / 3));
        Files.write(root.resolve("Sneaker/empty.png"), new byte[0]);
        Files.writeString(root.resolve("Ankle_boot/fake.jpg"), "this is a text file, not a JPEG");
    }

    @Test
    void brokenImagesFailTheScanByDefaultNamingEveryFile(@TempDir Path root) throws Exception {
        ImageFolders.fashion(root, CLASSES, new int[] {5, 5, 5}, 2);
        plantBrokenImages(root);
        assertThatThrownBy(() -> ImageCatalog.scan(root))
                .isInstanceOf(IOException.class)
                .hasMessageContaining("3 image file(s)")
                .hasMessageContaining("truncated.png")
                .hasMessageContaining("empty.png (the file is empty (0 bytes))")
                .hasMessageContaining("fake.jpg")
                .hasMessageContaining("optUnreadable(UnreadablePolicy.SKIP)");
    }

    @Test
    void skipPolicyLeavesBrokenImagesOutAndListsThemWithTheirReason(@TempDir Path root) throws Exception {
        ImageFolders.fashion(root, CLASSES, new int[] {5, 5, 5}, 2);
        plantBrokenImages(root);
        ImageCatalog c = ImageCatalog.builder().setRoot(root).optUnreadable(UnreadablePolicy.SKIP).build();
        assertThat(c.size()).isEqualTo(15);
        assertThat(c.unreadable()).extracting(f -> f.path().getFileName().toString())
                .containsExactlyInAnyOrder("truncated.png", "empty.png", "fake.jpg");
        assertThat(c.unreadable()).allSatisfy(f -> assertThat(f.reason()).startsWith(f.path().toString()));
        assertThat(c.paths()).noneMatch(p -> p.getFileName().toString().matches("truncated.png|empty.png|fake.jpg"));
    }

    @Test
    void imagesLargerThanTheLimitAreRejectedFromTheirHeader(@TempDir Path root) throws Exception {
        ImageFolders.fashion(root, CLASSES, new int[] {2, 2, 2}, 3);
        ImageCatalog c = ImageCatalog.builder().setRoot(root).optMaxPixels(28 * 28 - 1)
                .optUnreadable(UnreadablePolicy.SKIP).build();
        assertThat(c.size()).isZero();
        assertThat(c.unreadable()).hasSize(6)
                .allSatisfy(f -> assertThat(f.reason()).contains("28x28 pixels, more than the limit of 783"));
    }

    @Test
    void emptyFoldersGiveOneMessageNamingTheFolder(@TempDir Path root) throws Exception {
        assertThatThrownBy(() -> ImageCatalog.scan(root.resolve("nowhere")))
                .isInstanceOf(IOException.class).hasMessageContaining("Image folder not found").hasMessageContaining("nowhere");
        Files.writeString(root.resolve("a.png"), "x");
        assertThatThrownBy(() -> ImageCatalog.scan(root))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("has no class folders")
                .hasMessageContaining(root.toString());
        ImageFolders.fashion(root, new int[] {0}, new int[] {3}, 4);
        Files.createDirectories(root.resolve("dog"));
        Files.writeString(root.resolve("dog/notes.txt"), "to do");
        assertThatThrownBy(() -> ImageCatalog.scan(root))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("Class folder " + root.resolve("dog").toAbsolutePath() + " holds no images")
                .hasMessageContaining("notes.txt");
    }

    @Test
    void datasetGivesThePixelsAndLabelsOfTheFiles(@TempDir Path root) throws Exception {
        List<Integer> written = ImageFolders.fashion(root, CLASSES, new int[] {3, 3, 3}, 5);
        ImageCatalog c = ImageCatalog.scan(root);
        ImageDataset ds = ImageDataset.builder().setCatalog(c).optFlag(Image.Flag.GRAYSCALE).setSampling(4, false).build();
        FashionMnist.Split split = FashionMnist.train();
        try (NDManager m = NDManager.newBaseManager()) {
            int seen = 0;
            for (Batch b : ds.getData(m)) {
                NDArray x = b.getData().head();
                assertThat(x.getShape().getShape()).containsExactly(b.getSize(), 1, 28, 28);
                float[] px = x.toFloatArray();
                float[] labels = b.getLabels().head().toFloatArray();
                for (int k = 0; k < b.getSize(); k++) {
                    ImageSample s = c.samples().get(seen + k);
                    int index = Integer.parseInt(s.path().getFileName().toString().replaceAll("\\D", ""));
                    assertThat(written).contains(index);
                    byte[] expected = split.images()[index];
                    for (int j = 0; j < 784; j += 37) {
                        assertThat(px[k * 784 + j]).isEqualTo((expected[j] & 0xff) / 255f);
                    }
                    assertThat((int) labels[k]).isEqualTo(s.label());
                    assertThat(c.classNames().get(s.label())).isEqualTo(s.path().getParent().getFileName().toString());
                }
                seen += b.getSize();
                b.close();
            }
            assertThat(seen).isEqualTo(9);
        }
    }
}
