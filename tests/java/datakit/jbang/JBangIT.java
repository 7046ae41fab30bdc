package datakit.jbang;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpServer;
import datakit.testing.TestDatabase;
import datakit.testing.TestPostgres;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The real {@code jbang} command, as users run it: {@code ./jbang} from the repository (JBang from
 * Maven Central), the {@code @catalog} alias after the documented set-up line, and a remote catalog
 * served over HTTP, where JBang fetches every shared file by name.
 */
class JBangIT {
    static final Path REPO = Path.of("").toAbsolutePath();
    static TestDatabase source;
    static TestDatabase warehouse;

    @TempDir
    Path jbangHome;

    @BeforeAll
    static void createDatabases() {
        source = TestPostgres.createDatabase("jbang_src");
        warehouse = TestPostgres.createDatabase("jbang_wh");
        source.execute("CREATE SCHEMA sales", "CREATE TABLE sales.orders (id int, status text)",
            "INSERT INTO sales.orders SELECT g, 'new' FROM generate_series(1, 42) g");
    }

    record Result(int exitCode, String output) {
    }

    Result jbang(Path workingDirectory, String... args) throws IOException, InterruptedException {
        var command = new ArrayList<>(List.of(REPO.resolve("jbang").toString()));
        command.addAll(List.of(args));
        var process = new ProcessBuilder(command).directory(workingDirectory.toFile()).redirectErrorStream(true);
        Map<String, String> env = process.environment();
        env.keySet().removeIf(k -> k.startsWith("SOURCE_") || k.startsWith("WAREHOUSE_") || k.startsWith("PG") || k.startsWith("BRONZE_"));
        env.put("SOURCE_DATABASE_URL", source.url());
        env.put("WAREHOUSE_DATABASE_URL", warehouse.url());
        env.put("JBANG_DIR", jbangHome.toString());
        Process p = process.start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(5, TimeUnit.MINUTES)).as("jbang finished").isTrue();
        return new Result(p.exitValue(), output);
    }

    @Test
    void insideTheRepositoryTheAliasRunsWithoutSetUp() throws Exception {
        var run = jbang(REPO, "postgres-extract", "--table", "sales.orders", "--target-table", "orders_local");

        assertThat(run.exitCode()).as(run.output()).isZero();
        assertThat(run.output()).contains("postgres-extract: succeeded", "42 (");
        assertThat(warehouse.count("bronze.orders_local")).isEqualTo(42);
    }

    @Test
    void theCatalogAliasWorksFromAnyFolderAfterTheDocumentedSetUpLine(@TempDir Path elsewhere) throws Exception {
        var add = jbang(elsewhere, "catalog", "add", "--name", "catalog", REPO.resolve("jbang-catalog.json").toString());
        assertThat(add.exitCode()).as(add.output()).isZero();

        var run = jbang(elsewhere, "postgres-extract@catalog", "--table", "sales.orders", "--target-table", "orders_catalog", "--json");

        assertThat(run.exitCode()).as(run.output()).isZero();
        assertThat(run.output()).contains("\"status\":\"succeeded\"", "\"rows\":42");
        assertThat(warehouse.count("bronze.orders_catalog")).isEqualTo(42);
    }

    @Test
    void aRemoteCatalogRunsTheDatakitWithEverySharedFileFetchedByName(@TempDir Path elsewhere) throws Exception {
        HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.createContext("/", exchange -> {
            Path file = REPO.resolve(exchange.getRequestURI().getPath().substring(1)).normalize();
            boolean ok = file.startsWith(REPO) && Files.isRegularFile(file);
            byte[] body = ok ? Files.readAllBytes(file) : new byte[0];
            exchange.sendResponseHeaders(ok ? 200 : 404, ok ? body.length : -1);
            exchange.getResponseBody().write(body);
            exchange.close();
        });
        server.start();
        try {
            String base = "http://127.0.0.1:" + server.getAddress().getPort() + "/";
            assertThat(jbang(elsewhere, "trust", "add", base).exitCode()).isZero();

            var run = jbang(elsewhere, "postgres-extract@" + base + "jbang-catalog.json",
                "--table", "sales.orders", "--target-table", "orders_remote");

            assertThat(run.exitCode()).as(run.output()).isZero();
            assertThat(warehouse.count("bronze.orders_remote")).isEqualTo(42);
            assertThat(warehouse.value("SELECT count(*) FROM bronze.extraction_runs WHERE stream = 'bronze.orders_remote'")).isEqualTo("1");
        } finally {
            server.stop(0);
        }
    }

    @Test
    void theReadmeDemoCommandRunsTheMainJobEndToEndOnASandbox() throws Exception {
        var run = jbang(REPO, "bronze-demo");

        assertThat(run.exitCode()).as(run.output()).isZero();
        assertThat(run.output()).contains("read       shop.events", "What landed in demo_warehouse",
            "bronze.extraction_runs: one row per run", "bronze.events    | succeeded | 2000");
    }

    @Test
    void jbangResolvesTheSameLibraryVersionsAsTheMavenBuildThatTestsThem() throws Exception {
        var maven = java.util.Arrays.stream(System.getProperty("java.class.path").split(java.io.File.pathSeparator))
            .map(p -> Path.of(p).getFileName().toString()).collect(java.util.stream.Collectors.toSet());
        for (String script : List.of("datakits/PostgresExtract.java", "datakits/BronzeDemo.java")) {
            var info = jbang(REPO, "info", "classpath", script);
            assertThat(info.exitCode()).as(info.output()).isZero();
            String classpath = info.output().lines().reduce((first, last) -> last).orElse("");
            var jars = java.util.Arrays.stream(classpath.split(java.io.File.pathSeparator))
                .map(p -> Path.of(p).getFileName().toString())
                .filter(name -> name.endsWith(".jar") && !name.startsWith("PostgresExtract") && !name.startsWith("BronzeDemo"))
                .toList();
            assertThat(jars).as("jars JBang puts on the class path of " + script).isNotEmpty().allSatisfy(jar ->
                assertThat(maven).as("the Maven build tests with " + jar).contains(jar));
        }
    }

    @Test
    void aBadInputThroughJBangStillExitsWithTwoAndOneErrorLine() throws Exception {
        var run = jbang(REPO, "postgres-extract", "--table", "sales.nope");

        assertThat(run.exitCode()).isEqualTo(2);
        assertThat(run.output()).contains("ERROR: Table sales.nope does not exist on the source");
    }


    /**
     * A script scaffolded with the catalog's templates runs as is. It is made in a folder laid out like
     * the repository (its shared library and migrations linked in), as it would be made in datakits/.
     */
    @Test
    void aScriptScaffoldedFromACatalogTemplateRuns(@TempDir Path project) throws Exception {
        Files.createSymbolicLink(project.resolve("shared"), REPO.resolve("shared"));
        Files.createSymbolicLink(project.resolve("migrations"), REPO.resolve("migrations"));
        Files.createDirectories(project.resolve("datakits"));
        assertThat(jbang(project, "catalog", "add", "--global", "--name", "catalog", REPO.resolve("jbang-catalog.json").toString())
            .exitCode()).isZero();

        var full = jbang(project, "init", "--template=full@catalog", "-Dtable=sales.orders", "datakits/SalesOrders.java");
        assertThat(full.exitCode()).as(full.output()).isZero();
        source.execute("CREATE TABLE IF NOT EXISTS sales.changing (id int PRIMARY KEY, updated_at timestamptz NOT NULL)",
            "INSERT INTO sales.changing SELECT g, now() FROM generate_series(1, 42) g ON CONFLICT DO NOTHING");
        var incremental = jbang(project, "init", "--template=incremental@catalog", "-Dtable=sales.changing", "-Dcursor=updated_at",
            "datakits/SalesOrdersIncremental.java");
        assertThat(incremental.exitCode()).as(incremental.output()).isZero();
        assertThat(Files.readString(project.resolve("datakits/SalesOrders.java"))).contains("class SalesOrders extends DatakitCommand",
            "withArguments(args, \"--table\", \"sales.orders\")");

        var runFull = jbang(project, "datakits/SalesOrders.java", "--target-table", "orders_scaffolded");
        assertThat(runFull.exitCode()).as(runFull.output()).isZero();
        assertThat(warehouse.count("bronze.orders_scaffolded")).isEqualTo(42);
        var runIncremental = jbang(project, "datakits/SalesOrdersIncremental.java", "--target-table", "orders_scaffolded_inc");
        assertThat(runIncremental.exitCode()).as(runIncremental.output()).isZero();
        assertThat(warehouse.count("bronze.orders_scaffolded_inc")).isEqualTo(42);
    }
}
