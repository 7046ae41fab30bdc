package datakit.ops;

import static org.assertj.core.api.Assertions.assertThat;

import datakit.testing.Datakits;
import datakit.testing.SourceAndWarehouse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** postgres-discover --emit-jobs: the job file it writes runs as it is in bronze-jobs and loads every table of the schemas. */
class EmitJobsIT {
    static SourceAndWarehouse db;
    @TempDir
    Path dir;

    /** Source table (as SQL) -> bronze table, with the columns compared in the order they are sorted by. */
    static final Map<String, String[]> TABLES = new LinkedHashMap<>();

    static {
        TABLES.put("shop.orders", new String[] {"bronze.shop_orders", "id, updated_at, payload::text"});
        TABLES.put("shop.events_log", new String[] {"bronze.events_log", "at, msg"});
        TABLES.put("shop.notes", new String[] {"bronze.notes", "id, body"});
        TABLES.put("shop.measurements", new String[] {"bronze.measurements", "id, at, v"});
        TABLES.put("shop.\"Order Lines; x\"", new String[] {"bronze.\"Order Lines; x\"", "\"Line Id\", \"Updated At\", \"ÄÖü\""});
        TABLES.put("shop.day_totals", new String[] {"bronze.day_totals", "day, total"});
        TABLES.put("\"Odd Schema\".orders", new String[] {"bronze.\"Odd Schema_orders\"", "id, note"});
    }

    @BeforeAll
    static void createDatabases() {
        db = SourceAndWarehouse.create("emitjobs",
            "CREATE SCHEMA shop",
            "CREATE TABLE shop.orders (id int PRIMARY KEY, updated_at timestamptz NOT NULL, payload jsonb)",
            "CREATE INDEX ON shop.orders (updated_at)",
            "INSERT INTO shop.orders SELECT g, '2026-01-01'::timestamptz + g * interval '1 minute', jsonb_build_object('n', g) "
                + "FROM generate_series(1, 200) g",
            "CREATE TABLE shop.events_log (at timestamptz NOT NULL, msg text)",
            "CREATE INDEX ON shop.events_log (at)",
            "INSERT INTO shop.events_log SELECT '2026-01-01'::timestamptz + g * interval '1 second', 'e' || g FROM generate_series(1, 50) g",
            "CREATE TABLE shop.notes (id int PRIMARY KEY, body text)",
            "INSERT INTO shop.notes SELECT g, 'note ' || g FROM generate_series(1, 30) g",
            "CREATE TABLE shop.measurements (id int, at date, v numeric, PRIMARY KEY (id, at)) PARTITION BY RANGE (at)",
            "CREATE TABLE shop.measurements_1 PARTITION OF shop.measurements FOR VALUES FROM ('2026-01-01') TO ('2026-02-01')",
            "CREATE TABLE shop.measurements_2 PARTITION OF shop.measurements FOR VALUES FROM ('2026-02-01') TO ('2026-03-01')",
            "INSERT INTO shop.measurements SELECT g, date '2026-01-01' + g % 50, g / 7.0 FROM generate_series(1, 100) g",
            "CREATE TABLE shop.\"Order Lines; x\" (\"Line Id\" bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "
                + "\"Updated At\" timestamp NOT NULL, \"ÄÖü\" text)",
            "CREATE INDEX ON shop.\"Order Lines; x\" (\"Updated At\")",
            "INSERT INTO shop.\"Order Lines; x\" (\"Updated At\", \"ÄÖü\") SELECT '2026-01-01'::timestamp + g * interval '1 hour', "
                + "'it''s \"' || g FROM generate_series(1, 40) g",
            "CREATE TABLE shop.day_totals (day date PRIMARY KEY, total numeric)",
            "INSERT INTO shop.day_totals SELECT date '2026-01-01' + g, g * 10 FROM generate_series(1, 20) g",
            "CREATE VIEW shop.recent AS SELECT * FROM shop.orders",
            "CREATE SCHEMA \"Odd Schema\"",
            "CREATE TABLE \"Odd Schema\".orders (id int PRIMARY KEY, note text)",
            "INSERT INTO \"Odd Schema\".orders SELECT g, 'o' || g FROM generate_series(1, 10) g",
            "CREATE SCHEMA only_views",
            "CREATE VIEW only_views.v AS SELECT 1 AS one",
            "ANALYZE");
    }

    Datakits.Run discover(String... args) {
        return Datakits.run("PostgresDiscover", Map.of("SOURCE_DATABASE_URL", db.source().url()), args);
    }

    @Test
    void theJobFileLoadsEveryTableAsItIsAndItsStreamsGoOnIncrementally() throws Exception {
        Path file = dir.resolve("jobs.yml");
        var emit = discover("--schema", "shop,\"Odd Schema\"", "--emit-jobs", file.toString());
        assertThat(emit.exitCode()).as(emit.toString()).isZero();
        assertThat(emit.out()).startsWith("postgres-discover: wrote " + file + ": 7 streams (1 postgres-extract, 6 postgres-incremental); "
            + "left out: view shop.recent");
        String yaml = Files.readString(file);
        assertThat(yaml)
            .contains("  \"shop_orders\":\n", "      table: \"shop.orders\"\n      cursor-field: \"updated_at\"\n      mode: merge\n",
                "      target-table: \"shop_orders\"\n")
            .contains("no primary key", "    datakit: postgres-extract\n    options:\n      table: \"shop.events_log\"\n\n  \"")
            .contains("      table: \"shop.notes\"\n      sync-mode: xmin\n      mode: merge\n", "id could be a cursor only if")
            .contains("      table: \"shop.measurements\"\n      sync-mode: xmin\n")
            .contains("      table: \"shop.\\\"Order Lines; x\\\"\"\n      cursor-field: \"\\\"Updated At\\\"\"\n")
            .contains("      cursor-field: \"day\"\n      mode: merge\n      lookback: P1D\n")
            .contains("      table: \"\\\"Odd Schema\\\".orders\"\n      sync-mode: xmin\n      mode: merge\n      target-table: \"\\\"Odd Schema_orders\\\"\"\n")
            .contains("payload: JSON, copied exactly as it is", "Left out: view shop.recent");
        // Streams in the order of their schema and table names, whatever the server's collation.
        assertThat(yaml.indexOf("\"Odd Schema_orders\":")).isLessThan(yaml.indexOf("\"Order Lines; x\":"));
        assertThat(yaml.indexOf("\"Order Lines; x\":")).isLessThan(yaml.indexOf("\"day_totals\":"));

        var first = Datakits.run("BronzeJobs", db.env(), "--file", file.toString());
        assertThat(first.exitCode()).as(first.toString()).isZero();
        assertBronzeHoldsTheSource();

        db.source().execute("UPDATE shop.orders SET updated_at = '2026-06-01', payload = '{\"n\": -1}' WHERE id IN (3, 150)",
            "INSERT INTO shop.events_log VALUES ('2026-06-01', 'late')",
            "UPDATE shop.notes SET body = 'changed' WHERE id = 7",
            "INSERT INTO shop.notes VALUES (31, 'new')",
            "UPDATE shop.measurements SET v = 0 WHERE id = 5",
            "UPDATE shop.\"Order Lines; x\" SET \"Updated At\" = '2026-06-01', \"ÄÖü\" = 'neu' WHERE \"Line Id\" = 2",
            "UPDATE shop.day_totals SET total = -1 WHERE day = date '2026-01-21'",
            "UPDATE \"Odd Schema\".orders SET note = 'x' WHERE id = 1");
        var second = Datakits.run("BronzeJobs", db.env(), "--file", file.toString());
        assertThat(second.exitCode()).as(second.toString()).isZero();
        assertBronzeHoldsTheSource();
    }

    void assertBronzeHoldsTheSource() {
        TABLES.forEach((source, bronze) -> {
            String columns = bronze[1];
            String order = " ORDER BY " + columns.replace("::text", "");
            assertThat(db.warehouse().rows("SELECT " + columns + " FROM " + bronze[0] + order)).as(source)
                .isNotEmpty().isEqualTo(db.source().rows("SELECT " + columns + " FROM " + source + order));
        });
    }

    @Test
    void stdoutAndDryRunWriteNoFileAndAFileThereIsReplacedOnlyWithForce() throws Exception {
        var stdout = discover("--schema", "shop", "--emit-jobs", "-");
        assertThat(stdout.exitCode()).as(stdout.toString()).isZero();
        assertThat(stdout.out()).startsWith("# A bronze-jobs file for schema shop of ").contains("streams:\n\n  \"Order Lines; x\":\n")
            .doesNotContain("postgres-discover: wrote");

        Path file = dir.resolve("jobs.yml");
        var dryRun = discover("--schema", "shop", "--emit-jobs", file.toString(), "--dry-run");
        assertThat(dryRun.exitCode()).as(dryRun.toString()).isZero();
        assertThat(dryRun.out()).isEqualTo(stdout.out());
        assertThat(dryRun.err()).contains("dry run, " + file + " not written");
        assertThat(file).doesNotExist();

        Files.writeString(file, "# my edits\n");
        var refused = discover("--schema", "shop", "--emit-jobs", file.toString());
        Datakits.assertFailsWithOneLine(refused, 2, file + " exists already, and postgres-discover does not write over a job file that may "
            + "hold your edits. Pass --force to replace it, or give another file to --emit-jobs.");
        var refusedDry = discover("--schema", "shop", "--emit-jobs", file.toString(), "--dry-run");
        Datakits.assertFailsWithOneLine(refusedDry, 2, file + " exists already");
        assertThat(Files.readString(file)).isEqualTo("# my edits\n");

        var mode = java.nio.file.attribute.PosixFilePermissions.fromString("rw-rw-r--");
        Files.setPosixFilePermissions(file, mode);
        var forced = discover("--schema", "shop", "--emit-jobs", file.toString(), "--force", "--json");
        assertThat(forced.exitCode()).as(forced.toString()).isZero();
        assertThat(forced.out()).contains("\"file\":\"" + file + "\"", "\"day_totals\":\"postgres-incremental\"", "\"left_out\":[\"view shop.recent\"]");
        assertThat(Files.readString(file)).isEqualTo(stdout.out());
        // The replaced file keeps its mode (the temporary file it was written through is private to its owner).
        assertThat(Files.getPosixFilePermissions(file)).isEqualTo(mode);

        Datakits.assertFailsWithOneLine(discover("--schema", "shop", "--force"), 2, "--force replaces the file of --emit-jobs");
    }

    @Test
    void aSchemaWithoutTablesIsRefusedAndNoFileIsWritten() {
        Path file = dir.resolve("jobs.yml");
        Datakits.assertFailsWithOneLine(discover("--schema", "only_views", "--emit-jobs", file.toString()), 2,
            "schema only_views of ", "holds no table to load (left out: view only_views.v), so there is no job file to write. Check --schema");
        Datakits.assertFailsWithOneLine(discover("--schema", "\"Shop\"", "--emit-jobs", file.toString()), 2,
            "schema \"Shop\" of ", "names fold to lower case unless quoted");
        assertThat(file).doesNotExist();
    }
}
