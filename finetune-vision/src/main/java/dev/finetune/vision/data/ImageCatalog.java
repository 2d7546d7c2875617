package dev.finetune.vision.data;

import ai.djl.ndarray.types.Shape;
import dev.finetune.core.loss.ClassCounts;
import dev.finetune.vision.transform.ImagePipeline;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Objects;
import java.util.function.Function;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * The labelled image files of a dataset, read from an image folder (one sub-folder per class, as
 * DJL's {@code ImageFolder}): classes in sorted folder order, hidden and non-image files left out
 * and listed, every image checked to decode and its size recorded, unreadable ones failed or
 * skipped as the caller chose, and an optional group (patient, product, video) per file for
 * leakage-free splits.
 *
 * <pre>{@code
 * ImageCatalog images = ImageCatalog.scan(Path.of("photos"));    // photos/<class>/*.png|jpg, sorted names = labels
 * System.out.println(images);                                     // "120 images in 3 classes from photos"
 * System.out.println(images.classCounts().describe());            // images per class, shares, balanced weights
 *
 * ImageCatalog products = ImageCatalog.builder()
 *         .setRoot(Path.of("photos"))
 *         .optUnreadable(UnreadablePolicy.SKIP)                    // broken images listed in unreadable()
 *         .optGroupKey(ImageCatalog.groupByFileNamePrefix("_"))    // p17_front.jpg and p17_back.jpg: group p17
 *         .build();
 * ImagePipeline pipeline = ImagePipeline.builder().setSize(224).build();
 * products.checkShapes(pipeline);                                 // every image can be framed, checked now
 * DataSplit.Splits parts = DataSplit.builder().optSeed(7).build().split(products); // one group, one part
 * ImageDataset train = ImageDataset.builder().setCatalog(parts.train())
 *         .optPipeline(pipeline.training()).setSampling(32, true).build();
 * }</pre>
 */
public final class ImageCatalog {

    private static final Logger LOG = LoggerFactory.getLogger(ImageCatalog.class);

    private final Path root;
    private final List<String> classNames;
    private final List<ImageSample> samples;
    private final List<SkippedFile> ignored;
    private final List<SkippedFile> unreadable;

    private ImageCatalog(Path root, List<String> classNames, List<ImageSample> samples, List<SkippedFile> ignored,
            List<SkippedFile> unreadable) {
        this.root = root;
        this.classNames = List.copyOf(classNames);
        this.samples = List.copyOf(samples);
        this.ignored = List.copyOf(ignored);
        this.unreadable = List.copyOf(unreadable);
    }

    /**
     * A catalog of given samples (e.g. a split of another catalog).
     *
     * @param classNames class names in label order
     * @param samples the samples
     * @return the catalog
     */
    public static ImageCatalog of(List<String> classNames, List<ImageSample> samples) {
        return new ImageCatalog(null, classNames, samples, List.of(), List.of());
    }

    /**
     * Scans an image folder with the defaults (unreadable images fail the scan, no groups).
     *
     * @param root the folder holding one sub-folder per class
     * @return the catalog
     * @throws IOException if the folder is missing or an image is unreadable
     */
    public static ImageCatalog scan(Path root) throws IOException {
        return builder().setRoot(root).build();
    }

    /** @return a builder for a scan */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * A group key taking the file name up to the first {@code separator} ({@code p17_front.jpg}
     * with "_" is group {@code p17}); a name without it is its own group.
     *
     * @param separator the separator
     * @return the key function
     */
    public static Function<Path, String> groupByFileNamePrefix(String separator) {
        return p -> {
            String name = p.getFileName().toString();
            int i = name.indexOf(separator);
            return i > 0 ? name.substring(0, i) : name;
        };
    }

    /** @return the scanned folder, or null for a catalog made of samples */
    public Path root() {
        return root;
    }

    /** @return class names in label order */
    public List<String> classNames() {
        return classNames;
    }

    /** @return the images, class by class in file-name order for a scan */
    public List<ImageSample> samples() {
        return samples;
    }

    /** @return the number of images */
    public int size() {
        return samples.size();
    }

    /** @return hidden files, folders and files that are not images, left out of the catalog */
    public List<SkippedFile> ignored() {
        return ignored;
    }

    /** @return image files that could not be decoded, with the decoder's reason (SKIP policy) */
    public List<SkippedFile> unreadable() {
        return unreadable;
    }

    /** @return whether the samples carry groups */
    public boolean hasGroups() {
        return !samples.isEmpty() && samples.get(0).group() != null;
    }

    /** @return the images per class */
    public ClassCounts classCounts() {
        int[] labels = new int[samples.size()];
        for (int i = 0; i < labels.length; i++) {
            labels[i] = samples.get(i).label();
        }
        return ClassCounts.of(classNames, labels);
    }

    /**
     * Checks, from the recorded sizes alone (in milliseconds, before any training), that a pipeline
     * turns every image into the same network input; call it on the whole catalog before splitting,
     * so that no part fails later (an {@code ImageDataset} checks its own part when it is built).
     *
     * @param pipeline the image preprocessing
     * @return the input shape every image gets, C x size x size
     * @throws IOException if a sample without a recorded size has an unreadable header
     * @throws IllegalArgumentException naming every image that cannot be framed (the first ten) and
     *     what to do, e.g. an image smaller than the input while {@code optAllowUpscale} is false
     */
    public Shape checkShapes(ImagePipeline pipeline) throws IOException {
        return ShapeCheck.bySize(this, pipeline);
    }

    /** @return the distinct files' paths */
    public List<Path> paths() {
        return samples.stream().map(ImageSample::path).collect(Collectors.toList());
    }

    @Override
    public String toString() {
        return size() + " images in " + classNames.size() + " classes" + (root == null ? "" : " from " + root)
                + (ignored.isEmpty() ? "" : ", " + ignored.size() + " files ignored")
                + (unreadable.isEmpty() ? "" : ", " + unreadable.size() + " unreadable skipped");
    }

    /** Scans an image folder: the root is required, the rest optional. */
    public static final class Builder {
        private Path root;
        private UnreadablePolicy policy = UnreadablePolicy.FAIL;
        private Function<Path, String> groupKey;
        private boolean decode = true;
        private long maxPixels = ImageFiles.DEFAULT_MAX_PIXELS;

        private Builder() {}

        /**
         * @param folder the folder holding one sub-folder per class
         * @return this
         */
        public Builder setRoot(Path folder) {
            root = folder;
            return this;
        }

        /**
         * @param onUnreadable fail (default) or skip-and-report images that do not decode
         * @return this
         */
        public Builder optUnreadable(UnreadablePolicy onUnreadable) {
            policy = Objects.requireNonNull(onUnreadable);
            return this;
        }

        /**
         * @param key the group of a file (patient, product, video), used by group-aware splits
         * @return this
         */
        public Builder optGroupKey(Function<Path, String> key) {
            groupKey = key;
            return this;
        }

        /**
         * @param fullDecode whether every image is decoded during the scan (default) or only its
         *     header read (faster; a file corrupt past its header then fails when it is loaded)
         * @return this
         */
        public Builder optDecodeCheck(boolean fullDecode) {
            decode = fullDecode;
            return this;
        }

        /**
         * @param pixels the largest width x height accepted, checked from the header before decoding
         * @return this
         */
        public Builder optMaxPixels(long pixels) {
            if (pixels < 1) {
                throw new IllegalArgumentException("optMaxPixels must be positive, got " + pixels);
            }
            maxPixels = pixels;
            return this;
        }

        /**
         * Scans the folder.
         *
         * @return the catalog
         * @throws IOException if the folder is missing, or an image is unreadable under the FAIL policy
         * @throws IllegalArgumentException if the folder has no class folders or a class folder no images
         */
        public ImageCatalog build() throws IOException {
            Objects.requireNonNull(root, "setRoot: the image folder");
            if (!Files.isDirectory(root)) {
                throw new IOException("Image folder not found: " + root.toAbsolutePath());
            }
            List<SkippedFile> ignored = new ArrayList<>();
            List<Path> classDirs = new ArrayList<>();
            Path realRoot = root.toRealPath();
            for (Path p : list(root)) {
                String link = Files.isSymbolicLink(p) ? brokenOrLoop(p, realRoot) : null;
                if (hidden(p)) {
                    ignored.add(new SkippedFile(p, "hidden"));
                } else if (link != null) {
                    ignored.add(new SkippedFile(p, link));
                } else if (Files.isDirectory(p)) {
                    classDirs.add(p);
                } else {
                    ignored.add(new SkippedFile(p, "a file beside the class folders"));
                }
            }
            if (classDirs.isEmpty()) {
                throw new IllegalArgumentException("The image folder " + root.toAbsolutePath()
                        + " has no class folders: put each class's images in a sub-folder named after the class"
                        + " (e.g. " + root.resolve("cat").resolve("001.jpg") + ").");
            }
            List<String> names = new ArrayList<>();
            List<ImageSample> samples = new ArrayList<>();
            List<SkippedFile> unreadable = new ArrayList<>();
            for (int label = 0; label < classDirs.size(); label++) {
                Path dir = classDirs.get(label);
                names.add(dir.getFileName().toString());
                int before = samples.size();
                int ignoredBefore = ignored.size();
                int unreadableBefore = unreadable.size();
                Path realDir = dir.toRealPath();
                for (Path f : list(dir)) {
                    String link = Files.isSymbolicLink(f) ? brokenOrLoop(f, realDir) : null;
                    if (hidden(f)) {
                        ignored.add(new SkippedFile(f, "hidden"));
                    } else if (link != null) {
                        ignored.add(new SkippedFile(f, link));
                    } else if (Files.isDirectory(f)) {
                        ignored.add(new SkippedFile(f, "a folder inside a class folder (not scanned)"));
                    } else if (!Files.isRegularFile(f)) {
                        ignored.add(new SkippedFile(f, "not a regular file (broken link or device)"));
                    } else if (!ImageFiles.hasImageExtension(f)) {
                        ignored.add(new SkippedFile(f, "not an image (extension)"));
                    } else {
                        try {
                            int[] size;
                            if (decode) {
                                BufferedImage image = ImageFiles.read(f, maxPixels);
                                size = new int[] {image.getWidth(), image.getHeight()};
                                image.flush();
                            } else {
                                size = ImageFiles.size(f);
                                if ((long) size[0] * size[1] > maxPixels) {
                                    throw new IOException(f + ": " + size[0] + "x" + size[1]
                                            + " pixels, more than the limit of " + maxPixels);
                                }
                            }
                            samples.add(new ImageSample(f, label, groupKey == null ? null : groupOf(f), size[0], size[1]));
                        } catch (IOException e) {
                            unreadable.add(new SkippedFile(f, e.getMessage()));
                        }
                    }
                }
                if (samples.size() == before && unreadable.size() == unreadableBefore) {
                    List<SkippedFile> here = ignored.subList(ignoredBefore, ignored.size());
                    throw new IllegalArgumentException("Class folder " + dir.toAbsolutePath() + " holds no images"
                            + (here.isEmpty() ? "" : " (" + here.size() + " other files: " + summary(here, 3) + ")")
                            + ": add images of '" + dir.getFileName() + "' or remove the folder.");
                }
            }
            if (!unreadable.isEmpty()) {
                if (policy == UnreadablePolicy.FAIL) {
                    throw new IOException(unreadable.size() + " image file(s) under " + root.toAbsolutePath()
                            + " cannot be read: " + summary(unreadable, 10)
                            + ". Fix or remove them, or scan with optUnreadable(UnreadablePolicy.SKIP) to leave them"
                            + " out (they are then listed in unreadable()).");
                }
                LOG.warn("Skipped {} unreadable image(s) under {}: {}", unreadable.size(), root, summary(unreadable, 10));
            }
            return new ImageCatalog(root, names, samples, ignored, unreadable);
        }

        private String groupOf(Path f) {
            String g = groupKey.apply(f);
            return g == null ? f.toString() : g;
        }

        /**
         * Why a symbolic link is left out: dangling, part of a loop of links, or pointing at the
         * folder holding it or a folder above (following it would list the same files again); null
         * for a link to an ordinary file or folder, which is then treated as its target.
         */
        private static String brokenOrLoop(Path link, Path realParent) {
            Path target;
            try {
                target = Files.readSymbolicLink(link);
            } catch (IOException e) {
                return "an unreadable symbolic link (" + e.getMessage() + ")";
            }
            if (!Files.exists(link)) {
                try {
                    link.toRealPath();
                } catch (java.nio.file.FileSystemException e) {
                    if (e.getReason() != null && e.getReason().contains("levels of symbolic links")) {
                        return "a symbolic link loop (" + link.getFileName() + " -> " + target
                                + " leads back to itself)";
                    }
                } catch (IOException e) {
                    // dangling, below
                }
                return "a dangling symbolic link to " + target + " (the target does not exist)";
            }
            if (Files.isDirectory(link)) {
                try {
                    Path real = link.toRealPath();
                    if (realParent.startsWith(real)) {
                        return "a symbolic link loop (" + link.getFileName() + " -> " + target + " points to "
                                + (real.equals(realParent) ? "the folder holding it" : "a folder above it")
                                + "; not followed)";
                    }
                } catch (IOException e) {
                    return "an unresolvable symbolic link to " + target + " (" + e.getMessage() + ")";
                }
            }
            return null;
        }

        private static boolean hidden(Path p) {
            return p.getFileName().toString().startsWith(".");
        }

        private static List<Path> list(Path dir) throws IOException {
            try (Stream<Path> s = Files.list(dir)) {
                List<Path> out = s.collect(Collectors.toCollection(ArrayList::new));
                Collections.sort(out);
                return out;
            }
        }

        private static String summary(List<SkippedFile> files, int max) {
            StringBuilder sb = new StringBuilder();
            for (int i = 0; i < Math.min(max, files.size()); i++) {
                SkippedFile f = files.get(i);
                sb.append(i == 0 ? "" : "; ");
                String reason = f.reason();
                String prefix = f.path().toString() + ": ";
                sb.append(f.path().getFileName()).append(" (")
                        .append(reason.startsWith(prefix) ? reason.substring(prefix.length()) : reason).append(')');
            }
            if (files.size() > max) {
                sb.append("; and ").append(files.size() - max).append(" more");
            }
            return sb.toString();
        }
    }

}
