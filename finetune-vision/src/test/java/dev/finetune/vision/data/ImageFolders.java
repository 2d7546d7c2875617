package dev.finetune.vision.data;

import dev.finetune.core.fixtures.FashionMnist;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;

/** Writes real Fashion-MNIST items as PNG files into class folders, for image-folder tests. */
public final class ImageFolders {

    private ImageFolders() {}

    /**
     * Writes a 28x28 grey image.
     *
     * @param pixels 784 bytes, row-major
     * @param file the PNG file
     * @throws IOException if writing fails
     */
    public static void writeGreyPng(byte[] pixels, Path file) throws IOException {
        BufferedImage img = new BufferedImage(28, 28, BufferedImage.TYPE_BYTE_GRAY);
        img.getRaster().setDataElements(0, 0, 28, 28, pixels);
        Files.createDirectories(file.getParent());
        ImageIO.write(img, "png", file.toFile());
    }

    /**
     * Writes {@code counts[i]} training-split items of class {@code classes[i]} under
     * {@code root/<class name>/item-<index>.png}.
     *
     * @param root the image folder
     * @param classes Fashion-MNIST class indices
     * @param counts images per class
     * @param seed which items
     * @return the Fashion-MNIST indices written, class by class
     * @throws IOException if writing fails
     */
    public static List<Integer> fashion(Path root, int[] classes, int[] counts, long seed) throws IOException {
        FashionMnist.Split split = FashionMnist.train();
        List<Integer> written = new java.util.ArrayList<>();
        for (int c = 0; c < classes.length; c++) {
            List<Integer> picked = FashionMnist.pick(split, new int[] {classes[c]}, counts[c], 0, seed);
            for (int i : picked) {
                writeGreyPng(split.images()[i], root.resolve(safe(FashionMnist.NAMES.get(classes[c])))
                        .resolve(String.format("item-%05d.png", i)));
                written.add(i);
            }
        }
        return written;
    }

    /**
     * @param className a class name
     * @return it as a folder name
     */
    public static String safe(String className) {
        return className.replace('/', '-').replace(' ', '_');
    }
}
