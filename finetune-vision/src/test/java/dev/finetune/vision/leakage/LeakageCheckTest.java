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

/** Planted duplicates of real photos and Fashion-MNIST items are found; distinct images are not. */
class LeakageCheckTest {

    private static final Path SKIMAGE = Paths.get("/usr/lib/python3/dist-packages/skimage/data");
    private static final String[] PHOTOS = {"chelsea.png", "coffee.png", "astronaut.png", "camera.png", "rocket.jpg", "coins.png"};

    @TempDir
    static Path dir;
    static Map<String, List<Path>> splits = new LinkedHashMap<>();
    static Map<Path, Path> planted = new LinkedHashMap<>(); // validation copy -> train original
    static Path exactCopy;
    static Path broken;

    @BeforeAll
    static void plant() throws Exception {
        List<Path> train = new ArrayList<>();
        List<Path> val = new ArrayList<>();
        for (String name : PHOTOS) {
            Path src = SKIMAGE.resolve(name);
            if (Files.exists(src)) {
                Path copy = dir.resolve("train-" + name);
                Files.copy(src, copy);
                train.add(copy);
            }
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
        Files.copy(train.get(0), exactCopy);
        plantCopy(val, exactCopy, train.get(0));
        BufferedImage coffee = ImageIO.read(train.get(1).toFile());
        plantCopy(val, jpeg(coffee, dir.resolve("val-coffee-reencoded.jpg")), train.get(1));
        BufferedImage astronaut = ImageIO.read(train.get(2).toFile());
        plantCopy(val, png(resize(astronaut, 0.5), dir.resolve("val-astronaut-half.png")), train.get(2));
        BufferedImage camera = ImageIO.read(train.get(3).toFile());
        plantCopy(val, png(brighten(camera, 20), dir.resolve("val-camera-brighter.png")), train.get(3));
        Path fashionTrain = train.stream().filter(p -> p.getFileName().toString().contains("fashion")).findFirst().orElseThrow();
        BufferedImage item = ImageIO.read(fashionTrain.toFile());
        plantCopy(val, png(resize(item, 3.0), dir.resolve("val-fashion-upscaled.png")), fashionTrain);
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
    void distinctImagesAreFarApart() throws Exception {
        List<Path> all = new ArrayList<>(splits.get("train"));
        all.addAll(splits.get("validation"));
        all.removeAll(planted.keySet());
        all.remove(broken);
        int closest = 64;
        for (int i = 0; i < all.size(); i++) {
            for (int j = i + 1; j < all.size(); j++) {
                closest = Math.min(closest, ImageHashes.distance(ImageHashes.perceptual(all.get(i)), ImageHashes.perceptual(all.get(j))));
            }
        }
        int farthestCopy = 0;
        for (Map.Entry<Path, Path> e : planted.entrySet()) {
            farthestCopy = Math.max(farthestCopy,
                    ImageHashes.distance(ImageHashes.perceptual(e.getKey()), ImageHashes.perceptual(e.getValue())));
        }
        System.out.printf("HASH closest distinct pair %d, farthest planted copy %d%n", closest, farthestCopy);
        // the default limit (6 bits) separates them
        assertThat(farthestCopy).isLessThanOrEqualTo(6);
        assertThat(closest).isGreaterThan(6);
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
