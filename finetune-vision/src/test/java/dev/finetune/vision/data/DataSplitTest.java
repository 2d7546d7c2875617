package dev.finetune.vision.data;

import dev.finetune.core.fixtures.FashionMnist;
import dev.finetune.vision.leakage.LeakageCheck;
import dev.finetune.vision.leakage.LeakageReport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Stratified, seeded and group-aware splits of real Fashion-MNIST image folders. */
class DataSplitTest {

    private static Set<Path> paths(ImageCatalog c) {
        return new HashSet<>(c.paths());
    }

    @Test
    void stratifiedSplitKeepsEveryClassShareAndIsReproducibleFromTheSeed(@TempDir Path root) throws Exception {
        ImageFolders.fashion(root, new int[] {1, 5, 8}, new int[] {40, 20, 10}, 7);
        ImageCatalog all = ImageCatalog.scan(root); // classes: Bag, Sandal, Trouser
        DataSplit split = DataSplit.builder().optValidationFraction(0.2).optTestFraction(0.2).optSeed(1).build();
        DataSplit.Splits s = split.split(all);
        assertThat(s.train().classCounts().counts()).containsExactly(6, 12, 24);
        assertThat(s.validation().classCounts().counts()).containsExactly(2, 4, 8);
        assertThat(s.test().classCounts().counts()).containsExactly(2, 4, 8);
        Set<Path> union = new HashSet<>(paths(s.train()));
        union.addAll(paths(s.validation()));
        union.addAll(paths(s.test()));
        assertThat(union).hasSize(70).isEqualTo(paths(all));
        assertThat(s.describe()).contains("Trouser").contains("24");

        DataSplit.Splits again = split.split(all);
        assertThat(again.test().paths()).isEqualTo(s.test().paths());
        DataSplit.Splits other = DataSplit.builder().optValidationFraction(0.2).optTestFraction(0.2).optSeed(2).build()
                .split(all);
        assertThat(paths(other.test())).isNotEqualTo(paths(s.test()));
        assertThatThrownBy(() -> DataSplit.builder().optValidationFraction(0.6).optTestFraction(0.5).build())
                .hasMessageContaining("optValidationFraction(0.6) + optTestFraction(0.5)");
    }

    /** Each product photographed three times: as is, one pixel to the right, and brighter. */
    private static void writeProducts(Path root, int[] classes, int products) throws Exception {
        FashionMnist.Split split = FashionMnist.train();
        for (int c : classes) {
            for (int i : FashionMnist.pick(split, new int[] {c}, products, 0, 11)) {
                byte[] px = split.images()[i];
                byte[] shifted = new byte[784];
                byte[] brighter = new byte[784];
                for (int y = 0; y < 28; y++) {
                    for (int x = 0; x < 28; x++) {
                        shifted[y * 28 + x] = x == 0 ? 0 : px[y * 28 + x - 1];
                        brighter[y * 28 + x] = (byte) Math.min(255, (px[y * 28 + x] & 0xff) + 12);
                    }
                }
                Path dir = root.resolve(ImageFolders.safe(FashionMnist.NAMES.get(c)));
                ImageFolders.writeGreyPng(px, dir.resolve("p" + i + "_front.png"));
                ImageFolders.writeGreyPng(shifted, dir.resolve("p" + i + "_shifted.png"));
                ImageFolders.writeGreyPng(brighter, dir.resolve("p" + i + "_bright.png"));
            }
        }
    }

    private static LeakageReport leaks(DataSplit.Splits s) {
        Map<String, List<Path>> parts = new HashMap<>();
        parts.put("train", s.train().paths());
        parts.put("validation", s.validation().paths());
        parts.put("test", s.test().paths());
        return LeakageCheck.builder().build().check(parts);
    }

    private static int sameProductLeaks(LeakageReport r) {
        int n = 0;
        for (LeakageCheck.Leak l : r.leaks()) {
            String a = l.first().getFileName().toString();
            String b = l.second().getFileName().toString();
            if (a.substring(0, a.indexOf('_')).equals(b.substring(0, b.indexOf('_')))) {
                n++;
            }
        }
        return n;
    }

    /**
     * Issue 14, point 7: a class left without training images, or without validation or test
     * images, is named in the split's warnings (and the log), never passed on silently.
     */
    @Test
    void classesASplitLeavesOutOfAPartAreNamedInItsWarnings() {
        List<String> names = List.of("boot", "shirt", "bag");
        // a "bag" image was photographed with the boots: its only group is mostly boots
        List<ImageSample> grouped = new java.util.ArrayList<>();
        for (int g = 0; g < 8; g++) {
            for (int i = 0; i < 3; i++) {
                grouped.add(new ImageSample(Path.of("boot-" + g + "-" + i + ".png"), 0, "boot" + g));
                grouped.add(new ImageSample(Path.of("shirt-" + g + "-" + i + ".png"), 1, "shirt" + g));
            }
        }
        grouped.add(new ImageSample(Path.of("bag-0.png"), 2, "boot0"));
        int untrained = 0;
        for (long seed = 0; seed < 20; seed++) {
            DataSplit.Splits s = DataSplit.builder().optSeed(seed).build().split(ImageCatalog.of(names, grouped));
            long bagsInTraining = s.train().classCounts().counts()[2];
            if (bagsInTraining == 0) {
                untrained++;
                assertThat(s.warnings()).anySatisfy(w -> assertThat(w)
                        .startsWith("Class 'bag' has no training images").contains("the model cannot learn it"));
            } else {
                assertThat(s.warnings()).noneMatch(w -> w.contains("no training images"));
            }
        }
        assertThat(untrained).as("seeds that put the bag's group outside training").isPositive();

        // without groups: a class of 2 images stays in training, unmeasured
        List<ImageSample> plain = new java.util.ArrayList<>();
        for (int i = 0; i < 20; i++) {
            plain.add(new ImageSample(Path.of("boot-" + i + ".png"), 0, null));
            plain.add(new ImageSample(Path.of("shirt-" + i + ".png"), 1, null));
        }
        plain.add(new ImageSample(Path.of("bag-0.png"), 2, null));
        plain.add(new ImageSample(Path.of("bag-1.png"), 2, null));
        DataSplit.Splits s = DataSplit.builder().optSeed(1).build().split(ImageCatalog.of(names, plain));
        assertThat(s.warnings()).containsExactly(
                "Class 'bag' (2 images) has none in validation or test: it is not measured there. Give it more"
                        + " images (at least 3 without groups).");
    }

    @Test
    void groupAwareSplitKeepsEachProductInOnePartWhereAPlainSplitLeaksItsViews(@TempDir Path root) throws Exception {
        writeProducts(root, new int[] {0, 3, 7}, 12);
        DataSplit split = DataSplit.builder().optValidationFraction(0.25).optTestFraction(0.25).optSeed(5).build();

        DataSplit.Splits plain = split.split(ImageCatalog.scan(root));
        int plainLeaks = sameProductLeaks(leaks(plain));
        assertThat(plainLeaks).as("views of one product across parts, found by the leakage check").isGreaterThan(10);

        ImageCatalog grouped = ImageCatalog.builder().setRoot(root)
                .optGroupKey(ImageCatalog.groupByFileNamePrefix("_")).build();
        assertThat(grouped.hasGroups()).isTrue();
        DataSplit.Splits s = split.split(grouped);
        Map<String, String> partOfGroup = new HashMap<>();
        String[] names = {"train", "validation", "test"};
        ImageCatalog[] parts = {s.train(), s.validation(), s.test()};
        for (int p = 0; p < 3; p++) {
            for (ImageSample sample : parts[p].samples()) {
                String before = partOfGroup.put(sample.group(), names[p]);
                assertThat(before).as("group " + sample.group()).isIn(null, names[p]);
            }
        }
        assertThat(partOfGroup).hasSize(36);
        // 12 products of 3 views per class: 6 / 3 / 3 products
        assertThat(s.train().classCounts().counts()).containsExactly(18, 18, 18);
        assertThat(s.validation().classCounts().counts()).containsExactly(9, 9, 9);
        assertThat(s.test().classCounts().counts()).containsExactly(9, 9, 9);
        assertThat(sameProductLeaks(leaks(s))).isZero();
        System.out.printf("same-product near duplicates across parts: plain split %d, group-aware split 0%n", plainLeaks);
    }
}
