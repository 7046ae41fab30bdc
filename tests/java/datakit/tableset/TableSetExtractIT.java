package datakit.tableset;

import static org.assertj.core.api.Assertions.assertThat;

import datakit.testing.Datakits;
import datakit.testing.SourceAndWarehouse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * postgres-extract over a set of tables: every table of the patterns lands equal to the source, all read in one snapshot,
 * several at once; a table that fails costs only itself, and the next run (also after a killed one) loads only what is
 * missing; the patterns are resolved afresh each run.
 */
class TableSetExtractIT {
    static SourceAndWarehouse db;
    @TempDir
    Path dir;

    /** The hostile names of schema shop, beside t01..t20 (SQL identifiers as written). */
    static final List<String> ODD_TABLES = List.of("\"Order Lines; x\"", "\"ÄÖü table\"", "\"with\"\"quote\"", "\"MixedCase\"",
        "\"dot.name\"", "\"" + "l".repeat(63) + "\"", "nokey", "parts");

    @BeforeAll
    static void createDatabases() {
        var sql = new ArrayList<>(List.of(
            "CREATE SCHEMA shop",
            // Twenty tables of growing size, the biggest 20,000 rows.
            """
            DO $$ BEGIN FOR i IN 1..20 LOOP
              EXECUTE format('CREATE TABLE shop.t%s (id int PRIMARY KEY, body text, at timestamptz, tags text[])', lpad(i::text, 2, '0'));
              EXECUTE format('INSERT INTO shop.t%s SELECT g, repeat(''x'', g %% 50) || %L, ''2026-01-01''::timestamptz + g * interval ''1 min'',
                              ARRAY[g::text, NULL] FROM generate_series(1, %s) g', lpad(i::text, 2, '0'), i, i * i * 50);
            END LOOP; END $$""",
            "CREATE TABLE shop.\"Order Lines; x\" (\"Line Id\" int PRIMARY KEY, \"ÄÖü\" text)",
            "INSERT INTO shop.\"Order Lines; x\" SELECT g, 'it''s \"' || g FROM generate_series(1, 40) g",
            "CREATE TABLE shop.\"ÄÖü table\" (id int PRIMARY KEY, v numeric)",
            "INSERT INTO shop.\"ÄÖü table\" SELECT g, g / 3.0 FROM generate_series(1, 30) g",
            "CREATE TABLE shop.\"with\"\"quote\" (id int PRIMARY KEY, j jsonb)",
            "INSERT INTO shop.\"with\"\"quote\" SELECT g, jsonb_build_object('g', g) FROM generate_series(1, 20) g",
            "CREATE TABLE shop.\"MixedCase\" (id int PRIMARY KEY)",
            "INSERT INTO shop.\"MixedCase\" SELECT generate_series(1, 5)",
            "CREATE TABLE shop.\"dot.name\" (id int PRIMARY KEY)",
            "INSERT INTO shop.\"dot.name\" SELECT generate_series(1, 6)",
            "CREATE TABLE shop.\"" + "l".repeat(63) + "\" (id int PRIMARY KEY)",
            "INSERT INTO shop.\"" + "l".repeat(63) + "\" SELECT generate_series(1, 7)",
            "CREATE TABLE shop.nokey (a int, b text)",
            "INSERT INTO shop.nokey VALUES (1, 'a'), (1, 'a'), (2, NULL)",
            "CREATE TABLE shop.parts (id int, day date, PRIMARY KEY (id, day)) PARTITION BY RANGE (day)",
            "CREATE TABLE shop.parts_1 PARTITION OF shop.parts FOR VALUES FROM ('2026-01-01') TO ('2026-02-01')",
            "CREATE TABLE shop.parts_2 PARTITION OF shop.parts FOR VALUES FROM ('2026-02-01') TO ('2026-03-01')",
            "INSERT INTO shop.parts SELECT g, date '2026-01-01' + g % 50 FROM generate_series(1, 100) g",
            "CREATE VIEW shop.recent AS SELECT * FROM shop.t01",
            "CREATE SCHEMA \"Other Schema\"",
            "CREATE TABLE \"Other Schema\".t01 (id int)",
            "CREATE SCHEMA cons",
            "CREATE TABLE cons.big (id int PRIMARY KEY)",
            "INSERT INTO cons.big SELECT generate_series(1, 5000)",
            "CREATE TABLE cons.a (id int PRIMARY KEY)",
            "CREATE TABLE cons.b (id int PRIMARY KEY)",
            "INSERT INTO cons.a SELECT generate_series(1, 10)",
            "INSERT INTO cons.b SELECT generate_series(1, 10)",
            "CREATE SCHEMA newer",
            "CREATE TABLE newer.big (id int PRIMARY KEY)",
            "INSERT INTO newer.big SELECT generate_series(1, 5000)",
            "CREATE TABLE newer.a (id int PRIMARY KEY)",
            "INSERT INTO newer.a SELECT generate_series(1, 10)",
            "CREATE SCHEMA fail",
            "CREATE TABLE fail.one (id int PRIMARY KEY)",
            "CREATE TABLE fail.two (id int PRIMARY KEY)",
            "INSERT INTO fail.one SELECT generate_series(1, 10)",
            "INSERT INTO fail.two SELECT generate_series(1, 10)",
            "CREATE SCHEMA killed",
            "CREATE TABLE killed.k1 (id int PRIMARY KEY, pad text)",
            "CREATE TABLE killed.k2 (id int PRIMARY KEY, pad text)",
            "CREATE TABLE killed.k3 (id int PRIMARY KEY)",
            "INSERT INTO killed.k1 SELECT g, repeat('p', 100) FROM generate_series(1, 300001) g",
            "INSERT INTO killed.k2 SELECT g, repeat('p', 100) FROM generate_series(1, 300000) g",
            "INSERT INTO killed.k3 SELECT generate_series(1, 10)",
            "ANALYZE"));
        db = SourceAndWarehouse.create("tableset", sql.toArray(String[]::new));
    }

    static Datakits.Run extract(String... args) {
        return Datakits.run("PostgresExtract", db.env(), args);
    }

    /** The rows of a table as sorted JSON texts, without bronze's metadata columns: equal in source and bronze when equal. */
    static String rowsOf(datakit.testing.TestDatabase database, String table) {
        return database.value("SELECT count(*) || ':' || coalesce(md5(string_agg(j::text, E'\\n' ORDER BY j::text)), '') FROM (SELECT "
            + "(SELECT jsonb_object_agg(k, v) FROM jsonb_each(to_jsonb(t)) AS e(k, v) WHERE k NOT LIKE '\\_bronze%') AS j FROM "
            + table + " t) s");
    }

    static void assertLanded(String sourceTable, String bronzeTable) {
        assertThat(rowsOf(db.warehouse(), bronzeTable)).as(sourceTable + " -> " + bronzeTable)
            .isEqualTo(rowsOf(db.source(), sourceTable)).doesNotStartWith("0:");
    }

    @Test
    void everyTableOfASchemaLandsEqualToTheSourceAndTheNextRunSeesTablesCreatedAndDropped() {
        var first = extract("--schema", "shop", "--parallelism", "3", "--target-schema", "set_all", "--json");
        assertThat(first.exitCode()).as(first.toString()).isZero();
        assertThat(first.out()).startsWith("{\"status\":\"succeeded\"").contains("\"consistent\":true", "\"failed\":[]")
            .contains("\"table\":\"shop.\\\"Order Lines; x\\\"\",\"target\":\"set_all.\\\"Order Lines; x\\\"\",\"status\":\"succeeded\"");
        assertThat(first.out().lines().count()).isEqualTo(1);
        for (int i = 1; i <= 20; i++) {
            assertLanded("shop.t%02d".formatted(i), "set_all.t%02d".formatted(i));
        }
        ODD_TABLES.forEach(t -> assertLanded("shop." + t, "set_all." + t));
        // The partitioned table is read whole: its partitions are not tables of their own, and the view is not loaded.
        assertThat(db.warehouse().value("SELECT string_agg(tablename, ',') FROM pg_tables WHERE schemaname = 'set_all' "
            + "AND tablename IN ('parts_1', 'parts_2', 'recent')")).isNull();
        assertThat(db.warehouse().value("SELECT count(*) FROM set_all.extraction_runs WHERE status = 'succeeded'")).isEqualTo("28");

        db.source().execute("CREATE TABLE shop.late (id int PRIMARY KEY)", "INSERT INTO shop.late VALUES (1), (2)",
            "ALTER TABLE shop.t20 RENAME TO t20_old", "INSERT INTO shop.t01 VALUES (-1, 'new', now(), NULL)");
        try {
            var second = extract("--schema", "shop", "--exclude-table", "shop.t20_old", "--target-schema", "set_all");
            assertThat(second.exitCode()).as(second.toString()).isZero();
            // Another pattern list is another set: nothing of the first run's is "vanished" to it.
            assertThat(second.out()).contains("postgres-extract: succeeded", "tables     28: 28 loaded, 0 failed")
                .doesNotContain("vanished", "-> set_all.t20");
            var third = extract("--schema", "shop", "--target-schema", "set_all");
            assertThat(third.exitCode()).as(third.toString()).isZero();
            assertThat(third.out()).contains("shop.late", "tables     29: 29 loaded", "vanished   shop.t20 (");
            assertLanded("shop.late", "set_all.late");
            assertLanded("shop.t01", "set_all.t01");
            db.source().execute("DROP TABLE shop.t20_old");
            var fourth = extract("--schema", "shop", "--target-schema", "set_all");
            assertThat(fourth.exitCode()).as(fourth.toString()).isZero();
            assertThat(fourth.out()).contains("vanished   shop.t20_old (loaded by the set's last run, selected no more; their bronze "
                + "tables are kept)");
            // Never dropped from bronze.
            assertThat(db.warehouse().count("set_all.t20_old")).isEqualTo(20L * 20 * 50);
        } finally {
            db.source().execute("DROP TABLE IF EXISTS shop.late", "DROP TABLE IF EXISTS shop.t20_old",
                "DELETE FROM shop.t01 WHERE id = -1");
        }
    }

    @Test
    void everyTableIsReadInTheSnapshotTheRunExported() throws Exception {
        try (Connection blocker = db.source().connect()) {
            blocker.setAutoCommit(false);
            blocker.createStatement().execute("LOCK TABLE cons.big IN ACCESS EXCLUSIVE MODE");
            var run = CompletableFuture.supplyAsync(() -> extract("--schema", "cons", "--parallelism", "2", "--target-schema", "set_cons"));
            // The run exported its snapshot, then waits for cons.big: rows committed now are after its snapshot.
            waitFor(() -> "true".equals(db.source().value("SELECT bool_or(wait_event_type = 'Lock')::text FROM pg_stat_activity "
                + "WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name LIKE 'postgres-extract%'")));
            db.source().execute("BEGIN; INSERT INTO cons.a VALUES (999); INSERT INTO cons.b VALUES (999); COMMIT");
            blocker.rollback();
            var result = run.get(60, TimeUnit.SECONDS);
            assertThat(result.exitCode()).as(result.toString()).isZero();
        } finally {
            db.source().execute("DELETE FROM cons.a WHERE id = 999", "DELETE FROM cons.b WHERE id = 999");
        }
        // Both tables as they were when the run began: neither has the rows committed together while it ran.
        assertThat(db.warehouse().value("SELECT count(*) FROM set_cons.a WHERE id = 999")).isEqualTo("0");
        assertThat(db.warehouse().value("SELECT count(*) FROM set_cons.b WHERE id = 999")).isEqualTo("0");
        assertLanded("cons.a", "set_cons.a");
        assertLanded("cons.b", "set_cons.b");
        assertLanded("cons.big", "set_cons.big");
    }

    @Test
    void aTableAnotherRunLoadedAfterTheSetsSnapshotIsLeftAsThatRunWroteIt() throws Exception {
        Datakits.Run set;
        try (Connection blocker = db.source().connect()) {
            blocker.setAutoCommit(false);
            blocker.createStatement().execute("LOCK TABLE newer.big IN ACCESS EXCLUSIVE MODE");
            var run = CompletableFuture.supplyAsync(() -> extract("--schema", "newer", "--target-schema", "set_newer", "--json"));
            waitFor(() -> "true".equals(db.source().value("SELECT bool_or(wait_event_type = 'Lock')::text FROM pg_stat_activity "
                + "WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name LIKE 'postgres-extract%'")));
            // While the set waits, newer.a changes and a job of its own loads it, from a snapshot newer than the set's.
            db.source().execute("INSERT INTO newer.a VALUES (11)");
            var alone = extract("--table", "newer.a", "--target-schema", "set_newer");
            assertThat(alone.exitCode()).as(alone.toString()).isZero();
            blocker.rollback();
            set = run.get(60, TimeUnit.SECONDS);
        }
        assertThat(set.exitCode()).as(set.toString()).isEqualTo(1);
        assertThat(set.out()).contains("\"failed\":[\"newer.a\"]", "set_newer.a was loaded by run ",
            "which began after this set's snapshot was taken");
        // Not taken back to the set's older snapshot.
        assertLanded("newer.a", "set_newer.a");
        assertLanded("newer.big", "set_newer.big");
        var next = extract("--schema", "newer", "--target-schema", "set_newer");
        assertThat(next.exitCode()).as(next.toString()).isZero();
        assertThat(next.out()).contains("1 loaded, 0 failed, 1 kept");
        assertLanded("newer.a", "set_newer.a");
    }

    @Test
    void aFailedTableCostsOnlyItselfAndTheNextRunLoadsOnlyWhatFailed() {
        var first = extract("--schema", "fail", "--target-schema", "set_fail");
        assertThat(first.exitCode()).as(first.toString()).isZero();
        // A view on bronze's table makes its replacement refused: the table fails, the other one goes on.
        db.warehouse().execute("CREATE VIEW public.on_two AS SELECT * FROM set_fail.two");
        db.source().execute("INSERT INTO fail.one VALUES (11)", "INSERT INTO fail.two VALUES (11)");
        var second = extract("--schema", "fail", "--target-schema", "set_fail", "--json");
        assertThat(second.exitCode()).as(second.toString()).isEqualTo(1);
        assertThat(second.out()).startsWith("{\"status\":\"failed\"").contains("\"failed\":[\"fail.two\"]", "public.on_two");
        assertThat(second.err()).contains("WARNING: fail.two failed: ");
        assertLanded("fail.one", "set_fail.one");
        assertThat(db.warehouse().value("SELECT count(*) FROM set_fail.two")).isEqualTo("10");

        db.warehouse().execute("DROP VIEW public.on_two");
        db.source().execute("INSERT INTO fail.one VALUES (12)", "INSERT INTO fail.two VALUES (12)");
        var third = extract("--schema", "fail", "--target-schema", "set_fail");
        assertThat(third.exitCode()).as(third.toString()).isZero();
        assertThat(third.out()).contains("tables     2: 1 loaded, 0 failed, 1 kept", "fail.one  kept, loaded by run");
        assertThat(third.err()).contains("WARNING: completing run ").contains("1 tables it loaded are kept");
        // fail.one as the second run read it; fail.two as it is now.
        assertThat(db.warehouse().value("SELECT max(id) FROM set_fail.one")).isEqualTo("11");
        assertLanded("fail.two", "set_fail.two");

        var fourth = extract("--schema", "fail", "--target-schema", "set_fail");
        assertThat(fourth.exitCode()).as(fourth.toString()).isZero();
        assertThat(fourth.out()).contains("tables     2: 2 loaded, 0 failed").doesNotContain("kept");
        assertLanded("fail.one", "set_fail.one");
        assertThat(db.warehouse().value("SELECT string_agg(status, ',' ORDER BY started_at) FROM set_fail.table_set_runs"))
            .isEqualTo("succeeded,failed,succeeded,succeeded");
    }

    @Test
    void aKilledRunIsCompletedByTheNext() throws Exception {
        Path log = dir.resolve("killed.log");
        Process process = Datakits.start("PostgresExtract", db.env(), log, "--schema", "killed", "--parallelism", "1",
            "--target-schema", "set_killed");
        try {
            // Killed while it copies k2, k1 (the biggest, loaded first) being in.
            waitFor(() -> db.warehouse().value("SELECT to_regclass('set_killed.table_set_runs')") != null
                && "succeeded".equals(db.warehouse().value("SELECT coalesce((SELECT tables->'killed.k1'->>'status' FROM set_killed.table_set_runs), '')")));
            process.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
        } finally {
            process.destroyForcibly();
        }
        assertThat(Files.readString(log)).doesNotContain("postgres-extract: succeeded");
        db.source().execute("INSERT INTO killed.k1 VALUES (0, 'after the kill')", "INSERT INTO killed.k2 VALUES (0, 'after the kill')");
        try {
            var resumed = extract("--schema", "killed", "--target-schema", "set_killed");
            assertThat(resumed.exitCode()).as(resumed.toString()).isZero();
            assertThat(resumed.out()).contains("tables     3: 2 loaded, 0 failed, 1 kept");
            assertThat(db.warehouse().value("SELECT count(*) FROM set_killed.k1 WHERE id = 0")).isEqualTo("0");
            assertLanded("killed.k2", "set_killed.k2");
            assertLanded("killed.k3", "set_killed.k3");
            assertThat(db.warehouse().value("SELECT string_agg(status || ':' || coalesce(details->>'error', ''), ',' ORDER BY started_at) "
                + "FROM set_killed.table_set_runs")).isEqualTo("failed:the run ended before it finished (its process was stopped),succeeded:");
        } finally {
            db.source().execute("DELETE FROM killed.k1 WHERE id = 0", "DELETE FROM killed.k2 WHERE id = 0");
        }
    }

    @Test
    void patternsFollowPsqlsQuotingAndCase() {
        var run = extract("--table", "SHOP.\"Order Lines; x\"", "--table", "shop.\"Mixed\"*", "--table", "Shop.T0?",
            "--exclude-table", "shop.t0[2-9]", "--target-schema", "set_patterns", "--json");
        assertThat(run.exitCode()).as(run.toString()).isZero();
        assertThat(db.warehouse().rows("SELECT tablename FROM pg_tables WHERE schemaname = 'set_patterns' AND tablename NOT IN "
            + "('extraction_runs', 'extraction_checkpoints', 'table_set_runs') AND tablename NOT LIKE '%key%' AND tablename NOT LIKE "
            + "'%schema%' AND tablename NOT LIKE 'flyway%' AND tablename NOT LIKE '%reject%' ORDER BY 1").stream().map(r -> r.get(0)).toList())
            .containsExactly("MixedCase", "Order Lines; x", "t01");
    }

    @Test
    void whatASetCannotDoIsRefusedBeforeAnythingIsLoaded() {
        Datakits.assertFailsWithOneLine(extract("--table", "shop.t01", "--table", "\"Other Schema\".t01", "--target-schema", "set_refused"),
            2, "\"Other Schema\".t01 and shop.t01 would both land in set_refused.t01. A set lands each table under its own name");
        Datakits.assertFailsWithOneLine(extract("--schema", "shop", "--target-table", "x"), 2,
            "--target-table names one bronze table, and a set of tables lands each table under its own name");
        Datakits.assertFailsWithOneLine(extract("--schema", "shop", "--where", "id > 1"), 2,
            "--where applies to one table, and --schema 'shop' selects a set of tables.");
        Datakits.assertFailsWithOneLine(extract("--table", "nosuch.*", "--target-schema", "set_refused"), 2,
            "--table 'nosuch.*' matched no table on the source", "pattern nosuch.* (--table) matched no");
        Datakits.assertFailsWithOneLine(Datakits.run("PostgresPartitioned", db.env(), "--table", "shop.*"), 2,
            "--table 'shop.*' asks for a set of tables, and this datakit loads one table at a time.");
        assertThat(db.warehouse().value("SELECT count(*) FROM pg_tables WHERE schemaname = 'set_refused' AND tablename = 't01'"))
            .isEqualTo("0");
    }

    @Test
    void theDryRunListsEachTablesPlanAndWritesNothing() {
        var dry = extract("--schema", "cons", "--target-schema", "set_dry", "--dry-run");
        assertThat(dry.exitCode()).as(dry.toString()).isZero();
        assertThat(dry.out()).contains("postgres-extract: dry run", "tables     3: 3 planned, 0 failed", "cons.big -> set_dry.big");
        assertThat(db.warehouse().value("SELECT count(*) FROM pg_namespace WHERE nspname = 'set_dry'")).isEqualTo("0");
    }

    static void waitFor(java.util.function.BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (!condition.getAsBoolean()) {
            assertThat(System.nanoTime()).as("waited 60 s").isLessThan(deadline);
            Thread.sleep(20);
        }
    }
}
