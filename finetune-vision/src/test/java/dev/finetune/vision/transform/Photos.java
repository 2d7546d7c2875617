package dev.finetune.vision.transform;

import ai.djl.modality.cv.Image;
import ai.djl.modality.cv.ImageFactory;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.nio.file.Paths;

/** Real test photos from scikit-image's data folder. */
final class Photos {

    static final Path DIR = Paths.get("/usr/lib/python3/dist-packages/skimage/data");

    private Photos() {}

    static Image image(String name) {
        try {
            return ImageFactory.getInstance().fromFile(DIR.resolve(name));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The photo as an HWC uint8 array. */
    static NDArray load(NDManager manager, String name, Image.Flag flag) {
        return image(name).toNDArray(manager, flag);
    }

    /** Pearson correlation of two arrays of the same size. */
    static double correlation(float[] a, float[] b) {
        double ma = 0;
        double mb = 0;
        for (int i = 0; i < a.length; i++) {
            ma += a[i];
            mb += b[i];
        }
        ma /= a.length;
        mb /= b.length;
        double sab = 0;
        double saa = 0;
        double sbb = 0;
        for (int i = 0; i < a.length; i++) {
            sab += (a[i] - ma) * (b[i] - mb);
            saa += (a[i] - ma) * (a[i] - ma);
            sbb += (b[i] - mb) * (b[i] - mb);
        }
        return sab / Math.sqrt(saa * sbb);
    }
}
