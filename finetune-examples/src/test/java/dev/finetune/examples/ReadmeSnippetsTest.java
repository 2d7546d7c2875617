package dev.finetune.examples;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.tools.Diagnostic;
import javax.tools.DiagnosticCollector;
import javax.tools.JavaCompiler;
import javax.tools.JavaFileObject;
import javax.tools.SimpleJavaFileObject;
import javax.tools.StandardJavaFileManager;
import javax.tools.ToolProvider;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

/**
 * Every {@code ```java} block of the README compiles against the project's class path, so its
 * imports, types and method names are those of the library and of DJL.
 *
 * <p>The convention (also stated in the README source, above its first fragment):
 * <ul>
 *   <li>Every fenced block names its language. {@code java} blocks are compiled; any other
 *       ({@code sh}, {@code xml}, ...) is not, which is the only way out of the check.</li>
 *   <li>A block's leading {@code import} lines stay imports. If the rest starts with a type
 *       declaration ({@code class}, {@code interface}, {@code record}, {@code enum}), the block is a
 *       whole source file; otherwise it becomes the body of a method that {@code throws Exception}.</li>
 *   <li>A fragment that uses variables of an earlier step declares them in an HTML comment on the
 *       line before its fence, {@code <!-- java-context: Model model, Dataset trainData -->}: they
 *       become the method's parameters, so their types must be imported by the block itself (the
 *       reader sees them) or fully qualified.</li>
 *   <li>All blocks compile together in the unnamed package, so a fragment may use a class an
 *       earlier whole-file block declares.</li>
 * </ul>
 * A failure names the README line and the compiler's message.
 */
class ReadmeSnippetsTest {

    private static final Pattern FENCE = Pattern.compile("^(\\s*)```(.*)$");
    private static final Pattern CONTEXT = Pattern.compile("^\\s*<!--\\s*java-context:(.*?)-->\\s*$");
    private static final Pattern TYPE_DECLARATION = Pattern.compile(
            "^(?:(?:public|final|abstract|sealed|non-sealed|static)\\s+)*(?:class|interface|record|enum)\\s+(\\w+).*");
    private static final Pattern PUBLIC_TYPE = Pattern.compile(
            "^public\\s+(?:(?:final|abstract|sealed|non-sealed)\\s+)*(?:class|interface|record|enum)\\s+(\\w+).*");

    @Test
    void everyJavaBlockOfTheReadmeCompiles() throws IOException {
        Path readme = readme();
        List<String> lines = Files.readAllLines(readme, StandardCharsets.UTF_8);
        List<Block> blocks = new ArrayList<>();
        List<String> problems = new ArrayList<>();
        parse(lines, blocks, problems);
        assertThat(blocks).as("java blocks in " + readme).hasSizeGreaterThanOrEqualTo(5);

        List<CompileError> errors = compile(blocks);
        if (!problems.isEmpty() || !errors.isEmpty()) {
            StringBuilder report = new StringBuilder("README.md code blocks that do not compile"
                    + " (README line: compiler message, then the line):");
            problems.forEach(p -> report.append('\n').append(p));
            for (CompileError e : errors) {
                report.append('\n').append(e);
                if (e.line() > 0 && e.line() <= lines.size()) {
                    report.append("\n    > ").append(lines.get(e.line() - 1).trim());
                }
            }
            fail(report.toString());
        }
    }

    /** The check itself: a call to a method that does not exist fails, naming the README line. */
    @Test
    void aSnippetCallingAMissingMethodFailsWithItsReadmeLine() {
        List<String> markdown = List.of(
                "# a page",
                "",
                "<!-- java-context: FineTuner tuner -->",
                "```java",
                "import dev.finetune.core.FineTuner;",
                "",
                "tuner.optSeed(7);",
                "tuner.optNoSuchThing(true);",
                "```");
        List<Block> blocks = new ArrayList<>();
        List<String> problems = new ArrayList<>();
        parse(markdown, blocks, problems);
        assertThat(problems).isEmpty();

        List<CompileError> errors = compile(blocks);
        assertThat(errors).hasSize(1);
        assertThat(errors.get(0).line()).isEqualTo(8);
        assertThat(errors.get(0).toString()).startsWith("README.md:8: cannot find symbol").contains("optNoSuchThing");
    }

    /** A fenced block: its README line, language, context and lines (fence indentation removed). */
    private record Block(int fenceLine, String language, String context, List<String> lines) {}

    private static Path readme() {
        Path dir = Paths.get("").toAbsolutePath();
        while (dir != null) {
            if (Files.isRegularFile(dir.resolve("README.md")) && Files.isDirectory(dir.resolve("finetune-core"))) {
                return dir.resolve("README.md");
            }
            dir = dir.getParent();
        }
        throw new AssertionError("README.md not found above " + Paths.get("").toAbsolutePath());
    }

    private static void parse(List<String> lines, List<Block> java, List<String> problems) {
        for (int i = 0; i < lines.size(); i++) {
            Matcher open = FENCE.matcher(lines.get(i));
            if (!open.matches()) {
                continue;
            }
            int indent = open.group(1).length();
            String language = open.group(2).trim();
            int fenceLine = i + 1;
            if (language.isEmpty()) {
                problems.add("README.md:" + fenceLine + ": a code block without a language; name it"
                        + " (```java is compiled, ```sh, ```xml, ... are not)");
            }
            String context = "";
            for (int j = i - 1; j >= 0; j--) {
                if (!lines.get(j).isBlank()) {
                    Matcher c = CONTEXT.matcher(lines.get(j));
                    context = c.matches() ? c.group(1).trim() : "";
                    break;
                }
            }
            List<String> body = new ArrayList<>();
            i++;
            while (i < lines.size() && !(FENCE.matcher(lines.get(i)).matches()
                    && lines.get(i).trim().equals("```"))) {
                String line = lines.get(i);
                int cut = 0;
                while (cut < indent && cut < line.length() && line.charAt(cut) == ' ') {
                    cut++;
                }
                body.add(line.substring(cut));
                i++;
            }
            if (i == lines.size()) {
                problems.add("README.md:" + fenceLine + ": a code block that is never closed");
            }
            if (language.equals("java")) {
                java.add(new Block(fenceLine, language, context, body));
            }
        }
    }

    /** A compiler error at a README line (0 when it has none). */
    private record CompileError(int line, String message) {
        @Override
        public String toString() {
            return "README.md" + (line > 0 ? ":" + line : "") + ": " + message;
        }
    }

    /** One generated source file and, per generated line (1-based), the README line it came from. */
    private record Source(String name, String text, int[] readmeLines) {}

    private static List<CompileError> compile(List<Block> blocks) {
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        assertThat(javac).as("a JDK's compiler (javax.tools), not a JRE").isNotNull();
        Map<JavaFileObject, Source> sources = new IdentityHashMap<>();
        for (Block block : blocks) {
            Source s = wrap(block);
            JavaFileObject file = new SimpleJavaFileObject(URI.create("string:///" + s.name() + ".java"),
                    JavaFileObject.Kind.SOURCE) {
                @Override
                public CharSequence getCharContent(boolean ignoreEncodingErrors) {
                    return s.text();
                }
            };
            sources.put(file, s);
        }
        DiagnosticCollector<JavaFileObject> diagnostics = new DiagnosticCollector<>();
        Path out;
        try {
            out = Files.createTempDirectory("readme-snippets");
        } catch (IOException e) {
            throw new AssertionError(e);
        }
        try (StandardJavaFileManager files = javac.getStandardFileManager(diagnostics, Locale.ROOT,
                StandardCharsets.UTF_8)) {
            List<String> options = List.of("-classpath", System.getProperty("java.class.path"),
                    "-d", out.toString(), "-proc:none", "-implicit:none", "-encoding", "UTF-8");
            javac.getTask(null, files, diagnostics, options, null, sources.keySet()).call();
        } catch (IOException e) {
            throw new AssertionError(e);
        } finally {
            deleteQuietly(out);
        }
        List<CompileError> errors = new ArrayList<>();
        for (Diagnostic<? extends JavaFileObject> d : diagnostics.getDiagnostics()) {
            if (d.getKind() != Diagnostic.Kind.ERROR) {
                continue;
            }
            Source s = d.getSource() == null ? null : sources.get(d.getSource());
            int line = 0;
            if (s != null && d.getLineNumber() > 0 && d.getLineNumber() < s.readmeLines().length) {
                line = s.readmeLines()[(int) d.getLineNumber()];
            }
            errors.add(new CompileError(line, d.getMessage(Locale.ROOT).replace("\n", "\n    ")));
        }
        errors.sort(Comparator.comparingInt(CompileError::line));
        return errors;
    }

    /** Imports stay imports; a type declaration stays a file; anything else becomes a method body. */
    private static Source wrap(Block block) {
        List<String> lines = block.lines();
        int firstCode = 0;
        while (firstCode < lines.size()) {
            String t = lines.get(firstCode).trim();
            if (t.isEmpty() || t.startsWith("import ") || t.startsWith("//")) {
                firstCode++;
            } else {
                break;
            }
        }
        String declared = null;
        for (int i = firstCode; i < lines.size(); i++) {
            String t = lines.get(i).trim();
            if (t.isEmpty() || t.startsWith("//") || t.startsWith("/*") || t.startsWith("*") || t.startsWith("@")) {
                continue;
            }
            Matcher type = TYPE_DECLARATION.matcher(t);
            declared = type.matches() ? type.group(1) : null;
            break;
        }
        String name = "ReadmeSnippetL" + block.fenceLine();
        StringBuilder text = new StringBuilder();
        List<Integer> map = new ArrayList<>();
        map.add(block.fenceLine()); // index 0 unused (lines are 1-based)
        if (declared != null) {
            for (int i = 0; i < lines.size(); i++) {
                Matcher p = PUBLIC_TYPE.matcher(lines.get(i));
                if (p.matches()) {
                    name = p.group(1);
                    break;
                }
            }
            for (int i = 0; i < lines.size(); i++) {
                text.append(lines.get(i)).append('\n');
                map.add(block.fenceLine() + 1 + i);
            }
        } else {
            for (int i = 0; i < firstCode; i++) {
                text.append(lines.get(i)).append('\n');
                map.add(block.fenceLine() + 1 + i);
            }
            text.append("final class ").append(name).append(" {\n");
            map.add(block.fenceLine());
            text.append("    static void snippet(").append(block.context()).append(") throws Exception {\n");
            map.add(block.fenceLine() - 1); // the context comment's line
            for (int i = firstCode; i < lines.size(); i++) {
                text.append(lines.get(i)).append('\n');
                map.add(block.fenceLine() + 1 + i);
            }
            text.append("    }\n}\n");
            map.add(block.fenceLine() + lines.size() + 1);
            map.add(block.fenceLine() + lines.size() + 1);
        }
        int[] readmeLines = map.stream().mapToInt(Integer::intValue).toArray();
        return new Source(name, text.toString(), readmeLines);
    }

    private static void deleteQuietly(Path dir) {
        try (var paths = Files.walk(dir)) {
            paths.sorted((a, b) -> b.getNameCount() - a.getNameCount()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            // a temporary folder left behind is harmless
        }
    }
}
