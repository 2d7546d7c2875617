package dev.finetune.vision.export;

import ai.djl.Model;
import ai.djl.inference.Predictor;
import ai.djl.modality.Classifications;
import ai.djl.modality.cv.Image;
import ai.djl.modality.cv.ImageFactory;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.repository.zoo.ZooModel;
import ai.djl.training.ParameterStore;
import dev.finetune.core.FineTuner;
import dev.finetune.vision.backbone.Heads;
import dev.finetune.vision.backbone.TorchScriptBackbone;
import dev.finetune.vision.data.ImageCatalog;
import dev.finetune.vision.data.ImageDataset;
import dev.finetune.vision.fixtures.TorchScriptFixtures;
import dev.finetune.vision.image.ResizeMode;
import dev.finetune.vision.transform.ImagePipeline;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * An exported model, reloaded from its directory, serves a batch of odd-sized and transparent
 * images (which DJL's own translator cannot stack) with the probabilities the in-memory model
 * gives on the evaluation pipeline's tensors, in every resize mode.
 */
class OddSizeExportTest {

    private static final Path PHOTOS = Paths.get("/usr/lib/python3/dist-packages/skimage/data");
    private static final int[][] SIZES = {{376, 379}, {400, 402}, {59, 500}, {500, 59}, {1, 300}, {33, 33}};

    @TempDir
    Path dir;

    private List<Path> images() throws Exception {
        BufferedImage coffee = ImageIO.read(PHOTOS.resolve("coffee.png").toFile()); // 600 x 400
        Path cls = Files.createDirectories(dir.resolve("images").resolve("any"));
        List<Path> out = new ArrayList<>();
        for (int[] wh : SIZES) {
            BufferedImage crop = new BufferedImage(wh[0], wh[1], BufferedImage.TYPE_INT_RGB);
            crop.createGraphics().drawImage(coffee.getSubimage(0, 0, Math.min(600, wh[0]), Math.min(400, wh[1])), 0, 0,
                    wh[0], wh[1], null);
            Path f = cls.resolve("photo-" + wh[0] + "x" + wh[1] + ".png");
            ImageIO.write(crop, "png", f.toFile());
            out.add(f);
        }
        // clip art: a transparent 120x97 PNG that stores black under its transparent pixels
        BufferedImage clip = new BufferedImage(120, 97, BufferedImage.TYPE_INT_ARGB);
        for (int y = 0; y < 97; y++) {
            for (int x = 0; x < 120; x++) {
                boolean inside = (x - 60) * (x - 60) + (y - 48) * (y - 48) < 40 * 40;
                clip.setRGB(x, y, inside ? 0xff000000 | coffee.getRGB(x * 3, y * 3) : 0);
            }
        }
        Path f = cls.resolve("clip-120x97.png");
        ImageIO.write(clip, "png", f.toFile());
        out.add(f);
        return out;
    }

    @Test
    void aReloadedExportServesABatchOfOddSizedAndTransparentImagesAsEvaluationSawThem() throws Exception {
        List<Path> files = images();
        ImageCatalog catalog = ImageCatalog.scan(dir.resolve("images"));
        List<String> names = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            names.add("class" + i);
        }
        for (ResizeMode mode : ResizeMode.values()) {
            ImagePipeline pipe = ImagePipeline.builder().setSize(32).optResizeMode(mode).optAllowUpscale(true).build();
            Path export = dir.resolve("export-" + mode);
            float[][] expected = new float[catalog.size()][];
            try (Model model = TorchScriptBackbone.load(TorchScriptFixtures.DIR.resolve("tiny-cnn.pt"));
                    NDManager m = NDManager.newBaseManager()) {
                FineTuner.from(model).optHeadReplacer(Heads.auto()).replaceHead(names.size());
                ImageDataset eval = ImageDataset.builder().setCatalog(catalog).optPipeline(pipe.evaluation())
                        .setSampling(1, false).build();
                ParameterStore ps = new ParameterStore(model.getNDManager(), false);
                for (int i = 0; i < catalog.size(); i++) {
                    NDArray x = eval.get(m, i).getData().head().expandDims(0);
                    expected[i] = model.getBlock().forward(ps, new NDList(x), false).head().softmax(1).toFloatArray();
                }
                double spread = 0;
                for (int c = 0; c < names.size(); c++) {
                    spread = Math.max(spread, Math.abs(expected[0][c] - expected[catalog.size() - 1][c]));
                }
                assertThat(spread).as("the clip art and a photo get different predictions").isGreaterThan(1e-3);
                ClassifierExport.save(model, export, "tiny-cnn", names, pipe.toPreprocessing());
            }
            List<Image> inputs = new ArrayList<>();
            for (var s : catalog.samples()) {
                inputs.add(ImageFactory.getInstance().fromFile(s.path()));
            }
            try (ZooModel<Image, Classifications> served = ClassifierExport.load(export);
                    Predictor<Image, Classifications> predictor = served.newPredictor()) {
                List<Classifications> got = predictor.batchPredict(inputs);
                for (int i = 0; i < catalog.size(); i++) {
                    for (int c = 0; c < names.size(); c++) {
                        assertThat(got.get(i).get(names.get(c)).getProbability())
                                .as("%s %s %s", mode, catalog.samples().get(i).path().getFileName(), names.get(c))
                                .isCloseTo(expected[i][c], within(1e-5));
                    }
                }
            }
        }
        assertThat(files).hasSize(SIZES.length + 1);
    }
}
