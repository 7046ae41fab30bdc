package datakit.incremental;

import static org.assertj.core.api.Assertions.assertThat;

import datakit.testing.Datakits;
import datakit.testing.TestDatabase;
import datakit.testing.TestPostgres;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** postgres-incremental against a real server: ties, late commits, updates, both write modes, errors. */
class IncrementalIT {
    TestDatabase source;
    TestDatabase warehouse;

    @BeforeEach
    void createDatabases() {
        source = TestPostgres.createDatabase("inc_src");
        warehouse = TestPostgres.createDatabase("inc_wh");
        source.execute("""
            CREATE SCHEMA sales;
            CREATE TABLE sales.orders (id bigint PRIMARY KEY, status text, total numeric(12,2), updated_at timestamptz NOT NULL);
            CREATE INDEX ON sales.orders (updated_at, id);
            """);
    }

    Datakits.Run incremental(String... args) {
        return incremental(Map.of(), args);
    }

    Datakits.Run incremental(Map<String, String> extraEnv, String... args) {
        var env = new HashMap<>(Map.of("SOURCE_DATABASE_URL", source.url(), "WAREHOUSE_DATABASE_URL", warehouse.url()));
        env.putAll(extraEnv);
        return Datakits.run("PostgresIncremental", env, args);
    }

    Datakits.Run ok(String... args) {
        var run = incremental(args);
        assertThat(run.exitCode()).as(run.toString()).isZero();
        return run;
    }

    /** Rows at ten-per-minute timestamps, so every minute is a tie group of ten. */
    void insertOrders(int from, int to) {
        source.execute("INSERT INTO sales.orders SELECT g, 'new', g, timestamptz '2026-01-01' + (g / 10) * interval '1 minute' "
            + "FROM generate_series(" + from + ", " + to + ") g");
    }

    void assertBronzeEqualsSource(String bronzeTable) {
        assertThat(warehouse.rows("SELECT id, status, total, updated_at FROM " + bronzeTable + " ORDER BY id"))
            .isEqualTo(source.rows("SELECT id, status, total, updated_at FROM sales.orders ORDER BY id"));
    }

    @Test
    void twoLongTargetNamesThatShareTheirFirst52BytesEachGetTheirOwnKeyIndex() {
        insertOrders(1, 20);
        String common = "orders_kept_one_row_per_key_in_the_bronze_layer_of_sales_";
        for (String target : List.of(common + "eu", common + "us")) {
            ok("--table", "sales.orders", "--cursor-field", "updated_at", "--target-table", target);
            assertBronzeEqualsSource("bronze." + target);
        }
        assertThat(warehouse.rows("SELECT indrelid::regclass::text FROM pg_index WHERE indisunique AND indexrelid::regclass::text LIKE '%bronze%' "
            + "AND indrelid::regclass::text LIKE '%" + common + "%' ORDER BY 1"))
            .as("a unique key index on each table").hasSize(2);
        source.execute("UPDATE sales.orders SET status = 'paid' WHERE id <= 5");
        source.execute("UPDATE sales.orders SET updated_at = updated_at + interval '1 day' WHERE id <= 5");
        for (String target : List.of(common + "eu", common + "us")) {
            ok("--table", "sales.orders", "--cursor-field", "updated_at", "--target-table", target);
            assertBronzeEqualsSource("bronze." + target);
        }
    }

    @Test
    void tiesAreNeverSplitOrLostAcrossChunkAndRunEdges() {
        insertOrders(1, 95);
        ok("--table", "sales.orders", "--cursor-field", "updated_at", "--chunk-rows", "7");
        assertBronzeEqualsSource("bronze.orders");
        assertThat(warehouse.value("SELECT details->>'chunks' FROM bronze.extraction_runs")).isEqualTo("14");

        // Rows tying with the checkpoint's cursor value, with larger keys, arrive after the run ended.
        source.execute("INSERT INTO sales.orders SELECT g, 'late tie', g, timestamptz '2026-01-01' + interval '9 minutes' "
            + "FROM generate_series(96, 99) g");
        insertOrders(100, 123);
        var second = ok("--table", "sales.orders", "--cursor-field", "updated_at", "--chunk-rows", "5", "--mode", "merge");

        assertBronzeEqualsSource("bronze.orders");
        assertThat(second.out()).contains("rows       28 ");
        assertThat(warehouse.value("SELECT count(*) FROM bronze.orders")).isEqualTo("123");
    }

    @Test
    void appendKeepsEveryVersionWithNoGapAndNoDuplicate() {
        insertOrders(1, 50);
        ok("--table", "sales.orders", "--cursor-field", "updated_at", "--mode", "append", "--chunk-rows", "8");
        source.execute("UPDATE sales.orders SET status = 'paid', updated_at = timestamptz '2026-02-01' + id * interval '1 s' WHERE id % 10 = 0");
        insertOrders(51, 60);
        ok("--table", "sales.orders", "--cursor-field", "updated_at", "--mode", "append", "--chunk-rows", "4");

        assertThat(warehouse.value("SELECT count(*) FROM bronze.orders")).isEqualTo("65");
        assertThat(warehouse.rows("SELECT id, status FROM bronze.orders WHERE id IN (10, 20) ORDER BY id, _bronze_loaded_at"))
            .containsExactly(List.of("10", "new"), List.of("10", "paid"), List.of("20", "new"), List.of("20", "paid"));
        assertThat(warehouse.value("SELECT count(*) FROM (SELECT id, status FROM bronze.orders GROUP BY 1, 2 HAVING count(*) > 1) d"))
            .isEqualTo("0");
    }

    @Test
    void mergeUpdatesLoadedRowsInPlaceAndHonoursTheConflictPolicy() {
        insertOrders(1, 30);
        ok("--table", "sales.orders", "--cursor-field", "updated_at");
        source.execute("UPDATE sales.orders SET status = 'paid', total = total + 1, updated_at = timestamptz '2026-03-01' WHERE id <= 3");
        ok("--table", "sales.orders", "--cursor-field", "updated_at");
        assertBronzeEqualsSource("bronze.orders");

        source.execute("UPDATE sales.orders SET status = 'shipped', updated_at = timestamptz '2026-04-01' WHERE id = 1");
        ok("--table", "sales.orders", "--cursor-field", "updated_at", "--on-conflict", "skip");
        assertThat(warehouse.value("SELECT status FROM bronze.orders WHERE id = 1")).isEqualTo("paid");

        source.execute("UPDATE sales.orders SET updated_at = timestamptz '2026-05-01' WHERE id = 2");
        var fail = incremental("--table", "sales.orders", "--cursor-field", "updated_at", "--on-conflict", "fail");
        assertThat(fail.exitCode()).isEqualTo(3);
        assertThat(fail.err()).contains("already has a row with the key", "nothing of this part was committed");
        assertThat(warehouse.value("SELECT cursor_value->>'value' FROM bronze.extraction_checkpoints")).startsWith("2026-04-01");
    }

    @Test
    void aLateCommitIsMissedWithoutLookbackAndCaughtWithoutDuplicatesWithIt() throws Exception {
        insertOrders(1, 10);
        ok("--table", "sales.orders", "--cursor-field", "updated_at");
        try (Connection slow = source.connect(); Statement st = slow.createStatement()) {
            slow.setAutoCommit(false);
            st.execute("INSERT INTO sales.orders VALUES (100, 'slow', 1, clock_timestamp())");
            Thread.sleep(50);
            source.execute("INSERT INTO sales.orders VALUES (101, 'fast', 1, clock_timestamp())");
            ok("--table", "sales.orders", "--cursor-field", "updated_at");
            slow.commit();
        }
        ok("--table", "sales.orders", "--cursor-field", "updated_at");
        assertThat(warehouse.value("SELECT count(*) FROM bronze.orders WHERE id = 100")).as("missed without lookback").isEqualTo("0");

        ok("--table", "sales.orders", "--cursor-field", "updated_at", "--lookback", "PT5M");
        assertBronzeEqualsSource("bronze.orders");
        assertThat(warehouse.value("SELECT count(*) FROM bronze.orders")).isEqualTo("12");
    }

    @Test
    void xminModeFollowsTablesWithoutACursorColumn() {
        source.execute("CREATE TABLE sales.notes (id int PRIMARY KEY, body text)", "INSERT INTO sales.notes SELECT g, 'v1' FROM generate_series(1, 20) g");
        ok("--table", "sales.notes", "--sync-mode", "xmin");
        source.execute("UPDATE sales.notes SET body = 'v2' WHERE id IN (3, 4)", "INSERT INTO sales.notes VALUES (21, 'v1')");

        var second = ok("--table", "sales.notes", "--sync-mode", "xmin");

        assertThat(second.out()).contains("rows       3 ").contains("checkpoint transactions from ");
        assertThat(warehouse.rows("SELECT id, body FROM bronze.notes ORDER BY id"))
            .isEqualTo(source.rows("SELECT id, body FROM sales.notes ORDER BY id"));
    }

    @Test
    void deletedRowsAreMarkedWithoutAReloadAndComeBackWhenTheKeyDoes() {
        insertOrders(1, 40);
        ok("--table", "sales.orders", "--cursor-field", "updated_at");
        source.execute("DELETE FROM sales.orders WHERE id IN (5, 6, 7)");

        var run = ok("--table", "sales.orders", "--cursor-field", "updated_at", "--detect-deletes");

        assertThat(run.out()).contains("deletes marked: 3");
        assertThat(warehouse.rows("SELECT id FROM bronze.orders WHERE _bronze_deleted_at IS NOT NULL ORDER BY id"))
            .containsExactly(List.of("5"), List.of("6"), List.of("7"));
        source.execute("INSERT INTO sales.orders VALUES (6, 'back', 6, timestamptz '2027-01-01')");
        ok("--table", "sales.orders", "--cursor-field", "updated_at", "--detect-deletes");
        assertThat(warehouse.value("SELECT _bronze_deleted_at IS NULL FROM bronze.orders WHERE id = 6")).isEqualTo("t");
    }

    @Test
    void rowsWithANullCursorAreReadOnEveryRunAndMergedOnce() {
        source.execute("CREATE TABLE sales.tickets (id int PRIMARY KEY, closed_at date)",
            "INSERT INTO sales.tickets VALUES (1, '2026-01-01'), (2, NULL), (3, '2026-01-02')");
        var first = ok("--table", "sales.tickets", "--cursor-field", "closed_at");
        var second = ok("--table", "sales.tickets", "--cursor-field", "closed_at");

        assertThat(first.out()).contains("null cursor rows: 1");
        assertThat(second.out()).contains("rows       1 ");
        assertThat(warehouse.value("SELECT count(*) FROM bronze.tickets")).isEqualTo("3");
    }

    @Test
    void everyCursorTypeResumesWhereItStopped() {
        source.execute("""
            CREATE TABLE sales.kinds (id int PRIMARY KEY, d date, i int, n numeric, t text, u uuid, ts timestamp);
            INSERT INTO sales.kinds SELECT g, date '2026-01-01' + g, g, g / 3.0, lpad(g::text, 4, '0'),
                   ('00000000-0000-0000-0000-' || lpad(g::text, 12, '0'))::uuid, timestamp '2026-01-01' + g * interval '1 s'
            FROM generate_series(1, 20) g;
            """);
        for (String cursor : List.of("d", "i", "n", "t", "u", "ts")) {
            ok("--table", "sales.kinds", "--cursor-field", cursor, "--target-table", "kinds_" + cursor, "--chunk-rows", "6");
        }
        source.execute("""
            INSERT INTO sales.kinds SELECT g, date '2026-01-01' + g, g, g / 3.0, lpad(g::text, 4, '0'),
                   ('00000000-0000-0000-0000-' || lpad(g::text, 12, '0'))::uuid, timestamp '2026-01-01' + g * interval '1 s'
            FROM generate_series(21, 25) g""");
        for (String cursor : List.of("d", "i", "n", "t", "u", "ts")) {
            var run = ok("--table", "sales.kinds", "--cursor-field", cursor, "--target-table", "kinds_" + cursor);
            assertThat(run.out()).as(cursor).contains("rows       5 ");
            assertThat(warehouse.count("bronze.kinds_" + cursor)).as(cursor).isEqualTo(25);
        }
    }

    @Test
    void theDryRunShowsTheCheckpointTheBoundQueryAndTheEstimateAndWritesNothing() {
        insertOrders(1, 30);
        ok("--table", "sales.orders", "--cursor-field", "updated_at");
        long runs = warehouse.count("bronze.extraction_runs");

        var dry = ok("--table", "sales.orders", "--cursor-field", "updated_at", "--dry-run");

        assertThat(dry.out()).contains("checkpoint  updated_at > 2026-01-01 00:03:00+00 (id 30)",
            "(\"updated_at\", \"id\") > ('2026-01-01 00:03:00+00'::timestamp with time zone, '30'::bigint)", "rows (planner estimate)");
        assertThat(warehouse.count("bronze.extraction_runs")).isEqualTo(runs);
    }

    @Test
    void badCursorsKeysAndCheckpointsGetClearErrors() {
        insertOrders(1, 10);
        source.execute("CREATE TABLE sales.logs (at timestamptz NOT NULL, line text NOT NULL)",
            "CREATE TABLE sales.blobs (id int PRIMARY KEY, v float8)", "CREATE TABLE sales.loose (at timestamptz, line text)");

        var missing = incremental("--table", "sales.orders", "--cursor-field", "modified");
        assertThat(missing.exitCode()).isEqualTo(2);
        assertThat(missing.err()).contains("Cursor column modified does not exist in sales.orders. Columns are: id, status, total, updated_at.");
        var type = incremental("--table", "sales.blobs", "--cursor-field", "v");
        assertThat(type.exitCode()).isEqualTo(2);
        assertThat(type.err()).contains("Cursor column v of sales.blobs is double precision, which cannot be a cursor");
        var noKey = incremental("--table", "sales.logs", "--cursor-field", "at");
        assertThat(noKey.exitCode()).isEqualTo(2);
        assertThat(noKey.err()).contains("sales.logs has no primary key", "Give --primary-key");
        assertThat(incremental("--table", "sales.logs", "--cursor-field", "at", "--primary-key", "at,line", "--mode", "append").exitCode())
            .isZero();
        var nullableKey = incremental("--table", "sales.loose", "--cursor-field", "at", "--primary-key", "at,line");
        assertThat(nullableKey.exitCode()).isEqualTo(2);
        assertThat(nullableKey.err()).contains("Key column at of sales.loose allows NULL");
        var badStart = incremental("--table", "sales.orders", "--cursor-field", "updated_at", "--initial-value", "yesterdayish",
            "--target-table", "never");
        assertThat(badStart.exitCode()).isEqualTo(2);
        assertThat(badStart.err()).contains("--initial-value \"yesterdayish\" is not a valid timestamp with time zone");
        var lookbackFail = incremental("--table", "sales.orders", "--cursor-field", "updated_at", "--lookback", "PT5M", "--on-conflict", "fail");
        assertThat(lookbackFail.exitCode()).isEqualTo(2);
        assertThat(lookbackFail.err()).contains("--lookback reads rows again, which --on-conflict fail would stop at");
        var months = incremental("--table", "sales.orders", "--cursor-field", "updated_at", "--lookback", "P1M");
        assertThat(months.exitCode()).isEqualTo(2);
        assertThat(months.err()).contains("months and years have no fixed length");

        ok("--table", "sales.orders", "--cursor-field", "updated_at");
        source.execute("ALTER TABLE sales.orders ALTER COLUMN updated_at TYPE timestamp");
        var changed = incremental("--table", "sales.orders", "--cursor-field", "updated_at");
        assertThat(changed.exitCode()).isEqualTo(2);
        assertThat(changed.err()).contains("The checkpoint of bronze.orders cannot be used: its cursor value has type timestamp with time zone",
            "--full-refresh", "--on-bad-checkpoint full-refresh");

        var refreshed = ok("--table", "sales.orders", "--cursor-field", "updated_at", "--on-bad-checkpoint", "full-refresh");
        assertThat(refreshed.out()).contains("full refresh: its cursor value has type timestamp with time zone");
        assertThat(warehouse.value("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'bronze.orders'::regclass "
            + "AND attname = 'updated_at'")).isEqualTo("timestamp without time zone");
        assertThat(warehouse.value("SELECT details->>'full_refresh' FROM bronze.extraction_runs ORDER BY started_at DESC LIMIT 1"))
            .startsWith("its cursor value has type");

        warehouse.execute("DELETE FROM bronze.extraction_checkpoints");
        var lost = incremental("--table", "sales.orders", "--cursor-field", "updated_at");
        assertThat(lost.exitCode()).isEqualTo(3);
        assertThat(lost.err()).contains("the checkpoint row of this stream is gone");
        var forced = ok("--table", "sales.orders", "--cursor-field", "updated_at", "--full-refresh");
        assertThat(forced.out()).contains("full refresh: --full-refresh was given");

        var widened = incremental("--table", "sales.orders", "--cursor-field", "updated_at", "--where", "id < 5");
        assertThat(widened.exitCode()).isEqualTo(2);
        assertThat(widened.err()).contains("it was taken for all rows", "this run reads where id < 5");

        warehouse.execute("DROP TABLE bronze.orders");
        var dropped = incremental("--table", "sales.orders", "--cursor-field", "updated_at");
        assertThat(dropped.exitCode()).isEqualTo(3);
        assertThat(dropped.err()).contains("the bronze table bronze.orders was dropped");
    }

    @Test
    void aCursorColumnThatIsPartOfTheKeyOrdersTiesByTheRestOfIt() {
        source.execute("CREATE TABLE sales.readings (at timestamptz NOT NULL, sensor text NOT NULL, value int, PRIMARY KEY (at, sensor))",
            "INSERT INTO sales.readings SELECT timestamptz '2026-01-01' + (g / 4) * interval '1 minute', 's' || (g % 4), g "
                + "FROM generate_series(1, 40) g");
        ok("--table", "sales.readings", "--cursor-field", "at", "--chunk-rows", "3");
        source.execute("INSERT INTO sales.readings VALUES (timestamptz '2026-01-01' + interval '10 minutes', 's9', 99)");
        ok("--table", "sales.readings", "--cursor-field", "at", "--chunk-rows", "3");

        assertThat(warehouse.rows("SELECT at, sensor, value FROM bronze.readings ORDER BY 1, 2"))
            .isEqualTo(source.rows("SELECT at, sensor, value FROM sales.readings ORDER BY 1, 2"));
    }

    @Test
    void aFullRefreshInAppendModeAppendsACompleteCopyAndKeepsTheHistory() {
        insertOrders(1, 5);
        ok("--table", "sales.orders", "--cursor-field", "updated_at", "--mode", "append");
        source.execute("UPDATE sales.orders SET status = 'paid', updated_at = timestamptz '2026-06-01' WHERE id <= 2");
        ok("--table", "sales.orders", "--cursor-field", "updated_at", "--mode", "append");

        var refresh = ok("--table", "sales.orders", "--cursor-field", "updated_at", "--mode", "append", "--full-refresh");

        assertThat(refresh.out()).contains("full refresh: --full-refresh was given");
        assertThat(warehouse.value("SELECT count(*) FROM bronze.orders")).isEqualTo("12");
        assertThat(warehouse.rows("SELECT status, count(*) FROM bronze.orders WHERE id = 1 GROUP BY 1 ORDER BY 1"))
            .containsExactly(List.of("new", "1"), List.of("paid", "2"));
        var next = ok("--table", "sales.orders", "--cursor-field", "updated_at", "--mode", "append");
        assertThat(next.out()).contains("rows       0 ");
    }

    @Test
    void xminAppendLandsEachVersionOnceEvenWhileOtherTransactionsStayOpen() throws Exception {
        source.execute("CREATE TABLE sales.notes (id int PRIMARY KEY, body text)", "INSERT INTO sales.notes SELECT g, 'v1' FROM generate_series(1, 5) g");
        try (Connection open = source.connect(); Statement st = open.createStatement()) {
            open.setAutoCommit(false);
            st.execute("CREATE TEMPORARY TABLE holds_an_xid (x int)");
            ok("--table", "sales.notes", "--sync-mode", "xmin", "--mode", "append");
            source.execute("UPDATE sales.notes SET body = 'v2' WHERE id = 1");
            ok("--table", "sales.notes", "--sync-mode", "xmin", "--mode", "append");
            ok("--table", "sales.notes", "--sync-mode", "xmin", "--mode", "append");
            st.execute("INSERT INTO sales.notes VALUES (6, 'late')");
            open.commit();
        }
        ok("--table", "sales.notes", "--sync-mode", "xmin", "--mode", "append");
        ok("--table", "sales.notes", "--sync-mode", "xmin", "--mode", "append");

        assertThat(warehouse.rows("SELECT id, body, count(*) FROM bronze.notes GROUP BY 1, 2 ORDER BY 1, 2"))
            .containsExactly(List.of("1", "v1", "1"), List.of("1", "v2", "1"), List.of("2", "v1", "1"), List.of("3", "v1", "1"),
                List.of("4", "v1", "1"), List.of("5", "v1", "1"), List.of("6", "late", "1"));
    }

    @Test
    void edgeCasesOfEmptyStreamsKeysAndSkippedConflicts() {
        source.execute("CREATE TABLE sales.empty (id int PRIMARY KEY, at timestamptz)");
        ok("--table", "sales.empty", "--cursor-field", "at", "--detect-deletes");
        ok("--table", "sales.empty", "--cursor-field", "at", "--detect-deletes");
        source.execute("INSERT INTO sales.empty VALUES (1, NULL)");
        ok("--table", "sales.empty", "--cursor-field", "at");
        assertThat(ok("--table", "sales.empty", "--cursor-field", "at").exitCode()).as("only NULL cursors, run again").isZero();

        insertOrders(1, 10);
        ok("--table", "sales.orders", "--cursor-field", "updated_at", "--detect-deletes");
        source.execute("DELETE FROM sales.orders WHERE id = 4");
        ok("--table", "sales.orders", "--cursor-field", "updated_at", "--detect-deletes");
        source.execute("INSERT INTO sales.orders VALUES (4, 'restored', 4, timestamptz '2026-01-01')");
        var restored = ok("--table", "sales.orders", "--cursor-field", "updated_at", "--detect-deletes");
        assertThat(restored.out()).contains("deletes cleared: 1");
        assertThat(warehouse.value("SELECT _bronze_deleted_at IS NULL FROM bronze.orders WHERE id = 4")).isEqualTo("t");

        source.execute("UPDATE sales.orders SET status = 'again', updated_at = timestamptz '2027-01-01' WHERE id <= 3");
        var skipped = ok("--table", "sales.orders", "--cursor-field", "updated_at", "--on-conflict", "skip");
        assertThat(skipped.out()).contains("skipped keys: 3");

        var everyRun = incremental(Map.of("SYNC_MODE", "full_refresh"), "--table", "sales.orders", "--target-table", "refreshed");
        assertThat(everyRun.exitCode()).as(everyRun.toString()).isZero();
        assertThat(everyRun.out()).contains("full refresh: sync_mode is full_refresh");
        assertThat(warehouse.count("bronze.refreshed")).isEqualTo(10);
    }

    @Test
    void aKeyThatIsNotUniqueCannotBeMergedBy() {
        source.execute("CREATE TABLE sales.codes (code text NOT NULL, at timestamptz NOT NULL)",
            "INSERT INTO sales.codes VALUES ('a', '2026-01-01'), ('a', '2026-01-02'), ('b', '2026-01-03')");
        var run = incremental("--table", "sales.codes", "--cursor-field", "at", "--primary-key", "code");
        assertThat(run.exitCode()).isEqualTo(2);
        assertThat(run.err()).contains("The key (code) is not unique in sales.codes", "Give --primary-key");
    }

    @Test
    void aSecondRunOfTheStreamStopsAtOnceAndWritesNothing() throws Exception {
        insertOrders(1, 10);
        try (Connection holder = warehouse.connect(); Statement st = holder.createStatement()) {
            st.execute("SELECT pg_advisory_lock(hashtextextended('datakit stream bronze.orders', 0))");
            var blocked = incremental("--table", "sales.orders", "--cursor-field", "updated_at");
            assertThat(blocked.exitCode()).isEqualTo(3);
            assertThat(blocked.err()).contains("Another run of bronze.orders is in progress");
        }
        assertThat(warehouse.value("SELECT to_regclass('bronze.orders') IS NULL")).isEqualTo("t");
        assertThat(warehouse.value("SELECT status FROM bronze.extraction_runs")).isEqualTo("failed");
    }

    @Test
    void seedStyleSettingsComeFromTheEnvironmentOrAConfigFile(@TempDir Path dir) throws Exception {
        insertOrders(1, 10);
        var fromEnv = incremental(Map.of("CURSOR_FIELD", "updated_at", "PRIMARY_KEY", "id", "SYNC_MODE", "incremental"),
            "--table", "sales.orders", "--target-table", "from_env");
        assertThat(fromEnv.exitCode()).as(fromEnv.toString()).isZero();

        Path config = Files.writeString(dir.resolve("orders.yaml"), """
            source_table: sales.orders
            sync_mode: incremental
            cursor_field: updated_at
            primary_key: [id]
            write_mode: append
            target_table: from_config
            """);
        var fromFile = ok("--config", config.toString());
        assertThat(fromFile.out()).contains("wrote      bronze.from_config (append)");

        Path typo = Files.writeString(dir.resolve("typo.yaml"), "cursor_feild: updated_at\n");
        var bad = incremental("--config", typo.toString(), "--table", "sales.orders");
        assertThat(bad.exitCode()).isEqualTo(2);
        assertThat(bad.err()).contains("typo.yaml: unknown key cursor_feild", "cursor_field");
    }

}
