package datakit.jbang;

import static org.assertj.core.api.Assertions.assertThat;

import datakit.testing.TestDatabase;
import datakit.testing.TestPostgres;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code ./jbang}'s fast start: a script that ran before starts from its launch record, without JBang,
 * and never stale: whatever JBang would build differently (the script, a file it pulls in, the catalog
 * that names it) sends the run through JBang again. A run that needs JBang is told apart by taking
 * JBang's jars away: it then fails to download them from an address that answers nothing.
 */
class FastStartIT {
    static final Path REPO = Path.of("").toAbsolutePath();
    static TestDatabase source;
    static TestDatabase warehouse;

    @TempDir
    Path jbangHome;
    @TempDir
    Path noJars;

    @BeforeAll
    static void createDatabases() {
        source = TestPostgres.createDatabase("fast_src");
        warehouse = TestPostgres.createDatabase("fast_wh");
        source.execute("CREATE SCHEMA sales", "CREATE TABLE sales.orders (id int, status text)",
            "INSERT INTO sales.orders SELECT g, 'new' FROM generate_series(1, 42) g");
    }

    record Result(int exitCode, String output) {
    }

    /** ./jbang in {@code folder}; {@code withoutJBang} takes JBang's jars away, so only a fast start can run. */
    Result jbang(Path folder, boolean withoutJBang, Map<String, String> extra, String... args) throws IOException, InterruptedException {
        var command = new ArrayList<>(List.of(REPO.resolve("jbang").toString()));
        command.addAll(List.of(args));
        var process = new ProcessBuilder(command).directory(folder.toFile()).redirectErrorStream(true);
        Map<String, String> env = process.environment();
        env.keySet().removeIf(k -> k.startsWith("SOURCE_") || k.startsWith("WAREHOUSE_") || k.startsWith("PG") || k.startsWith("BRONZE_")
            || k.startsWith("DATAKIT_"));
        env.put("SOURCE_DATABASE_URL", source.url());
        env.put("WAREHOUSE_DATABASE_URL", warehouse.url());
        env.put("JBANG_DIR", jbangHome.toString());
        if (withoutJBang) {
            env.put("DATAKIT_JBANG_HOME", noJars.toString());
            env.put("MAVEN_CENTRAL_URL", "http://127.0.0.1:9/maven2");
        }
        env.putAll(extra);
        Process p = process.start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(5, TimeUnit.MINUTES)).as("jbang finished").isTrue();
        return new Result(p.exitValue(), output);
    }

    Result jbang(Path folder, boolean withoutJBang, String... args) throws IOException, InterruptedException {
        return jbang(folder, withoutJBang, Map.of(), args);
    }

    static void assertNeededJBang(Result run) {
        assertThat(run.exitCode()).as(run.output()).isEqualTo(1);
        assertThat(run.output()).contains("[jbang launcher] failed to download");
    }

    @Test
    void aDatakitThatRanBeforeLoadsWithoutJBangFromItsClassCache() throws Exception {
        var first = jbang(REPO, false, "postgres-extract", "--table", "sales.orders", "--target-table", "orders_first");
        assertThat(first.exitCode()).as(first.output()).isZero();

        // The second run assembles the class cache, the third starts from it; neither has JBang to call.
        for (String table : List.of("orders_second", "orders_third")) {
            var run = jbang(REPO, true, "postgres-extract", "--table", "sales.orders", "--target-table", table, "--json");
            assertThat(run.exitCode()).as(run.output()).isZero();
            assertThat(run.output()).startsWith("{\"status\":\"succeeded\"").contains("\"rows\":42").doesNotContain("AOTConfiguration", "[aot]");
            assertThat(warehouse.rows("SELECT id, status FROM bronze." + table + " ORDER BY id"))
                .isEqualTo(source.rows("SELECT id, status FROM sales.orders ORDER BY id"));
        }
        try (Stream<Path> files = Files.list(jbangHome.resolve("cache/datakit-launch"))) {
            // JDK 25+: an ahead-of-time cache; JDK 21 to 24: a class-data archive.
            assertThat(files.map(f -> f.getFileName().toString())).anyMatch(name -> name.endsWith(".aot") || name.endsWith(".jsa"));
        }

        // Other JBang options, or the switch, go through JBang.
        assertNeededJBang(jbang(REPO, true, "--verbose", "postgres-extract", "--version"));
        assertNeededJBang(jbang(REPO, true, Map.of("DATAKIT_FAST_START", "off"), "postgres-extract", "--version"));
        // So does a run whose built jar is gone (jbang cache clear, or a cleaned cache folder).
        try (Stream<Path> jars = Files.walk(jbangHome.resolve("cache/jars"))) {
            jars.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
        }
        assertNeededJBang(jbang(REPO, true, "postgres-extract", "--version"));
        assertThat(jbang(REPO, false, "postgres-extract", "--version").output()).contains("postgres-extract 0.1.0");
    }

    @Test
    void whateverJBangWouldBuildDifferentlySendsTheRunThroughJBang(@TempDir Path project) throws Exception {
        Files.createDirectories(project.resolve("lib"));
        write(project.resolve("lib/Greeting.java"), "class Greeting { static String text() { return \"first greeting\"; } }");
        write(project.resolve("Hello.java"), script("Hello", "Greeting.text()"));
        write(project.resolve("Other.java"), script("Other", "\"the other script\""));
        write(project.resolve("jbang-catalog.json"), catalog("Hello.java"));

        assertThat(jbang(project, false, "hello").output()).contains("first greeting");
        assertThat(jbang(project, true, "hello").output()).contains("first greeting");

        // A file the script pulls in changes: JBang rebuilds, and the next run is fast again.
        write(project.resolve("lib/Greeting.java"), "class Greeting { static String text() { return \"second greeting\"; } }");
        assertNeededJBang(jbang(project, true, "hello"));
        assertThat(jbang(project, false, "hello").output()).contains("second greeting");
        assertThat(jbang(project, true, "hello").output()).contains("second greeting");

        // The script itself changes, with the same length.
        write(project.resolve("Hello.java"), script("Hello", "Greeting.text().toUpperCase()"));
        assertNeededJBang(jbang(project, true, "hello"));
        assertThat(jbang(project, false, "hello").output()).contains("SECOND GREETING");

        // The catalog points the alias elsewhere.
        write(project.resolve("jbang-catalog.json"), catalog("Other.java"));
        assertNeededJBang(jbang(project, true, "hello"));
        assertThat(jbang(project, false, "hello").output()).contains("the other script");

        // A catalog closer to the folder the run starts in takes the alias over.
        Path inner = Files.createDirectories(project.resolve("inner"));
        assertThat(jbang(inner, false, "hello").output()).contains("the other script");
        assertThat(jbang(inner, true, "hello").output()).contains("the other script");
        write(inner.resolve("jbang-catalog.json"), catalog("../Hello.java"));
        assertNeededJBang(jbang(inner, true, "hello"));
        assertThat(jbang(inner, false, "hello").output()).contains("SECOND GREETING");

        // Arguments after the script are the script's: they never change what starts.
        assertThat(jbang(inner, true, "hello", "it's", "a \"quoted\" argument").output())
            .contains("SECOND GREETING [it's, a \"quoted\" argument]");
    }

    private static String script(String name, String expression) {
        return """
            //JAVA 21+
            //SOURCES lib/Greeting.java
            class %s {
                public static void main(String[] args) {
                    System.out.println(%s + " " + java.util.Arrays.toString(args));
                }
            }
            """.formatted(name, expression);
    }

    private static String catalog(String scriptRef) {
        return "{\"catalogs\": {}, \"aliases\": {\"hello\": {\"script-ref\": \"" + scriptRef + "\"}}}";
    }

    private static void write(Path file, String text) throws IOException {
        Files.writeString(file, text);
    }
}
