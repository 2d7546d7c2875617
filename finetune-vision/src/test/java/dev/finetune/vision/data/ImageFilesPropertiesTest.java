package dev.finetune.vision.data;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.ShrinkingMode;
import net.jqwik.api.lifecycle.AfterContainer;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Property-based hostile inputs: random bytes and random mutations (byte flips, truncations,
 * insertions) of real PNG and JPEG files, read by {@link ImageFiles#read} and scanned by
 * {@link ImageCatalog} with {@link UnreadablePolicy#SKIP}. Every outcome is a decoded image or an
 * IOException naming the file: no other exception, no hang.
 */
class ImageFilesPropertiesTest {

    /** Low enough that a mutated header cannot make a try allocate much; the limit itself is tested elsewhere. */
    private static final long LIMIT = 4_000_000;
    private static final Map<String, byte[]> REAL;
    private static final List<String> NAMES;
    private static final ExecutorService READER = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "hostile-reader");
        t.setDaemon(true);
        return t;
    });
    private static final HostileInputs.Tally RANDOM = new HostileInputs.Tally("property randomBytes");
    private static final HostileInputs.Tally MUTATED = new HostileInputs.Tally("property mutatedRealImages");
    private static final HostileInputs.Tally SCANNED = new HostileInputs.Tally("property scanOfMutatedFolders");

    static {
        try {
            REAL = HostileInputs.realImages();
            REAL.remove("retina.jpg"); // 1411x1411: slow to decode hundreds of times, rocket.jpg covers JPEG
            NAMES = List.copyOf(REAL.keySet());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** One damage done to a file: flip a byte, cut the file, or insert bytes, at a fraction of its length. */
    record Mutation(int kind, double at, byte value, int count) {
        byte[] apply(byte[] in) {
            int i = (int) (at * in.length);
            switch (kind) {
                case 0: {
                    byte[] out = in.clone();
                    if (out.length > 0) {
                        out[Math.min(i, out.length - 1)] ^= value == 0 ? 1 : value;
                    }
                    return out;
                }
                case 1:
                    return Arrays.copyOf(in, i);
                default: {
                    byte[] out = new byte[in.length + count];
                    System.arraycopy(in, 0, out, 0, i);
                    Arrays.fill(out, i, i + count, value);
                    System.arraycopy(in, i, out, i + count, in.length - i);
                    return out;
                }
            }
        }
    }

    @Provide
    Arbitrary<Mutation> mutation() {
        return Combinators.combine(Arbitraries.integers().between(0, 2), Arbitraries.doubles().between(0, 1),
                Arbitraries.bytes(), Arbitraries.integers().between(1, 64)).as(Mutation::new);
    }

    @Provide
    Arbitrary<List<Mutation>> mutations() {
        return mutation().list().ofMinSize(1).ofMaxSize(4);
    }

    @Provide
    Arbitrary<String> realName() {
        return Arbitraries.of(NAMES);
    }

    @Provide
    Arbitrary<String> extension() {
        return Arbitraries.of("png", "jpg", "jpeg", "bmp", "gif", "tif", "wbmp");
    }

    @Provide
    Arbitrary<byte[]> magic() {
        return Arbitraries.of(new byte[0], new byte[] {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'},
                new byte[] {(byte) 0xff, (byte) 0xd8, (byte) 0xff}, new byte[] {'B', 'M'},
                new byte[] {'G', 'I', 'F', '8', '9', 'a'}, new byte[] {'I', 'I', 42, 0});
    }

    /** Reads with a bound on time, so that a hang fails the property instead of the build. */
    private static String read(HostileInputs.Tally tally, Path file) throws Exception {
        Future<String> f = READER.submit(() -> tally.read(file, LIMIT));
        try {
            return f.get(20, TimeUnit.SECONDS);
        } catch (TimeoutException e) {
            f.cancel(true);
            tally.crash(file + ": no answer in 20 s");
            throw new AssertionError(file + ": ImageFiles.read hung", e);
        }
    }

    private static Path write(String name, byte[] bytes) throws IOException {
        Path dir = Files.createTempDirectory("hostile");
        Path file = dir.resolve(name);
        Files.write(file, bytes);
        return file;
    }

    private static void delete(Path dir) throws IOException {
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : (Iterable<Path>) s.sorted(Comparator.reverseOrder())::iterator) {
                Files.deleteIfExists(p);
            }
        }
    }

    private static void assertNoNewCrash(HostileInputs.Tally tally, int before) {
        assertThat(tally.crashes()).as("unexpected outcomes").hasSize(before);
    }

    @Property(tries = 500, shrinking = ShrinkingMode.BOUNDED)
    void randomBytesDecodeOrFailNamingTheFile(@ForAll("magic") byte[] magic, @ForAll byte[] noise,
            @ForAll("extension") String ext) throws Exception {
        byte[] bytes = new byte[magic.length + noise.length];
        System.arraycopy(magic, 0, bytes, 0, magic.length);
        System.arraycopy(noise, 0, bytes, magic.length, noise.length);
        Path file = write("random." + ext, bytes);
        try {
            int before = RANDOM.crashes().size();
            read(RANDOM, file);
            assertNoNewCrash(RANDOM, before);
        } finally {
            delete(file.getParent());
        }
    }

    @Property(tries = 800, shrinking = ShrinkingMode.BOUNDED)
    void mutatedRealImagesDecodeOrFailNamingTheFile(@ForAll("realName") String name,
            @ForAll("mutations") List<Mutation> mutations) throws Exception {
        byte[] bytes = REAL.get(name);
        for (Mutation m : mutations) {
            bytes = m.apply(bytes);
        }
        Path file = write("mutated-" + name, bytes);
        try {
            int before = MUTATED.crashes().size();
            read(MUTATED, file);
            assertNoNewCrash(MUTATED, before);
        } finally {
            delete(file.getParent());
        }
    }

    @Property(tries = 60, shrinking = ShrinkingMode.BOUNDED)
    void scanWithSkipKeepsEveryFileEitherAsASampleOrAsUnreadable(@ForAll("realName") String a,
            @ForAll("mutations") List<Mutation> ma, @ForAll("realName") String b,
            @ForAll("mutations") List<Mutation> mb) throws Exception {
        Path root = Files.createTempDirectory("hostile-folder");
        try {
            byte[] good = REAL.get("fashion-0.png");
            List<Path> mutated = new ArrayList<>();
            String[] names = {a, b};
            List<List<Mutation>> all = List.of(ma, mb);
            for (int c = 0; c < 2; c++) {
                Path dir = Files.createDirectories(root.resolve("class-" + c));
                Files.write(dir.resolve("good.png"), good);
                byte[] bytes = REAL.get(names[c]);
                for (Mutation m : all.get(c)) {
                    bytes = m.apply(bytes);
                }
                Path f = dir.resolve("mutated-" + names[c]);
                Files.write(f, bytes);
                mutated.add(f);
            }
            Future<ImageCatalog> scan = READER.submit(() -> ImageCatalog.builder().setRoot(root)
                    .optUnreadable(UnreadablePolicy.SKIP).optMaxPixels(LIMIT).build());
            ImageCatalog c;
            try {
                c = scan.get(30, TimeUnit.SECONDS);
            } catch (TimeoutException e) {
                scan.cancel(true);
                SCANNED.crash(root + ": scan hung");
                throw new AssertionError("scan of " + root + " hung", e);
            } catch (java.util.concurrent.ExecutionException e) {
                SCANNED.crash(root + ": " + e.getCause());
                throw new AssertionError("scan of " + root + " threw " + e.getCause(), e.getCause());
            }
            assertThat(c.classNames()).containsExactly("class-0", "class-1");
            assertThat(c.paths()).contains(root.resolve("class-0/good.png"), root.resolve("class-1/good.png"));
            for (Path f : mutated) {
                boolean sample = c.paths().contains(f);
                List<SkippedFile> skipped = c.unreadable().stream().filter(s -> s.path().equals(f)).toList();
                assertThat(sample ^ skipped.size() == 1).as("%s is a sample or unreadable, once", f).isTrue();
                if (!skipped.isEmpty()) {
                    assertThat(skipped.get(0).reason()).startsWith(f.toString());
                }
                SCANNED.count(!sample);
            }
            assertThat(c.size() + c.unreadable().size()).isEqualTo(4);
        } finally {
            delete(root);
        }
    }

    @AfterContainer
    static void printTallies() {
        RANDOM.print();
        MUTATED.print();
        SCANNED.print();
    }
}
