package dev.finetune.vision.data;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;

/**
 * Splits a catalog into training, validation and test parts: stratified (each class keeps its
 * share in every part), reproducible from a seed, and group-aware when the catalog has groups
 * (all images of one patient, product or video land in one part, so no unit is both trained on and
 * tested on).
 *
 * <pre>{@code
 * ImageCatalog images = ImageCatalog.scan(Path.of("photos"));
 * DataSplit.Splits parts = DataSplit.builder()
 *         .optValidationFraction(0.2).optTestFraction(0.2)   // default 0.15 each
 *         .optSeed(7)                                        // default 42
 *         .build().split(images);
 * System.out.print(parts.describe());                // images per class in each part
 * parts.warnings().forEach(System.out::println);     // a class a part has no image of
 * }</pre>
 */
public final class DataSplit {

    private static final Logger LOG = LoggerFactory.getLogger(DataSplit.class);

    private final double validation;
    private final double test;
    private final long seed;

    private DataSplit(Builder b) {
        validation = b.validation;
        test = b.test;
        seed = b.seed;
    }

    /** @return a builder (defaults: 15% validation, 15% test, seed 42) */
    public static Builder builder() {
        return new Builder();
    }

    /** @return the validation fraction */
    public double validationFraction() {
        return validation;
    }

    /** @return the test fraction */
    public double testFraction() {
        return test;
    }

    /** @return the seed */
    public long seed() {
        return seed;
    }

    /**
     * The three parts of a catalog.
     *
     * @param train training images
     * @param validation validation images (pick epochs and settings)
     * @param test held-out images, measured once at the end
     */
    public record Splits(ImageCatalog train, ImageCatalog validation, ImageCatalog test) {
        /** @return images per class in each part, as a table */
        public String describe() {
            StringBuilder sb = new StringBuilder();
            List<String> names = train.classNames();
            int width = 5;
            for (String n : names) {
                width = Math.max(width, n.length());
            }
            sb.append(String.format(Locale.ROOT, "%-" + width + "s %7s %10s %6s%n", "class", "train", "validation", "test"));
            long[] a = train.classCounts().counts();
            long[] b = validation.classCounts().counts();
            long[] c = test.classCounts().counts();
            for (int i = 0; i < names.size(); i++) {
                sb.append(String.format(Locale.ROOT, "%-" + width + "s %7d %10d %6d%n", names.get(i), a[i], b[i], c[i]));
            }
            return sb.toString();
        }

        /**
         * What the split leaves a class without: no training images (the model cannot learn it:
         * e.g. a group split put its only group in validation or test), or none in a non-empty
         * validation or test part (it is never measured there: classes of 1-2 images).
         * {@link DataSplit#split} logs these as warnings.
         *
         * @return one line per class and part it is missing from; empty when every class is in every part
         */
        public List<String> warnings() {
            List<String> out = new ArrayList<>();
            List<String> names = train.classNames();
            long[] a = train.classCounts().counts();
            long[] b = validation.classCounts().counts();
            long[] c = test.classCounts().counts();
            for (int i = 0; i < names.size(); i++) {
                long all = a[i] + b[i] + c[i];
                if (a[i] == 0 && all > 0) {
                    out.add(String.format(Locale.ROOT, "Class '%s' has no training images (%d in validation, %d in"
                            + " test): the model cannot learn it. Add images of it, or group them so that one"
                            + " group does not hold them all.", names.get(i), b[i], c[i]));
                }
                List<String> missing = new ArrayList<>();
                if (b[i] == 0 && validation.size() > 0) {
                    missing.add("validation");
                }
                if (c[i] == 0 && test.size() > 0) {
                    missing.add("test");
                }
                if (!missing.isEmpty() && all > 0) {
                    out.add(String.format(Locale.ROOT, "Class '%s' (%d images) has none in %s: it is not measured"
                            + " there. Give it more images (at least 3 without groups).", names.get(i), all,
                            String.join(" or ", missing)));
                }
            }
            return out;
        }
    }

    /**
     * Splits the catalog. Without groups each class is shuffled and cut at the fractions (a class
     * with at least 3 images gives each non-zero part at least one). With groups, whole groups are
     * dealt class by class (a group's class is its most common label) to the part furthest below its
     * share, so the fractions hold in images up to one group's size.
     *
     * @param catalog the images
     * @return the parts
     */
    public Splits split(ImageCatalog catalog) {
        int k = catalog.classNames().size();
        List<List<List<ImageSample>>> unitsByClass = new ArrayList<>();
        for (int c = 0; c < k; c++) {
            unitsByClass.add(new ArrayList<>());
        }
        if (catalog.hasGroups()) {
            Map<String, List<ImageSample>> groups = new LinkedHashMap<>();
            for (ImageSample s : catalog.samples()) {
                groups.computeIfAbsent(s.group(), g -> new ArrayList<>()).add(s);
            }
            for (List<ImageSample> g : groups.values()) {
                unitsByClass.get(majorityLabel(g, k)).add(g);
            }
        } else {
            for (ImageSample s : catalog.samples()) {
                unitsByClass.get(s.label()).add(List.of(s));
            }
        }
        Random random = new Random(seed);
        List<ImageSample> trainPart = new ArrayList<>();
        List<ImageSample> validationPart = new ArrayList<>();
        List<ImageSample> testPart = new ArrayList<>();
        for (int c = 0; c < k; c++) {
            List<List<ImageSample>> units = unitsByClass.get(c);
            Collections.shuffle(units, random);
            if (!catalog.hasGroups()) {
                int n = units.size();
                int nTest = share(n, test);
                int nValidation = share(n, validation);
                while (nTest + nValidation >= n && nTest + nValidation > 0) {
                    if (nTest >= nValidation && nTest > 0) {
                        nTest--;
                    } else {
                        nValidation--;
                    }
                }
                for (int i = 0; i < n; i++) {
                    List<ImageSample> part = i < nTest ? testPart : i < nTest + nValidation ? validationPart : trainPart;
                    part.addAll(units.get(i));
                }
            } else {
                long total = 0;
                for (List<ImageSample> u : units) {
                    total += u.size();
                }
                double[] target = {total * (1 - validation - test), total * validation, total * test};
                long[] given = new long[3];
                List<List<ImageSample>> parts = List.of(trainPart, validationPart, testPart);
                for (List<ImageSample> u : units) {
                    int best = 0;
                    double bestDeficit = Double.NEGATIVE_INFINITY;
                    for (int p = 2; p >= 0; p--) { // test first, then validation, on ties
                        double deficit = target[p] - given[p];
                        if (target[p] > 0 && deficit > bestDeficit) {
                            best = p;
                            bestDeficit = deficit;
                        }
                    }
                    parts.get(best).addAll(u);
                    given[best] += u.size();
                }
            }
        }
        Splits splits = new Splits(ImageCatalog.of(catalog.classNames(), trainPart),
                ImageCatalog.of(catalog.classNames(), validationPart), ImageCatalog.of(catalog.classNames(), testPart));
        for (String w : splits.warnings()) {
            LOG.warn(w);
        }
        return splits;
    }

    private static int share(int n, double fraction) {
        if (fraction == 0) {
            return 0;
        }
        int m = (int) Math.round(n * fraction);
        return n >= 3 ? Math.max(1, m) : m;
    }

    private static int majorityLabel(List<ImageSample> group, int k) {
        int[] counts = new int[k];
        for (ImageSample s : group) {
            counts[s.label()]++;
        }
        int best = 0;
        for (int c = 1; c < k; c++) {
            if (counts[c] > counts[best]) {
                best = c;
            }
        }
        return best;
    }

    /** Sets the fractions and the seed. */
    public static final class Builder {
        private double validation = 0.15;
        private double test = 0.15;
        private long seed = 42;

        private Builder() {}

        /**
         * @param fraction share of the images for validation, in [0, 1)
         * @return this
         */
        public Builder optValidationFraction(double fraction) {
            validation = fraction;
            return this;
        }

        /**
         * @param fraction share of the images for the test part, in [0, 1)
         * @return this
         */
        public Builder optTestFraction(double fraction) {
            test = fraction;
            return this;
        }

        /**
         * @param randomSeed the shuffle seed
         * @return this
         */
        public Builder optSeed(long randomSeed) {
            seed = randomSeed;
            return this;
        }

        /** @return the split */
        public DataSplit build() {
            if (!(validation >= 0 && test >= 0 && validation + test < 1)) {
                throw new IllegalArgumentException(String.format(Locale.ROOT,
                        "optValidationFraction(%s) + optTestFraction(%s) must be non-negative and leave images to"
                                + " train on (sum below 1).", validation, test));
            }
            return new DataSplit(this);
        }
    }
}
