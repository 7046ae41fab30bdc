package datakit.jbang;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import datakit.testing.TestDatabase;
import datakit.testing.TestPostgres;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The container image's scripts, run here as the Dockerfile runs them (no Docker engine needed):
 * {@code container/train} makes an ahead-of-time cache for each datakit exported with
 * {@code jbang export portable}, on a throwaway PostgreSQL of its own, and the entry point
 * {@code container/datakit} starts each datakit from its cache, and without it when it is missing or
 * unusable.
 */
class ContainerEntryPointIT {
    static final Path REPO = Path.of("").toAbsolutePath();
    static final String SOURCE_ORDERS = "SELECT id, status, doc::text, updated_at::text FROM sales.orders ORDER BY id";
    static TestDatabase source;
    static TestDatabase warehouse;
    static Result training;

    @TempDir
    static Path kits;
    @TempDir
    static Path jbangHome;
    @TempDir
    static Path runFolder;

    record Result(int exitCode, String stdout, String stderr) {
    }

    @BeforeAll
    static void exportAndTrain() throws Exception {
        source = TestPostgres.createDatabase("container_src");
        warehouse = TestPostgres.createDatabase("container_wh");
        source.execute("CREATE SCHEMA sales",
            "CREATE TABLE sales.orders (id int PRIMARY KEY, status text, doc jsonb, updated_at timestamptz NOT NULL)",
            "INSERT INTO sales.orders SELECT g, 'new', jsonb_build_object('sku', g), timestamptz '2026-01-01' + g * interval '1 s' "
                + "FROM generate_series(1, 42) g");
        for (String datakit : List.of("PostgresExtract", "PostgresIncremental")) {
            var export = run(REPO, Map.of("JBANG_DIR", jbangHome.toString()), REPO.resolve("jbang").toString(), "export", "portable",
                "--force", "-O", kits.resolve(datakit + ".jar").toString(), "datakits/" + datakit + ".java");
            assertThat(export.exitCode()).as(export.stdout() + export.stderr()).isZero();
        }
        if (Runtime.version().feature() >= 25) {
            training = run(REPO, Map.of(), REPO.resolve("container/train").toString(), kits.toString());
        }
    }

    @Test
    void trainingMakesACachePerDatakitThatTheEntryPointStartsFrom() throws Exception {
        assumeTrue(training != null, "ahead-of-time caches need Java 25+");
        assertThat(training.exitCode()).as(training.stdout() + training.stderr()).isZero();
        assertThat(training.stdout().lines()).hasSize(2).satisfiesExactly(
            line -> assertThat(line).startsWith("PostgresExtract: ").contains(" MiB cache, trained on a full extract"),
            line -> assertThat(line).startsWith("PostgresIncremental: ").contains(" MiB cache, trained on an incremental run"));
        assertThat(kits.resolve("PostgresExtract.aot")).isNotEmptyFile();
        assertThat(kits.resolve("PostgresIncremental.aot")).isNotEmptyFile();

        var extract = datakit(kits, classLoadLog("extract"), "postgres-extract", "--table", "sales.orders",
            "--target-table", "orders_extract", "--json");
        assertSucceededWithCleanJson(extract, 42);
        assertStartedFromTheCache("extract", "PostgresExtract");
        assertThat(warehouse.rows("SELECT id, status, doc::text, updated_at::text FROM bronze.orders_extract ORDER BY id"))
            .isEqualTo(source.rows(SOURCE_ORDERS));

        // The run a schedule repeats: a first load, then nothing new.
        for (int rows : List.of(42, 0)) {
            var incremental = datakit(kits, classLoadLog("incremental"), "postgres-incremental", "--table", "sales.orders",
                "--cursor-field", "updated_at", "--target-table", "orders_incremental", "--json");
            assertSucceededWithCleanJson(incremental, rows);
            assertStartedFromTheCache("incremental", "PostgresIncremental");
        }
        assertThat(warehouse.rows("SELECT id, status, doc::text, updated_at::text FROM bronze.orders_incremental ORDER BY id"))
            .isEqualTo(source.rows(SOURCE_ORDERS));
    }

    @Test
    void aMissingDamagedOrStaleCacheOnlyCostsSpeed(@TempDir Path copy) throws Exception {
        Files.copy(kits.resolve("PostgresExtract.jar"), copy.resolve("PostgresExtract.jar"));
        Files.createDirectories(copy.resolve("lib"));
        try (var jars = Files.list(kits.resolve("lib"))) {
            for (Path jar : jars.toList()) {
                Files.copy(jar, copy.resolve("lib").resolve(jar.getFileName()));
            }
        }
        byte[] noise = new byte[100_000];
        new Random(17).nextBytes(noise);
        Path cache = copy.resolve("PostgresExtract.aot");
        // No cache; a damaged one; a good one made before its jar changed (here: touched).
        for (String state : List.of("missing", "damaged", "stale")) {
            switch (state) {
                case "damaged" -> Files.write(cache, noise);
                case "stale" -> {
                    assumeTrue(training != null && Files.exists(kits.resolve("PostgresExtract.aot")), "a trained cache (Java 25+)");
                    Files.copy(kits.resolve("PostgresExtract.aot"), cache, StandardCopyOption.REPLACE_EXISTING);
                    Path jar = copy.resolve("PostgresExtract.jar");
                    Files.setLastModifiedTime(jar, FileTime.from(
                        Files.getLastModifiedTime(kits.resolve("PostgresExtract.jar")).toInstant().plusSeconds(3600)));
                }
                default -> Files.deleteIfExists(cache);
            }
            var run = datakit(copy, classLoadLog(state), "postgres-extract", "--table", "sales.orders", "--target-table", "orders_" + state, "--json");
            assertSucceededWithCleanJson(run, 42);
            assertThat(Files.readString(runFolder.resolve(state + "-classes.log"))).contains("] PostgresExtract source: file:");
            assertThat(warehouse.rows("SELECT id, status, doc::text, updated_at::text FROM bronze.orders_" + state + " ORDER BY id"))
                .isEqualTo(source.rows(SOURCE_ORDERS));
        }
    }

    /** JAVA_OPTIONS that log where each class comes from into a file (stdout stays the summary's). */
    static Map<String, String> classLoadLog(String name) {
        return Map.of("JAVA_OPTIONS", "-Xlog:class+load=info:file=" + runFolder.resolve(name + "-classes.log"));
    }

    /** The datakit's own classes came from its ahead-of-time cache, not from its jar. */
    static void assertStartedFromTheCache(String name, String mainClass) throws IOException {
        assertThat(Files.readString(runFolder.resolve(name + "-classes.log")))
            .contains("] " + mainClass + " source: shared objects file")
            .doesNotContain("] " + mainClass + " source: file:");
    }

    /** The summary is the only thing on stdout: no note of the JVM's about its cache. */
    static void assertSucceededWithCleanJson(Result run, int rows) {
        assertThat(run.exitCode()).as(run.stdout() + run.stderr()).isZero();
        assertThat(run.stdout().lines()).as(run.stdout()).hasSize(1);
        assertThat(run.stdout()).startsWith("{\"status\":\"succeeded\"").contains("\"rows\":" + rows + ",");
        assertThat(run.stdout() + run.stderr()).doesNotContain("[aot]", "[cds]", "AOT", "CDS");
    }

    /** container/datakit with DATAKITS_HOME at {@code home}, run from an empty folder (no .env). */
    static Result datakit(Path home, Map<String, String> extra, String... args) throws IOException, InterruptedException {
        var env = new HashMap<>(extra);
        env.put("DATAKITS_HOME", home.toString());
        env.put("SOURCE_DATABASE_URL", source.url());
        env.put("WAREHOUSE_DATABASE_URL", warehouse.url());
        var command = new ArrayList<>(List.of(REPO.resolve("container/datakit").toString()));
        command.addAll(List.of(args));
        return run(runFolder, env, command.toArray(String[]::new));
    }

    /** Runs a script with this JVM's java first on PATH and none of the caller's datakit settings. */
    static Result run(Path folder, Map<String, String> extra, String... command) throws IOException, InterruptedException {
        var process = new ProcessBuilder(command).directory(folder.toFile());
        Map<String, String> env = process.environment();
        env.keySet().removeIf(k -> k.startsWith("SOURCE_") || k.startsWith("WAREHOUSE_") || k.startsWith("PG") || k.startsWith("BRONZE_")
            || k.startsWith("DATAKIT") || k.equals("JAVA_OPTIONS"));
        String javaHome = System.getProperty("java.home");
        env.put("JAVA_HOME", javaHome);
        env.put("PATH", javaHome + "/bin" + File.pathSeparator + env.getOrDefault("PATH", "/usr/bin:/bin"));
        env.putAll(extra);
        Path stderr = Files.createTempFile(runFolder, "stderr", ".txt");
        process.redirectError(stderr.toFile());
        Process p = process.start();
        String stdout = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(5, TimeUnit.MINUTES)).as("%s finished", command[0]).isTrue();
        return new Result(p.exitValue(), stdout, Files.readString(stderr));
    }
}
