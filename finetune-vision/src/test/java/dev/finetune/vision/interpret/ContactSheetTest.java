package dev.finetune.vision.interpret;

import dev.finetune.vision.data.ImageFiles;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.Color;
import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** Thumbnails of a large colour photo (reduced) and of a transparent PNG (enlarged, over the dataset's background). */
class ContactSheetTest {

    private static final Path PHOTO = Paths.get("/usr/lib/python3/dist-packages/skimage/data", "chelsea.png");

    @TempDir
    Path dir;

    @Test
    void aPhotoIsReducedWholeWithItsColoursAndATransparentImageShowsTheDatasetsBackground() throws Exception {
        // a 40x20 PNG: left half fully transparent (its stored RGB green), right half opaque blue
        BufferedImage cut = new BufferedImage(40, 20, BufferedImage.TYPE_INT_ARGB);
        for (int y = 0; y < 20; y++) {
            for (int x = 0; x < 40; x++) {
                cut.setRGB(x, y, x < 20 ? 0x0000FF00 : 0xFF0000FF);
            }
        }
        Path transparent = dir.resolve("cut.png");
        ImageIO.write(cut, "png", transparent.toFile());
        List<String> names = List.of("cat", "other");
        Interpretation interpretation = new Interpretation(names, List.of(
                new Prediction(0, PHOTO, 0, "cat", 1, "other", 0.9, 0.1, -Math.log(0.1)),
                new Prediction(1, transparent, 1, "other", 1, "other", 0.8, 0.8, -Math.log(0.8))),
                ImageFiles.DEFAULT_MAX_PIXELS, Color.RED);
        BufferedImage sheet = ImageIO.read(interpretation.writeContactSheet(dir.resolve("sheet.png"), 2, 2, 100).toFile());
        assertThat(sheet.getWidth()).isEqualTo(2 * 168);
        assertThat(sheet.getHeight()).isEqualTo(150);

        // the photo, 451x300, becomes 100x67, centred in its square at (34, 4): rows 20..86
        BufferedImage photo = ImageIO.read(PHOTO.toFile());
        assertThat(photo.getWidth()).isEqualTo(451);
        assertThat(photo.getHeight()).isEqualTo(300);
        assertThat(sheet.getRGB(34 + 50, 19) & 0xFFFFFF).as("grey square above the photo").isEqualTo(ContactSheet.BOX.getRGB() & 0xFFFFFF);
        assertThat(sheet.getRGB(34 + 50, 87) & 0xFFFFFF).as("grey square below the photo").isEqualTo(ContactSheet.BOX.getRGB() & 0xFFFFFF);
        double[] expected = mean(photo, 0, 0, 451, 300);
        double[] shown = mean(sheet, 34, 20, 100, 67);
        for (int c = 0; c < 3; c++) {
            assertThat(shown[c]).as("channel %d", c).isCloseTo(expected[c], within(2.0));
        }
        // its left and right halves keep their difference (the photo, not a smear)
        double[] left = mean(photo, 0, 0, 225, 300);
        double[] shownLeft = mean(sheet, 34, 20, 50, 67);
        assertThat(shownLeft[0]).isCloseTo(left[0], within(3.0));

        // the transparent PNG, enlarged 2.5 times to 100x50 at (168 + 34, 4 + 25): red where it was transparent
        for (int y = 29; y < 79; y++) {
            for (int x = 0; x < 100; x++) {
                assertThat(sheet.getRGB(202 + x, y) & 0xFFFFFF).as("%d,%d", x, y).isEqualTo(x < 50 ? 0xFF0000 : 0x0000FF);
            }
        }
        assertThat(sheet.getRGB(202 + 10, 28) & 0xFFFFFF).isEqualTo(ContactSheet.BOX.getRGB() & 0xFFFFFF);
    }

    private static double[] mean(BufferedImage image, int x0, int y0, int w, int h) {
        double[] sum = new double[3];
        for (int y = y0; y < y0 + h; y++) {
            for (int x = x0; x < x0 + w; x++) {
                int rgb = image.getRGB(x, y);
                sum[0] += (rgb >> 16) & 0xFF;
                sum[1] += (rgb >> 8) & 0xFF;
                sum[2] += rgb & 0xFF;
            }
        }
        for (int c = 0; c < 3; c++) {
            sum[c] /= (double) w * h;
        }
        return sum;
    }
}
