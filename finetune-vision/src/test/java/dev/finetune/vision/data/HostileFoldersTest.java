package dev.finetune.vision.data;

import ai.djl.modality.cv.Image;
import ai.djl.ndarray.NDManager;
import ai.djl.training.dataset.Record;
import dev.finetune.core.fixtures.FashionMnist;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.Map;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

/** Image folders with symbolic-link loops, dangling links and non-ASCII names. */
class HostileFoldersTest {

    private static final int[] CLASSES = {0, 7};

    @Test
    void linkLoopsAndDanglingLinksEndTheScanAndAreListedAsIgnored(@TempDir Path root) throws Exception {
        ImageFolders.fashion(root, CLASSES, new int[] {3, 2}, 11);
        Path sneaker = root.resolve("Sneaker");
        Files.createSymbolicLink(sneaker.resolve("itself"), Paths.get("."));
        Files.createSymbolicLink(sneaker.resolve("parent"), Paths.get(".."));
        Files.createSymbolicLink(sneaker.resolve("loop.png"), Paths.get("loop.png"));
        Files.createSymbolicLink(sneaker.resolve("ping.png"), Paths.get("pong.png"));
        Files.createSymbolicLink(sneaker.resolve("pong.png"), Paths.get("ping.png"));
        Files.createSymbolicLink(sneaker.resolve("gone.png"), Paths.get("deleted.png"));
        Files.createSymbolicLink(root.resolve("mirror"), Paths.get("."));
        Files.createSymbolicLink(root.resolve("up"), Paths.get(".."));
        // a link to a real image elsewhere is an ordinary sample
        Path first = Files.list(root.resolve("T-shirt-top")).sorted().findFirst().orElseThrow();
        Files.createSymbolicLink(sneaker.resolve("linked.png"), first.toAbsolutePath());

        ImageCatalog c = assertTimeoutPreemptively(Duration.ofSeconds(20),
                () -> ImageCatalog.builder().setRoot(root).optUnreadable(UnreadablePolicy.SKIP).build());
        assertThat(c.classNames()).containsExactly("Sneaker", "T-shirt-top");
        assertThat(c.classCounts().counts()).containsExactly(3, 3);
        assertThat(c.paths()).contains(sneaker.resolve("linked.png"));
        assertThat(c.unreadable()).isEmpty();
        Map<String, String> reasons = c.ignored().stream()
                .collect(Collectors.toMap(f -> f.path().getFileName().toString(), SkippedFile::reason));
        assertThat(reasons).containsOnlyKeys("itself", "parent", "loop.png", "ping.png", "pong.png", "gone.png",
                "mirror", "up");
        assertThat(reasons.get("itself")).contains("symbolic link loop").contains("the folder holding it");
        assertThat(reasons.get("parent")).contains("symbolic link loop").contains("a folder above it");
        assertThat(reasons.get("mirror")).contains("symbolic link loop").contains("the folder holding it");
        assertThat(reasons.get("up")).contains("symbolic link loop").contains("a folder above it");
        assertThat(reasons.get("loop.png")).contains("symbolic link loop").contains("leads back to itself");
        assertThat(reasons.get("ping.png")).contains("symbolic link loop");
        assertThat(reasons.get("gone.png")).isEqualTo("a dangling symbolic link to deleted.png (the target does not exist)");
        System.out.printf("HOSTILE linkLoopsAndDanglingLinks: %d inputs tried, %d rejected with a message, 0 crashes%n",
                reasons.size() + 1, reasons.size());
    }

    @Test
    void nonAsciiFolderAndFileNamesAreScannedLoadedAndLabelled(@TempDir Path root) throws Exception {
        FashionMnist.Split split = FashionMnist.train();
        int apple = FashionMnist.pick(split, new int[] {7}, 1, 0, 3).get(0);
        int cat = FashionMnist.pick(split, new int[] {0}, 1, 0, 3).get(0);
        ImageFolders.writeGreyPng(split.images()[apple], root.resolve("Äpfel").resolve("grüner Apfel.png"));
        ImageFolders.writeGreyPng(split.images()[cat], root.resolve("猫").resolve("猫 1.png"));
        ImageFolders.writeGreyPng(split.images()[cat], root.resolve("猫").resolve("😺 ü.PNG"));

        ImageCatalog c = ImageCatalog.scan(root);
        assertThat(c.classNames()).containsExactly("Äpfel", "猫");
        assertThat(c.samples()).extracting(s -> s.path().getFileName().toString(), ImageSample::label)
                .containsExactly(org.assertj.core.groups.Tuple.tuple("grüner Apfel.png", 0),
                        org.assertj.core.groups.Tuple.tuple("猫 1.png", 1),
                        org.assertj.core.groups.Tuple.tuple("😺 ü.PNG", 1));
        ImageDataset ds = ImageDataset.builder().setCatalog(c).optFlag(Image.Flag.GRAYSCALE).setSampling(1, false).build();
        try (NDManager m = NDManager.newBaseManager()) {
            Record r = ds.get(m, 1);
            float[] px = r.getData().head().toFloatArray();
            for (int j = 0; j < 784; j += 29) {
                assertThat(px[j]).isEqualTo((split.images()[cat][j] & 0xff) / 255f);
            }
            assertThat(r.getLabels().head().getFloat()).isEqualTo(1f);
        }
        System.out.printf("HOSTILE nonAsciiNames: %d inputs tried, 0 rejected with a message, 0 crashes%n", c.size());
    }
}
