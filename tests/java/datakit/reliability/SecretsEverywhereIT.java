package datakit.reliability;

import static org.assertj.core.api.Assertions.assertThat;

import datakit.testing.Datakits;
import datakit.testing.TestDatabase;
import datakit.testing.TestPostgres;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Passwords given in the environment, as the docs advise, appear nowhere a datakit writes or shows:
 * not in its output or errors (also with --json and --verbose), not in its process arguments, not in
 * the metrics and lineage files, and not in any table of the warehouse (bronze rows, metadata columns,
 * extraction_runs, checkpoints). Every datakit that connects is run, in its own JVM, as a scheduler would.
 */
class SecretsEverywhereIT {
    static final String SOURCE_PASSWORD = "Src:S3cr3t/@pw%1";
    static final String WAREHOUSE_PASSWORD = "Wh:S3cr3t/@pw%2";
    static final String FRAGMENT = "S3cr3t";
    TestDatabase source;
    TestDatabase warehouse;
    String slot;

    @AfterEach
    void dropSlot() {
        if (slot != null) {
            source.execute("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '" + slot + "' AND NOT active");
        }
    }

    @Test
    void noPasswordInOutputArgumentsFilesOrTables() throws Exception {
        source = TestPostgres.createDatabase("pw_src");
        warehouse = TestPostgres.createDatabase("pw_wh");
        String reader = "pw_reader_" + source.name();
        String loader = "pw_loader_" + warehouse.name();
        source.execute("CREATE ROLE " + reader + " LOGIN REPLICATION PASSWORD '" + SOURCE_PASSWORD + "'",
            "CREATE TABLE public.items (id int PRIMARY KEY, note text, changed_at timestamptz NOT NULL DEFAULT now())",
            "INSERT INTO public.items SELECT g, 'note ' || g, now() FROM generate_series(1, 100) g",
            "CREATE TABLE public.parts (id int, region int NOT NULL) PARTITION BY LIST (region)",
            "CREATE TABLE public.parts_0 PARTITION OF public.parts FOR VALUES IN (0)",
            "CREATE TABLE public.parts_1 PARTITION OF public.parts FOR VALUES IN (1)",
            "INSERT INTO public.parts SELECT g, g % 2 FROM generate_series(1, 100) g",
            "ALTER TABLE public.items OWNER TO " + reader, "GRANT CREATE ON DATABASE " + source.name() + " TO " + reader,
            "GRANT SELECT ON ALL TABLES IN SCHEMA public TO " + reader);
        warehouse.execute("CREATE ROLE " + loader + " LOGIN PASSWORD '" + WAREHOUSE_PASSWORD + "'",
            "ALTER DATABASE " + warehouse.name() + " OWNER TO " + loader, "GRANT CREATE ON SCHEMA public TO " + loader);
        slot = "pw_" + source.name();
        Path files = Files.createTempDirectory("secrets");
        var env = Map.of("SOURCE_DATABASE_URL", url(source, reader, SOURCE_PASSWORD), "WAREHOUSE_DATABASE_URL", url(warehouse, loader,
            WAREHOUSE_PASSWORD), "OPENLINEAGE_URL", files.resolve("lineage.jsonl").toString());
        String metrics = files.resolve("metrics.prom").toString();

        var runs = List.of(
            List.of("PostgresExtract", "--table", "items", "--json", "--verbose", "--metrics-file", metrics),
            List.of("PostgresIncremental", "--table", "items", "--cursor-field", "changed_at", "--target-table", "items_inc", "--verbose"),
            List.of("PostgresPartitioned", "--table", "parts", "--json"),
            List.of("PostgresCdc", "--table", "public.items", "--slot", slot, "--apply", "--target-schema", "bronze_cdc", "--json"),
            List.of("PostgresHealth", "--json", "--verbose"),
            List.of("PostgresDiscover", "--json"),
            List.of("BronzeRuns", "--json"),
            List.of("PostgresExtract", "--table", "missing", "--json", "--verbose"));
        var output = new StringBuilder();
        for (var run : runs) {
            String printed = runAndWatchArguments(run.get(0), env, run.subList(1, run.size()), run.contains("missing") ? 2 : 0);
            output.append(printed).append('\n');
        }
        // The password as its own variable, and a connection refused by the server while carrying it.
        var parts = Map.of("SOURCE_PG_HOST", source.server().host(), "SOURCE_PG_PORT", String.valueOf(source.server().port()),
            "SOURCE_PG_DATABASE", source.name(), "SOURCE_PG_USER", reader, "SOURCE_PG_PASSWORD", SOURCE_PASSWORD,
            "WAREHOUSE_DATABASE_URL", env.get("WAREHOUSE_DATABASE_URL"));
        output.append(runAndWatchArguments("PostgresExtract", parts, List.of("--table", "items", "--target-table", "items_parts", "--json"), 0));
        var refused = new HashMap<>(parts);
        refused.put("SOURCE_PG_DATABASE", "no_such_database");
        output.append(runAndWatchArguments("PostgresExtract", refused, List.of("--table", "items", "--verbose"), 2));

        assertThat(output).as("what the datakits printed").contains("\"status\":\"succeeded\"").contains("does not exist")
            .contains("database \"no_such_database\" does not exist");
        // The fragment both passwords share: found in any encoding that keeps it (plain, URL-encoded, JSON-escaped).
        assertThat(output.toString()).doesNotContain(FRAGMENT);
        assertThat(Files.readString(Path.of(metrics))).doesNotContain(FRAGMENT);
        assertThat(Files.readString(files.resolve("lineage.jsonl"))).contains("COMPLETE").doesNotContain(FRAGMENT);
        assertThat(tablesContaining(warehouse, FRAGMENT)).as("warehouse tables holding a password").isEmpty();
        assertThat(warehouse.count("bronze_cdc.items")).isEqualTo(100);
    }

    /** Runs a datakit in its own JVM, checks its command line while it runs and its exit code, and returns what it printed. */
    private static String runAndWatchArguments(String datakit, Map<String, String> env, List<String> args, int exitCode) throws Exception {
        Path log = Files.createTempFile("secrets-" + datakit, ".log");
        Process process = Datakits.start(datakit, env, log, args.toArray(String[]::new));
        boolean seen = false;
        while (process.isAlive()) {
            var commandLine = process.info().commandLine();
            seen |= commandLine.filter(line -> line.contains(datakit)).isPresent();
            assertThat(commandLine.orElse("")).doesNotContain(FRAGMENT);
            Thread.sleep(20);
        }
        assertThat(seen).as("the command line of " + datakit + " was read while it ran").isTrue();
        assertThat(process.waitFor(2, TimeUnit.MINUTES)).isTrue();
        String printed = Files.readString(log);
        assertThat(process.exitValue()).as(datakit + " " + args + " printed:\n" + printed).isEqualTo(exitCode);
        return printed;
    }

    /** Every table of every user schema with a row whose text holds {@code needle}. */
    private static List<String> tablesContaining(TestDatabase database, String needle) {
        var found = new ArrayList<String>();
        for (var table : database.rows("""
                SELECT format('%I.%I', schemaname, tablename) FROM pg_tables
                WHERE schemaname NOT IN ('pg_catalog', 'information_schema')""")) {
            if (!database.value("SELECT count(*) FROM " + table.get(0) + " t WHERE strpos(t::text, '" + needle + "') > 0").equals("0")) {
                found.add(table.get(0));
            }
        }
        return found;
    }

    private static String url(TestDatabase database, String user, String password) {
        var server = database.server();
        return "postgresql://%s:%s@%s:%d/%s".formatted(user, URLEncoder.encode(password, StandardCharsets.UTF_8), server.host(),
            server.port(), database.name());
    }
}
