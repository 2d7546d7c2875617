package dev.finetune.vision.leakage;

import dev.finetune.core.fixtures.FashionMnist;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.IIOImage;
import javax.imageio.ImageIO;
import javax.imageio.ImageWriteParam;
import javax.imageio.ImageWriter;
import javax.imageio.stream.ImageOutputStream;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Planted duplicates of real photos and Fashion-MNIST items are found; distinct images are not, nor is
 * a cropped copy whose hash lies beyond the limit. Every planted copy lies well inside the default
 * limit (at most half of it), so that the test does not rest on a distance at the limit itself.
 */
class LeakageCheckTest {

    private static final Path SKIMAGE = Paths.get("/usr/lib/python3/dist-packages/skimage/data");
    private static final String[] PHOTOS = {"chelsea.png", "coffee.png", "astronaut.png", "camera.png", "rocket.jpg", "coins.png"};
    /** {@link LeakageCheck.Builder}'s default distance limit, in bits. */
    private static final int LIMIT = 6;

    @TempDir
    static Path dir;
    static Map<String, List<Path>> splits = new LinkedHashMap<>();
    static Map<Path, Path> planted = new LinkedHashMap<>(); // validation copy -> train original
    static Path exactCopy;
    static Path beyondLimit; // a cropped copy: the same photo, but a hash beyond the limit
    static Path beyondLimitOriginal;
    static Path broken;

    @BeforeAll
    static void plant() throws Exception {
        List<Path> train = new ArrayList<>();
        List<Path> val = new ArrayList<>();
        Map<String, Path> photos = new LinkedHashMap<>();
        for (String name : PHOTOS) {
            Path src = SKIMAGE.resolve(name);
            assertThat(src).as("scikit-image's sample photo %s is missing: install the Debian package python3-skimage"
                    + " (.ci/run does)", src).isRegularFile();
            Path copy = dir.resolve("train-" + name);
            Files.copy(src, copy);
            train.add(copy);
            photos.put(name, copy);
        }
        FashionMnist.Split fashion = FashionMnist.test();
        List<Integer> items = FashionMnist.pick(fashion, new int[] {0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, 6, 0, 91);
        for (int k = 0; k < items.size(); k++) {
            Path png = dir.resolve((k % 2 == 0 ? "train" : "val") + "-fashion-" + k + ".png");
            ImageIO.write(grey(fashion.images()[items.get(k)]), "png", png.toFile());
            (k % 2 == 0 ? train : val).add(png);
        }
        // planted copies in validation
        exactCopy = dir.resolve("val-chelsea-copy.png");
        Files.copy(photos.get("chelsea.png"), exactCopy);
        plantCopy(val, exactCopy, photos.get("chelsea.png"));
        Path coffee = photos.get("coffee.png");
        plantCopy(val, jpeg(ImageIO.read(coffee.toFile()), dir.resolve("val-coffee-reencoded.jpg")), coffee);
        Path astronaut = photos.get("astronaut.png");
        plantCopy(val, png(resize(ImageIO.read(astronaut.toFile()), 0.5), dir.resolve("val-astronaut-half.png")), astronaut);
        Path camera = photos.get("camera.png");
        plantCopy(val, png(brighten(ImageIO.read(camera.toFile()), 20), dir.resolve("val-camera-brighter.png")), camera);
        Path rocket = photos.get("rocket.jpg");
        plantCopy(val, png(resize(ImageIO.read(rocket.toFile()), 2.0), dir.resolve("val-rocket-upscaled.png")), rocket);
        Path fashionTrain = train.stream().filter(p -> p.getFileName().toString().contains("fashion")).findFirst().orElseThrow();
        plantCopy(val, png(brighten(ImageIO.read(fashionTrain.toFile()), 10), dir.resolve("val-fashion-brighter.png")),
                fashionTrain);
        // the middle 90% of a photo: a copy, but one whose hash lies beyond the limit; it must not be reported
        beyondLimitOriginal = photos.get("coins.png");
        beyondLimit = png(crop(ImageIO.read(beyondLimitOriginal.toFile()), 0.9), dir.resolve("val-coins-cropped.png"));
        val.add(beyondLimit);
        broken = dir.resolve("val-empty.png");
        Files.createFile(broken);
        val.add(broken);
        splits.put("train", train);
        splits.put("validation", val);
    }

    private static void plantCopy(List<Path> val, Path copy, Path original) {
        val.add(copy);
        planted.put(copy, original);
    }

    @Test
    void findsEveryPlantedCopyAndNothingElse() {
        LeakageReport report = LeakageCheck.builder().build().check(splits);
        System.out.println(report);
        Map<Path, LeakageCheck.Leak> bySecond = report.leaks().stream()
                .collect(Collectors.toMap(LeakageCheck.Leak::second, l -> l, (a, b) -> a));
        assertThat(bySecond.keySet()).isEqualTo(planted.keySet());
        assertThat(report.leaks()).hasSize(planted.size());
        planted.forEach((copy, original) -> assertThat(bySecond.get(copy).first()).isEqualTo(original));
        assertThat(bySecond.get(exactCopy).kind()).isEqualTo(LeakageCheck.Kind.EXACT);
        assertThat(report.leaks().stream().filter(l -> l.kind() == LeakageCheck.Kind.NEAR).count())
                .isEqualTo(planted.size() - 1);
        assertThat(bySecond).as("the crop beyond the limit").doesNotContainKey(beyondLimit);
        assertThat(report.countsBySplitPair()).containsEntry("train/validation", planted.size());
        assertThat(report.unreadable()).singleElement().satisfies(u -> {
            assertThat(u.file()).isEqualTo(broken);
            assertThat(u.reason()).contains(broken.toString());
        });
        Map<String, List<Path>> clean = report.withoutLeaks(splits);
        assertThat(clean.get("train")).isEqualTo(splits.get("train"));
        Set<Path> removed = splits.get("validation").stream().filter(p -> !clean.get("validation").contains(p))
                .collect(Collectors.toSet());
        assertThat(removed).isEqualTo(planted.keySet());
    }

    @Test
    void plantedCopiesLieWellInsideTheLimitAndDistinctImagesBeyondIt() throws Exception {
        List<Path> all = new ArrayList<>(splits.get("train"));
        all.addAll(splits.get("validation"));
        all.removeAll(planted.keySet());
        all.remove(beyondLimit);
        all.remove(broken);
        long[] hashes = new long[all.size()];
        for (int i = 0; i < all.size(); i++) {
            hashes[i] = ImageHashes.perceptual(all.get(i));
        }
        int closest = 64;
        for (int i = 0; i < all.size(); i++) {
            for (int j = i + 1; j < all.size(); j++) {
                closest = Math.min(closest, ImageHashes.distance(hashes[i], hashes[j]));
            }
        }
        Map<String, Integer> copies = new LinkedHashMap<>();
        for (Map.Entry<Path, Path> e : planted.entrySet()) {
            copies.put(e.getKey().getFileName().toString(),
                    ImageHashes.distance(ImageHashes.perceptual(e.getKey()), ImageHashes.perceptual(e.getValue())));
        }
        int cropped = ImageHashes.distance(ImageHashes.perceptual(beyondLimit), ImageHashes.perceptual(beyondLimitOriginal));
        System.out.printf("HASH closest distinct pair %d, planted copies %s, cropped copy %d (limit %d)%n",
                closest, copies, cropped, LIMIT);
        // each planted copy at most half the limit away: a hash that moved a step would still find it
        copies.forEach((name, d) -> assertThat(d).as("distance of the planted %s", name).isLessThanOrEqualTo(LIMIT / 2));
        assertThat(cropped).as("the cropped copy lies beyond the limit").isGreaterThan(LIMIT + 2);
        assertThat(closest).isGreaterThan(LIMIT);
    }

    private static BufferedImage grey(byte[] pixels) {
        BufferedImage img = new BufferedImage(28, 28, BufferedImage.TYPE_BYTE_GRAY);
        img.getRaster().setDataElements(0, 0, 28, 28, pixels);
        return img;
    }

    private static BufferedImage resize(BufferedImage src, double factor) {
        int w = (int) Math.round(src.getWidth() * factor);
        int h = (int) Math.round(src.getHeight() * factor);
        BufferedImage out = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = out.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_INTERPOLATION, RenderingHints.VALUE_INTERPOLATION_BILINEAR);
        g.drawImage(src, 0, 0, w, h, null);
        g.dispose();
        return out;
    }

    private static BufferedImage crop(BufferedImage src, double keep) {
        int w = (int) Math.round(src.getWidth() * keep);
        int h = (int) Math.round(src.getHeight() * keep);
        BufferedImage out = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = out.createGraphics();
        g.drawImage(src, -(src.getWidth() - w) / 2, -(src.getHeight() - h) / 2, null);
        g.dispose();
        return out;
    }

    private static BufferedImage brighten(BufferedImage src, int amount) {
        BufferedImage out = new BufferedImage(src.getWidth(), src.getHeight(), BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < src.getHeight(); y++) {
            for (int x = 0; x < src.getWidth(); x++) {
                int rgb = src.getRGB(x, y);
                int r = Math.min(255, ((rgb >> 16) & 0xff) + amount);
                int gr = Math.min(255, ((rgb >> 8) & 0xff) + amount);
                int b = Math.min(255, (rgb & 0xff) + amount);
                out.setRGB(x, y, (r << 16) | (gr << 8) | b);
            }
        }
        return out;
    }

    private static Path png(BufferedImage img, Path file) throws Exception {
        ImageIO.write(img, "png", file.toFile());
        return file;
    }

    private static Path jpeg(BufferedImage img, Path file) throws Exception {
        BufferedImage rgb = new BufferedImage(img.getWidth(), img.getHeight(), BufferedImage.TYPE_INT_RGB);
        Graphics2D g = rgb.createGraphics();
        g.drawImage(img, 0, 0, null);
        g.dispose();
        ImageWriter writer = ImageIO.getImageWritersByFormatName("jpeg").next();
        ImageWriteParam param = writer.getDefaultWriteParam();
        param.setCompressionMode(ImageWriteParam.MODE_EXPLICIT);
        param.setCompressionQuality(0.85f);
        try (ImageOutputStream out = ImageIO.createImageOutputStream(file.toFile())) {
            writer.setOutput(out);
            writer.write(null, new IIOImage(rgb, null, null), param);
        }
        writer.dispose();
        return file;
    }
}
