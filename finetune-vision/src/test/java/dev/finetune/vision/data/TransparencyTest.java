package dev.finetune.vision.data;

import ai.djl.modality.Classifications;
import ai.djl.modality.cv.Image;
import ai.djl.modality.cv.ImageFactory;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.translate.Translator;
import dev.finetune.vision.export.ClassifierExport;
import dev.finetune.vision.image.ResizeMode;
import dev.finetune.vision.transform.ImagePipeline;
import dev.finetune.vision.transform.TestContext;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.Color;
import java.awt.Transparency;
import java.awt.color.ColorSpace;
import java.awt.image.BufferedImage;
import java.awt.image.ComponentColorModel;
import java.awt.image.DataBuffer;
import java.awt.image.IndexColorModel;
import java.awt.image.Raster;
import java.awt.image.WritableRaster;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * Real PNG files with alpha (RGBA, grey + alpha, palette + tRNS) that store black or white under
 * their transparent pixels give the same tensor, in the dataset and in the served translator, with
 * the transparent pixels the stated background colour; DJL alone gives two different tensors.
 */
class TransparencyTest {

    private static final int W = 90;
    private static final int H = 60;

    @TempDir
    Path dir;

    /** Opaque inside a centred rectangle, half transparent on its border, fully transparent outside. */
    private static int alpha(int x, int y) {
        boolean inside = x >= 20 && x < 70 && y >= 15 && y < 45;
        boolean border = x >= 18 && x < 72 && y >= 13 && y < 47;
        return inside ? 255 : border ? 128 : 0;
    }

    private static int shade(int x, int y) {
        return (x * 3 + y * 5) % 256;
    }

    private Path rgba(String name, int hidden) throws Exception {
        BufferedImage img = new BufferedImage(W, H, BufferedImage.TYPE_INT_ARGB);
        for (int y = 0; y < H; y++) {
            for (int x = 0; x < W; x++) {
                int a = alpha(x, y);
                int rgb = a == 0 ? hidden : (shade(x, y) << 16) | (255 - shade(x, y)) << 8 | 40;
                img.setRGB(x, y, (a << 24) | rgb);
            }
        }
        return write(img, name);
    }

    private Path greyAlpha(String name, int hidden) throws Exception {
        ComponentColorModel cm = new ComponentColorModel(ColorSpace.getInstance(ColorSpace.CS_GRAY), true, false,
                Transparency.TRANSLUCENT, DataBuffer.TYPE_BYTE);
        WritableRaster r = Raster.createInterleavedRaster(DataBuffer.TYPE_BYTE, W, H, 2, null);
        for (int y = 0; y < H; y++) {
            for (int x = 0; x < W; x++) {
                int a = alpha(x, y);
                r.setSample(x, y, 0, a == 0 ? hidden & 0xff : shade(x, y));
                r.setSample(x, y, 1, a);
            }
        }
        return write(new BufferedImage(cm, r, false, null), name);
    }

    private Path palette(String name, int hidden) throws Exception {
        byte[] red = new byte[16];
        byte[] green = new byte[16];
        byte[] blue = new byte[16];
        byte[] a = new byte[16];
        red[0] = green[0] = blue[0] = (byte) (hidden & 0xff); // entry 0: transparent, storing black or white
        for (int i = 1; i < 16; i++) {
            red[i] = (byte) (i * 16);
            green[i] = (byte) (255 - i * 16);
            blue[i] = (byte) 90;
            a[i] = (byte) 255;
        }
        BufferedImage img = new BufferedImage(W, H, BufferedImage.TYPE_BYTE_INDEXED,
                new IndexColorModel(4, 16, red, green, blue, a));
        for (int y = 0; y < H; y++) {
            for (int x = 0; x < W; x++) {
                img.getRaster().setSample(x, y, 0, alpha(x, y) == 255 ? 1 + shade(x, y) % 15 : 0);
            }
        }
        return write(img, name);
    }

    private Path write(BufferedImage img, String name) throws Exception {
        Path file = dir.resolve(name + ".png");
        assertThat(ImageIO.write(img, "png", file.toFile())).isTrue();
        return file;
    }

    interface Maker {
        Path make(String name, int hidden) throws Exception;
    }

    @Test
    void blackOrWhiteUnderTransparentPixelsGiveTheSameTensorOverTheStatedBackground() throws Exception {
        Maker[] kinds = {this::rgba, this::greyAlpha, this::palette};
        String[] names = {"rgba", "grey-alpha", "palette-trns"};
        Color[] backgrounds = {Color.WHITE, new Color(0, 128, 255)};
        try (NDManager m = NDManager.newBaseManager()) {
            for (int k = 0; k < kinds.length; k++) {
                Path black = kinds[k].make(names[k] + "-black", 0x000000);
                Path white = kinds[k].make(names[k] + "-white", 0xffffff);
                BufferedImage readBack = ImageIO.read(black.toFile());
                assertThat(readBack.getColorModel().hasAlpha()).as(names[k] + " keeps its alpha").isTrue();
                // DJL alone keeps whatever the file stores under the alpha channel
                NDArray djlBlack = ImageFactory.getInstance().fromFile(black).toNDArray(m, Image.Flag.COLOR);
                NDArray djlWhite = ImageFactory.getInstance().fromFile(white).toNDArray(m, Image.Flag.COLOR);
                assertThat(djlBlack.contentEquals(djlWhite)).as(names[k] + " through DJL alone").isFalse();

                ImageCatalog catalog = ImageCatalog.of(List.of("clip"),
                        List.of(new ImageSample(black, 0, null), new ImageSample(white, 0, null)));
                for (Color bg : backgrounds) {
                    for (ResizeMode mode : ResizeMode.values()) {
                        ImagePipeline pipe = ImagePipeline.builder().setSize(32).optResizeMode(mode).optAllowUpscale(true)
                                .optBackground(bg).optNormalization(null, null).build();
                        String what = names[k] + " " + mode + " over " + bg;
                        ImageDataset data = ImageDataset.builder().setCatalog(catalog).optPipeline(pipe.evaluation())
                                .setSampling(2, false).build();
                        assertThat(data.background()).isEqualTo(bg);
                        NDArray fromBlack = data.get(m, 0).getData().head();
                        NDArray fromWhite = data.get(m, 1).getData().head();
                        assertThat(fromBlack.contentEquals(fromWhite)).as(what).isTrue();
                        // the transparent corner is the background colour
                        float[] corner = fromBlack.get(":, 0, 0").toFloatArray();
                        assertThat(corner).as(what).containsExactly(new float[] {bg.getRed() / 255f,
                                bg.getGreen() / 255f, bg.getBlue() / 255f}, within(1e-5f));
                        // the served model composites the same way
                        Translator<Image, Classifications> served =
                                ClassifierExport.translator(pipe.toPreprocessing(), List.of("clip"));
                        for (Path file : new Path[] {black, white}) {
                            NDArray s = served.processInput(new TestContext(m), ImageFactory.getInstance().fromFile(file))
                                    .singletonOrThrow();
                            assertThat(s.sub(fromBlack).abs().max().getFloat()).as(what + " served").isLessThan(1e-5f);
                        }
                    }
                }
            }
        }
    }

    @Test
    void greyNetworksSeeTheBackgroundsLuma() throws Exception {
        Path black = rgba("rgba-black", 0);
        Path white = rgba("rgba-white", 0xffffff);
        Color bg = new Color(200, 100, 50);
        ImagePipeline pipe = ImagePipeline.builder().setSize(16).optGrey(true).optBackground(bg)
                .optResizeMode(ResizeMode.PAD).optAllowUpscale(true).build();
        List<ImageSample> samples = new ArrayList<>(List.of(new ImageSample(black, 0, null),
                new ImageSample(white, 0, null)));
        for (Image.Flag flag : Image.Flag.values()) {
            ImageDataset data = ImageDataset.builder().setCatalog(ImageCatalog.of(List.of("clip"), samples))
                    .optFlag(flag).optPipeline(pipe.evaluation()).setSampling(2, false).build();
            try (NDManager m = NDManager.newBaseManager()) {
                NDArray a = data.get(m, 0).getData().head();
                NDArray b = data.get(m, 1).getData().head();
                assertThat(a.contentEquals(b)).as(flag.toString()).isTrue();
                float luma = Math.round(0.299f * 200 + 0.587f * 100 + 0.114f * 50) / 255f;
                assertThat(a.getFloat(0, 0, 0)).as(flag.toString()).isCloseTo(luma, within(1e-5f));
            }
        }
    }
}
