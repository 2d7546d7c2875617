package dev.finetune.vision.backbone;

import ai.djl.Model;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import dev.finetune.core.FineTuner;
import dev.finetune.core.checkpoint.Checkpoint;
import dev.finetune.core.checkpoint.CheckpointException;
import dev.finetune.core.fixtures.SourceModel;
import dev.finetune.core.head.HeadReplacer;
import dev.finetune.vision.data.HostileInputs;
import dev.finetune.vision.fixtures.TorchScriptFixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Files that are not TorchScript, and checkpoints of another architecture or class count. */
class HostileModelFilesTest {

    @TempDir
    Path dir;

    @Test
    void filesThatAreNotTorchScriptGiveAnIoExceptionNamingThem() throws Exception {
        byte[] module = Files.readAllBytes(TorchScriptFixtures.DIR.resolve("tiny-cnn-embedding.pt"));
        Map<String, byte[]> files = new LinkedHashMap<>();
        files.put("empty.pt", new byte[0]);
        files.put("camera-png.pt", Files.readAllBytes(HostileInputs.PHOTOS.resolve("camera.png")));
        files.put("rocket-jpg.pt", Files.readAllBytes(HostileInputs.PHOTOS.resolve("rocket.jpg")));
        files.put("text.pt", "import torch\n".getBytes(java.nio.charset.StandardCharsets.UTF_8));
        Random random = new Random(6);
        for (int n : new int[] {1, 100, 4096, 1 << 20}) {
            byte[] noise = new byte[n];
            random.nextBytes(noise);
            files.put("random-" + n + ".pt", noise);
        }
        for (int cut : new int[] {module.length / 2, module.length - 100, 200}) {
            files.put("module-cut-" + cut + ".pt", Arrays.copyOf(module, cut));
        }
        byte[] flipped = module.clone();
        flipped[module.length / 2] ^= 0x5a; // inside the stored tensors: a zip entry's CRC no longer matches
        files.put("module-flipped.pt", flipped);
        java.io.ByteArrayOutputStream zip = new java.io.ByteArrayOutputStream();
        try (ZipOutputStream z = new ZipOutputStream(zip)) {
            z.putNextEntry(new ZipEntry("archive/data.pkl"));
            z.write("not a pickle".getBytes(java.nio.charset.StandardCharsets.UTF_8));
            z.closeEntry();
        }
        files.put("zip-not-torchscript.pt", zip.toByteArray());

        int rejected = 0;
        int loaded = 0;
        List<String> crashes = new ArrayList<>();
        for (Map.Entry<String, byte[]> e : files.entrySet()) {
            Path file = dir.resolve(e.getKey());
            Files.write(file, e.getValue());
            try (Model m = TorchScriptBackbone.load(file)) {
                loaded++;
            } catch (IOException ex) {
                assertThat(ex.getMessage()).as(e.getKey()).contains(file.getFileName().toString())
                        .containsAnyOf("is not a TorchScript module", "is empty (0 bytes)");
                rejected++;
            } catch (RuntimeException ex) {
                crashes.add(e.getKey() + ": " + ex);
            }
        }
        Path folder = Files.createDirectories(dir.resolve("folder.pt"));
        assertThatThrownBy(() -> TorchScriptBackbone.load(folder)).isInstanceOf(IOException.class)
                .hasMessageContaining("folder.pt is a folder, not a TorchScript file");
        rejected++;
        System.out.printf("HOSTILE notTorchScript: %d inputs tried, %d rejected with a message, %d crashes (%d loaded)%n",
                files.size() + 1, rejected, crashes.size(), loaded);
        assertThat(crashes).isEmpty();
        assertThat(loaded).as("libtorch checks the archive's CRCs: even the flipped module is refused").isZero();
        assertThat(rejected).isEqualTo(files.size() + 1);
    }

    private static Checkpoint checkpointOf(Block block, int classes) throws CheckpointException {
        List<String> names = new ArrayList<>();
        for (int i = 0; i < classes; i++) {
            names.add("class-" + i);
        }
        return Checkpoint.of(block, new Checkpoint.Metadata(names, 1, 0, 1, "ACCURACY", 0.5, List.of("head-only"), 42,
                Checkpoint.shapesOf(block), "2025-01-01T00:00:00Z", null));
    }

    private static float[] weights(Block block) {
        List<Float> out = new ArrayList<>();
        for (var p : block.getParameters()) {
            for (float f : p.getValue().getArray().toFloatArray()) {
                out.add(f);
            }
        }
        float[] a = new float[out.size()];
        for (int i = 0; i < a.length; i++) {
            a[i] = out.get(i);
        }
        return a;
    }

    @Test
    void checkpointsOfAnotherArchitectureOrClassCountAreRefusedBeforeAnyWeightChanges() throws Exception {
        Path cnnFile = dir.resolve("source-cnn.ckpt");
        try (Model cnn = Model.newInstance("source-cnn")) {
            cnn.setBlock(SourceModel.architecture(5));
            cnn.getBlock().initialize(cnn.getNDManager(), DataType.FLOAT32, new Shape(1, 1, 28, 28));
            checkpointOf(cnn.getBlock(), 5).save(cnnFile);
        }
        Path tsFile = dir.resolve("torchscript-5.ckpt");
        int tried = 0;
        int rejected = 0;
        try (Model ts = TorchScriptBackbone.load(TorchScriptFixtures.DIR.resolve("tiny-cnn-embedding.pt"))) {
            FineTuner tuner = FineTuner.from(ts).optHeadReplacer(HeadReplacer.append()).replaceHead(5);
            tuner.block().initialize(ts.getNDManager(), DataType.FLOAT32, new Shape(1, 3, 32, 32));
            checkpointOf(tuner.block(), 5).save(tsFile);
            float[] before = weights(tuner.block());
            // a checkpoint of the plain CNN into the TorchScript module with a head
            tried++;
            assertThatThrownBy(() -> Checkpoint.load(cnnFile).restoreInto(tuner.block(), ts.getNDManager()))
                    .isInstanceOf(CheckpointException.class)
                    .hasMessageContaining("another architecture or class count")
                    .hasMessageContaining("first difference")
                    .hasMessageContaining("replaceHead(5)");
            rejected++;
            assertThat(weights(tuner.block())).containsExactly(before);
        }
        try (Model ts = TorchScriptBackbone.load(TorchScriptFixtures.DIR.resolve("tiny-cnn-embedding.pt"))) {
            // the same architecture with 3 classes
            FineTuner tuner = FineTuner.from(ts).optHeadReplacer(HeadReplacer.append()).replaceHead(3);
            tuner.block().initialize(ts.getNDManager(), DataType.FLOAT32, new Shape(1, 3, 32, 32));
            float[] before = weights(tuner.block());
            tried++;
            assertThatThrownBy(() -> Checkpoint.load(tsFile).restoreInto(tuner.block(), ts.getNDManager()))
                    .isInstanceOf(CheckpointException.class)
                    .hasMessageContaining("5 classes")
                    .hasMessageContaining("replaceHead(5)");
            rejected++;
            assertThat(weights(tuner.block())).containsExactly(before);
        }
        try (Model cnn = Model.newInstance("source-cnn")) {
            // the TorchScript checkpoint into the plain CNN
            cnn.setBlock(SourceModel.architecture(5));
            cnn.getBlock().initialize(cnn.getNDManager(), DataType.FLOAT32, new Shape(1, 1, 28, 28));
            float[] before = weights(cnn.getBlock());
            tried++;
            assertThatThrownBy(() -> Checkpoint.load(tsFile).restoreInto(cnn.getBlock(), cnn.getNDManager()))
                    .isInstanceOf(CheckpointException.class)
                    .hasMessageContaining("another architecture or class count");
            rejected++;
            assertThat(weights(cnn.getBlock())).containsExactly(before);
            // and its own checkpoint still restores: the refusals above are about the mismatch
            tried++;
            Checkpoint.load(cnnFile).restoreInto(cnn.getBlock(), cnn.getNDManager());
        }
        System.out.printf("HOSTILE checkpointOfAnotherArchitecture: %d inputs tried, %d rejected with a message,"
                + " 0 crashes%n", tried, rejected);
    }
}
