import ai.djl.Model;
import ai.djl.modality.cv.Image;
import ai.djl.modality.cv.util.NDImageUtils;
import ai.djl.ndarray.*;
import ai.djl.ndarray.types.*;
import ai.djl.training.ParameterStore;
import dev.finetune.vision.backbone.TorchScriptBackbone;
import dev.finetune.vision.data.IdxImages;
import java.io.*;
import java.nio.file.*;
import java.util.*;

/** Writes embedding features of Fashion-MNIST images: label, then d floats per line. */
public class Extract {
    public static void main(String[] a) throws Exception {
        IdxImages set = IdxImages.readSplit(Paths.get("/usr/share/datasets/fashion-mnist"), Boolean.parseBoolean(a[0]));
        int perClass = Integer.parseInt(a[1]);
        int[] classes = Arrays.stream(a[2].split(",")).mapToInt(Integer::parseInt).toArray();
        List<Integer> idx = set.sample(classes, perClass, 0, 7);
        try (Model m = TorchScriptBackbone.load(Paths.get("finetune-examples/models/fashion-source-resnet-embedding.pt"));
             NDManager nd = NDManager.newBaseManager();
             PrintWriter out = new PrintWriter(Files.newBufferedWriter(Paths.get(a[3])))) {
            ParameterStore ps = new ParameterStore(nd, false);
            NDArray mean = nd.create(new float[] {0.485f, 0.456f, 0.406f}, new Shape(1, 3, 1, 1));
            NDArray std = nd.create(new float[] {0.229f, 0.224f, 0.225f}, new Shape(1, 3, 1, 1));
            for (int s = 0; s < idx.size(); s += 100) {
                try (NDManager sub = nd.newSubManager()) {
                    int e = Math.min(idx.size(), s + 100);
                    float[] px = new float[(e - s) * 784];
                    for (int i = s; i < e; i++) {
                        byte[] b = set.image(idx.get(i));
                        for (int j = 0; j < 784; j++) px[(i - s) * 784 + j] = (b[j] & 0xff) / 255f;
                    }
                    NDArray x = sub.create(px, new Shape(e - s, 28, 28, 1));
                    x = NDImageUtils.resize(x, 32, 32, Image.Interpolation.BILINEAR).transpose(0, 3, 1, 2).repeat(1, 3);
                    x = x.sub(mean).div(std);
                    float[] f = m.getBlock().forward(ps, new NDList(x), false).head().toFloatArray();
                    int d = f.length / (e - s);
                    for (int i = s; i < e; i++) {
                        int lab = set.label(idx.get(i));
                        int y = 0; while (classes[y] != lab) y++;
                        StringBuilder sb = new StringBuilder().append(y);
                        for (int j = 0; j < d; j++) sb.append(' ').append(f[(i - s) * d + j]);
                        out.println(sb);
                    }
                }
            }
        }
    }
}
