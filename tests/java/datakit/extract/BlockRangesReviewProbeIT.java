package datakit.extract;

import static org.assertj.core.api.Assertions.assertThat;

import datakit.testing.Datakits;
import datakit.testing.SourceAndWarehouse;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Review probes of postgres-extract's block ranges (5150b7f): each test either shows a defect (it fails on the code
 * reviewed) or pins a promise of docs/postgres-extract.md "A big table in block ranges" (it passes, a regression test).
 */
class BlockRangesReviewProbeIT {
    static SourceAndWarehouse db;
    static final int ROWS = 60_000;

    @BeforeAll
    static void createDatabases() {
        db = SourceAndWarehouse.create("rangeprobe",
            "CREATE TABLE public.big (id int PRIMARY KEY, v int NOT NULL, pad text)",
            "INSERT INTO public.big SELECT g, 0, repeat('p', 100) FROM generate_series(1, " + ROWS + ") g",
            "CREATE TABLE public.big2 (id int PRIMARY KEY, v int NOT NULL, pad text)",
            "INSERT INTO public.big2 SELECT g, 1, repeat('q', 100) FROM generate_series(1, " + ROWS + ") g",
            "CREATE TABLE public.one (id int)",
            "INSERT INTO public.one VALUES (1)",
            // Dropped columns, TOASTed values (every tenth row holds 6.4 kB of md5 text, stored out of line).
            "CREATE TABLE public.wide (id int PRIMARY KEY, gone text, doc text, pad text)",
            "INSERT INTO public.wide SELECT g, 'x', CASE WHEN g % 10 = 0 THEN (SELECT string_agg(md5(g::text || i::text), '') FROM "
                + "generate_series(1, 200) i) END, repeat('w', 100) FROM generate_series(1, 20000) g",
            "ALTER TABLE public.wide DROP COLUMN gone",
            // The first half of its blocks holds only dead rows: the first range is done at once, the others take their time.
            "CREATE TABLE public.skew (id int PRIMARY KEY, pad text) WITH (autovacuum_enabled = false)",
            "INSERT INTO public.skew SELECT g, repeat('s', 100) FROM generate_series(1, 20000) g",
            "DELETE FROM public.skew WHERE id <= 10000",
            "ANALYZE");
    }

    static Datakits.Run extract(String... args) {
        return extract(db.env(), args);
    }

    static Datakits.Run extract(Map<String, String> env, String... args) {
        return Datakits.run("PostgresExtract", env, args);
    }

    static String rows(datakit.testing.TestDatabase database, String table) {
        return database.value("SELECT count(*) || ':' || count(DISTINCT id) || ':' || md5(string_agg(id || ',' || v || ',' || pad, ';' ORDER BY id)) "
            + "FROM " + table);
    }

    static String stagingTables() {
        return db.warehouse().value("SELECT count(*) FROM pg_tables WHERE tablename LIKE '\\_bronze\\_staging%'");
    }

    /** Adds a check to every staging table made in {@code schema} of the warehouse, so that it refuses or slows rows. */
    static void checkStagingTablesIn(String schema, String check) {
        db.warehouse().execute("""
            CREATE OR REPLACE FUNCTION public.probe_check_%1$s() RETURNS event_trigger LANGUAGE plpgsql AS $f$
            DECLARE r record;
            BEGIN
              FOR r IN SELECT * FROM pg_event_trigger_ddl_commands() WHERE command_tag = 'CREATE TABLE' AND schema_name = '%1$s'
                       AND object_identity LIKE '%%_bronze_staging%%' LOOP
                EXECUTE format('ALTER TABLE %%s ADD CHECK (%2$s)', r.object_identity);
              END LOOP;
            END $f$""".formatted(schema, check.replace("'", "''").replace("%", "%%")),
            "CREATE EVENT TRIGGER probe_check_%1$s ON ddl_command_end WHEN TAG IN ('CREATE TABLE') EXECUTE FUNCTION public.probe_check_%1$s()"
                .formatted(schema));
    }

    static void dropCheck(String schema) {
        db.warehouse().execute("DROP EVENT TRIGGER IF EXISTS probe_check_" + schema, "DROP FUNCTION IF EXISTS public.probe_check_" + schema + "()");
    }

    /** --split-from SIZE is any size: a table of one block (or none) at or above it still loads, in one range or one stream. */
    @Test
    void aTableOfOneBlockAtOrAboveSplitFromLoads() {
        var run = extract("--table", "public.one", "--split-from", "0", "--parallelism", "2", "--target-table", "one_split");
        assertThat(run.exitCode()).as(run.toString()).isZero();
        assertThat(db.warehouse().value("SELECT count(*) FROM bronze.one_split")).isEqualTo("1");
    }

    /** Block ranges keep --where (an OR, so precedence matters), tables with dropped columns and TOASTed values. */
    @Test
    void rangesKeepTheWhereDroppedColumnsAndToastedValues() {
        String where = "id % 3 <> 0 OR id > 19990";
        var run = extract("--table", "public.wide", "--where", where, "--split-from", "1M", "--parallelism", "3", "--target-table",
            "wide_where", "--verbose");
        assertThat(run.exitCode()).as(run.toString()).isZero();
        assertThat(run.err()).contains("copied public.wide in 3 block ranges at once");
        String sql = "SELECT count(*) || ':' || md5(string_agg(id || ',' || coalesce(doc, '-') || ',' || pad, ';' ORDER BY id)) FROM ";
        assertThat(db.warehouse().value(sql + "bronze.wide_where"))
            .isEqualTo(db.source().value(sql + "public.wide WHERE " + where));
        assertThat(db.warehouse().value("SELECT count(*) FROM information_schema.columns WHERE table_schema = 'bronze' AND "
            + "table_name = 'wide_where' AND column_name NOT LIKE '\\_bronze%'")).isEqualTo("3");
    }

    /** A first --mode append into a new table goes through the ranges; the second appends in one stream. */
    @Test
    void aFirstAppendInRangesThenASecondAppend() {
        var first = extract("--table", "public.big", "--mode", "append", "--split-from", "1M", "--parallelism", "3", "--target-table",
            "big_append", "--verbose");
        assertThat(first.exitCode()).as(first.toString()).isZero();
        assertThat(first.err()).contains("block ranges at once");
        assertThat(rows(db.warehouse(), "bronze.big_append")).isEqualTo(rows(db.source(), "public.big"));
        var second = extract("--table", "public.big", "--mode", "append", "--split-from", "1M", "--parallelism", "3", "--target-table",
            "big_append");
        assertThat(second.exitCode()).as(second.toString()).isZero();
        assertThat(db.warehouse().value("SELECT count(*) || ':' || count(DISTINCT id) || ':' || count(DISTINCT _bronze_run_id) FROM "
            + "bronze.big_append")).isEqualTo(2 * ROWS + ":" + ROWS + ":2");
        assertThat(stagingTables()).isEqualTo("0");
    }

    /**
     * The warehouse refuses a value of a range another connection copies: the load fails with one line and exit 1, bronze is
     * as it was, the staging table is dropped, the run is recorded failed.
     */
    @Test
    void aValueTheWarehouseRefusesInOneRangeFailsTheLoadCleanly() {
        var first = extract("--table", "public.big", "--parallelism", "1", "--target-schema", "refuse", "--target-table", "big");
        assertThat(first.exitCode()).as(first.toString()).isZero();
        String before = rows(db.warehouse(), "refuse.big");
        db.source().execute("UPDATE public.big SET v = 7 WHERE id = " + ROWS);
        checkStagingTablesIn("refuse", "id <> " + ROWS);
        try {
            var run = extract("--table", "public.big", "--split-from", "1M", "--parallelism", "3", "--target-schema", "refuse",
                "--target-table", "big");
            Datakits.assertFailsWithOneLine(run, 1, "refuse.big");
            assertThat(rows(db.warehouse(), "refuse.big")).isEqualTo(before);
            assertThat(stagingTables()).isEqualTo("0");
            assertThat(db.warehouse().value("SELECT status FROM refuse.extraction_runs ORDER BY started_at DESC LIMIT 1")).isEqualTo("failed");
        } finally {
            dropCheck("refuse");
            db.source().execute("UPDATE public.big SET v = 0 WHERE id = " + ROWS);
        }
    }

    /**
     * One range's warehouse connection ends mid-copy (pg_terminate_backend): the load is retried whole, on a new staging
     * table, and lands equal to the source, with no staging table left.
     */
    @Test
    void aRangeWhoseConnectionIsKilledIsRetriedAndLeavesNoStagingTable() throws Exception {
        // Each row takes a moment in the warehouse, so the copy is still running when its connection is ended.
        checkStagingTablesIn("killed", "id % 50 <> 0 OR pg_sleep(0.002) IS NOT NULL");
        CompletableFuture<Datakits.Run> run;
        try {
            run = CompletableFuture.supplyAsync(() -> extract("--table", "public.big", "--split-from", "1M", "--parallelism", "3",
                "--target-schema", "killed", "--target-table", "big"));
            String copying = "FROM pg_stat_activity WHERE datname = current_database() AND state = 'active' AND query LIKE 'COPY %\\_bronze\\_staging%'";
            waitFor(() -> Integer.parseInt(db.warehouse().value("SELECT count(*) " + copying)) >= 3);
            // The last to begin its transaction: a range of its own (the load's transaction began earlier).
            assertThat(db.warehouse().value("SELECT pg_terminate_backend(pid) " + copying + " ORDER BY xact_start DESC LIMIT 1")).isEqualTo("t");
            var result = run.get(120, TimeUnit.SECONDS);
            assertThat(result.exitCode()).as(result.toString()).isZero();
            assertThat(result.err()).contains("of the load of killed.big after a connection failure");
        } finally {
            dropCheck("killed");
        }
        assertThat(rows(db.warehouse(), "killed.big")).isEqualTo(rows(db.source(), "public.big"));
        assertThat(stagingTables()).isEqualTo("0");
    }

    /** A set with two big tables and a small one, at --parallelism 1, 2 and 8: the pools suffice, every table lands equal. */
    @Test
    void aSetWithTwoBigTablesAtParallelism1And2And8() {
        for (int parallelism : new int[] {1, 2, 8}) {
            String schema = "set_p" + parallelism;
            var run = extract("--table", "public.big*", "--table", "public.one", "--split-from", "1M", "--parallelism",
                String.valueOf(parallelism), "--target-schema", schema, "--verbose");
            assertThat(run.exitCode()).as(run.toString()).isZero();
            if (parallelism > 1) {
                assertThat(run.err()).contains("block ranges at once");
            }
            assertThat(rows(db.warehouse(), schema + ".big")).isEqualTo(rows(db.source(), "public.big"));
            assertThat(rows(db.warehouse(), schema + ".big2")).isEqualTo(rows(db.source(), "public.big2"));
            assertThat(db.warehouse().value("SELECT count(*) FROM " + schema + ".one")).isEqualTo("1");
        }
        assertThat(stagingTables()).isEqualTo("0");
    }

    /**
     * While the other ranges copy, the load's own warehouse transaction waits idle: a warehouse with
     * idle_in_transaction_session_timeout (common on managed servers) ends it, and the load fails where one stream succeeds.
     * StreamLock and the exported snapshot's session turn that timeout off for their transactions; this one does not.
     */
    @Test
    void theLoadsTransactionSurvivesAnIdleInTransactionTimeoutWhileOtherRangesCopy() {
        var env = new HashMap<>(db.env());
        env.put("WAREHOUSE_PG_MAX_RETRIES", "0");
        var control = extract(env, "--table", "public.skew", "--parallelism", "1", "--target-schema", "idle", "--target-table", "skew");
        assertThat(control.exitCode()).as(control.toString()).isZero();
        checkStagingTablesIn("idle", "id % 5 <> 0 OR pg_sleep(0.001) IS NOT NULL");
        db.warehouse().execute("DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET idle_in_transaction_session_timeout = ''1s''', "
            + "current_database()); END $$");
        try {
            var oneStream = extract(env, "--table", "public.skew", "--parallelism", "1", "--target-schema", "idle", "--target-table", "skew");
            assertThat(oneStream.exitCode()).as("one stream: " + oneStream).isZero();
            var ranges = extract(env, "--table", "public.skew", "--split-from", "1M", "--parallelism", "2", "--target-schema", "idle",
                "--target-table", "skew");
            assertThat(ranges.exitCode()).as("two ranges: " + ranges).isZero();
        } finally {
            db.warehouse().execute("DO $$ BEGIN EXECUTE format('ALTER DATABASE %I RESET idle_in_transaction_session_timeout', "
                + "current_database()); END $$");
            dropCheck("idle");
        }
        assertThat(db.warehouse().value("SELECT count(*) FROM idle.skew")).isEqualTo("10000");
    }

    static void waitFor(java.util.function.BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (!condition.getAsBoolean()) {
            assertThat(System.nanoTime()).as("waited 60 s").isLessThan(deadline);
            Thread.sleep(10);
        }
    }
}
