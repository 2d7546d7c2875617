package dev.finetune.examples;

import dev.finetune.examples.bench.Benchmarks;
import dev.finetune.examples.quality.PlainDjlBaseline;
import dev.finetune.examples.quality.ProbeStudy;
import dev.finetune.examples.quality.QualityBenchmark;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Paths;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The example programs' command lines, without running them: {@code --help} prints the usage and
 * exits 0; a bad value or an unknown flag prints picocli's error naming it and exits 2.
 */
class CommandLinesTest {

    /** What one run of a command line printed and returned. */
    record Run(int status, String out, String err) {}

    private static Run execute(Class<?> program, String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cl = new CommandLine(program);
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        int status = cl.execute(args);
        return new Run(status, out.toString(), err.toString());
    }

    @Test
    void everyProgramPrintsItsUsageOnHelp() {
        for (Class<?> program : new Class<?>[] {FolderFineTune.class, TransferStudy.class, FashionTransfer.class,
                QualityBenchmark.class, ProbeStudy.class, PlainDjlBaseline.class, Benchmarks.class}) {
            Run r = execute(program, "--help");
            assertThat(r.status()).as(program.getSimpleName()).isZero();
            assertThat(r.out()).as(program.getSimpleName()).startsWith("Usage: " + program.getSimpleName());
        }
        assertThat(execute(TransferStudy.class, "--help").out()).contains("--full", "--sizes=N[,N...]",
                "--mnist-sizes=N[,N...]", "--seeds=N", "--epochs=N", "--out=DIR", "130");
        assertThat(execute(FolderFineTune.class, "--help").out()).contains("[BACKBONE.pt] [IMAGE_FOLDER] [EXPORT_DIR]");
        assertThat(execute(Benchmarks.class, "--help").out()).contains("--only=ID", "--timed-steps=N");
    }

    @Test
    void aBadValueOrAnUnknownFlagIsAUsageErrorNamingIt() {
        assertUsageError(execute(TransferStudy.class, "--epochs", "many"), "--epochs", "'many' is not an int");
        assertUsageError(execute(TransferStudy.class, "--sizes", "10,x"), "--sizes", "'x' is not an int");
        assertUsageError(execute(TransferStudy.class, "--bogus"), "Unknown option: '--bogus'");
        assertUsageError(execute(FolderFineTune.class, "a.pt", "images", "export", "extra"), "Unmatched argument", "'extra'");
        assertUsageError(execute(FashionTransfer.class, "--target-per-class", "x"), "--target-per-class");
        assertUsageError(execute(QualityBenchmark.class, "--sizes", "10,x"), "--sizes");
        // checked before any run (it used to fail after the first seed's other methods)
        assertUsageError(execute(QualityBenchmark.class, "--strategies", "full,fulll"), "--strategies", "'fulll'");
        assertUsageError(execute(ProbeStudy.class, "--sets", "(emoji"), "--sets");
        assertUsageError(execute(PlainDjlBaseline.class), "Missing required parameters", "MODEL.pt", "TRAIN_DIR");
        assertUsageError(execute(PlainDjlBaseline.class, "m.pt", "train", "--per-class", "x"), "--per-class");
        // an unknown target used to run nothing and write an empty report over the results
        assertUsageError(execute(Benchmarks.class, "--only", "5,8"), "--only", "'8'");
        assertUsageError(execute(Benchmarks.class, "--timed-steps", "x"), "--timed-steps");
    }

    private static void assertUsageError(Run r, String... named) {
        assertThat(r.status()).as(r.err()).isEqualTo(2);
        assertThat(r.err()).contains(named).contains("Usage: ");
        assertThat(r.out()).isEmpty();
    }

    @Test
    void transferStudyFlagsKeepTheirMeanings() {
        TransferStudy.Settings defaults = TransferStudy.parse(new String[0]);
        assertThat(defaults.fashionSizes()).containsExactly(10, 50, 200);
        assertThat(defaults.mnistSizes()).containsExactly(10, 200);
        assertThat(defaults.seeds()).isEqualTo(2);
        assertThat(defaults.epochs()).isEqualTo(6);
        assertThat(defaults.out()).isEqualTo(Paths.get("target", "study"));

        TransferStudy.Settings full = TransferStudy.parse(new String[] {"--full"});
        assertThat(full.fashionSizes()).containsExactly(5, 10, 20, 50, 100, 200, 500, 1000);
        assertThat(full.mnistSizes()).containsExactly(10, 50, 200, 1000);
        assertThat(full.seeds()).isEqualTo(3);
        assertThat(full.epochs()).isEqualTo(10);

        // a flag beside --full wins over its value, before or after it
        for (String[] args : new String[][] {{"--full", "--sizes", "20,40", "--seeds", "1"},
                {"--sizes", "20,40", "--seeds", "1", "--full"}}) {
            TransferStudy.Settings s = TransferStudy.parse(args);
            assertThat(s.fashionSizes()).containsExactly(20, 40);
            assertThat(s.seeds()).isEqualTo(1);
            assertThat(s.mnistSizes()).containsExactly(10, 50, 200, 1000);
            assertThat(s.epochs()).isEqualTo(10);
        }

        // '' is none (no MNIST settings); the flags as the test and the README give them
        TransferStudy.Settings s = TransferStudy.parse(new String[] {"--mnist-sizes", "", "--sizes", "10, 50",
                "--epochs", "3", "--out", "/tmp/x"});
        assertThat(s.mnistSizes()).isEmpty();
        assertThat(s.fashionSizes()).containsExactly(10, 50);
        assertThat(s.epochs()).isEqualTo(3);
        assertThat(s.out()).isEqualTo(Paths.get("/tmp/x"));

        assertThatThrownBy(() -> TransferStudy.parse(new String[] {"--seeds"}))
                .isInstanceOf(CommandLine.ParameterException.class).hasMessageContaining("--seeds");
    }
}
