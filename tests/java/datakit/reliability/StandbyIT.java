package datakit.reliability;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import datakit.sandbox.LocalCluster;
import datakit.sandbox.PostgresSandbox;
import datakit.testing.Datakits;
import datakit.testing.TestDatabase;
import datakit.testing.TestPostgres;
import java.sql.Connection;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The datakits reading a real hot standby (pg_basebackup -R, streaming) of a primary they share for the
 * class: xmin mode, recovery conflicts, replay lag in health and in run summaries.
 */
class StandbyIT {
    static final ObjectMapper JSON = new ObjectMapper();
    static LocalCluster primary;
    static LocalCluster standby;

    /** Reads on the standby that hold up replay are cancelled after 10 ms: conflicts come at once. */
    @BeforeAll
    static void startPrimaryAndStandby() {
        primary = PostgresSandbox.startLocal(System.err::println);
        standby = primary.startStandby();
        standby.restart(List.of("max_standby_streaming_delay=10ms"));
    }

    @AfterAll
    static void stopThem() {
        if (standby != null) {
            standby.close();
        }
        if (primary != null) {
            primary.close();
        }
    }

    /** The same database on the standby, once the standby has replayed everything the primary has written so far. */
    static TestDatabase onStandby(TestDatabase db) {
        waitForReplay();
        return new TestDatabase(standby, db.name());
    }

    /** Waits until the standby has replayed the primary's WAL as it stands now. */
    static void waitForReplay() {
        var admin = new TestDatabase(primary, "postgres");
        String lsn = admin.value("SELECT pg_current_wal_insert_lsn()");
        var replica = new TestDatabase(standby, "postgres");
        await("the standby to replay up to " + lsn, () -> replica.value("SELECT pg_last_wal_replay_lsn() >= '" + lsn + "'").equals("t"));
    }

    static void await(String what, BooleanSupplier condition) {
        long deadline = System.nanoTime() + 60_000_000_000L;
        while (!condition.getAsBoolean()) {
            assertThat(System.nanoTime()).as("waited 60 s for " + what).isLessThan(deadline);
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            }
        }
    }

    static Map<String, String> env(TestDatabase source, TestDatabase warehouse) {
        return Map.of("SOURCE_DATABASE_URL", source.url(), "WAREHOUSE_DATABASE_URL", warehouse.url());
    }

    /** A source on the primary whose reads take about 1 s (--where sleeps 10 ms a row), and a warehouse. */
    record Slow(TestDatabase db, TestDatabase warehouse, Map<String, String> env) {
        static final String WHERE = "pg_sleep(0.01) IS NOT NULL";
        static final String READER = "standby-reader";

        static Slow create(String prefix, String... sql) {
            var db = TestPostgres.createDatabase(primary, prefix + "_src");
            var warehouse = TestPostgres.createDatabase(primary, prefix + "_wh");
            db.execute(sql);
            var replica = onStandby(db);
            return new Slow(db, warehouse, Map.of("SOURCE_DATABASE_URL", replica.url() + "?application_name=" + READER,
                "WAREHOUSE_DATABASE_URL", warehouse.url()));
        }

        /** The run succeeded after one retry announced as {@code attempt} ... after a recovery conflict, and bronze holds the source's rows. */
        void assertRetriedAndLanded(Datakits.Run run, String attempt, String table, String columns) {
            assertThat(run.exitCode()).as(run.toString()).isZero();
            assertThat(run.err()).contains("WARNING: " + attempt + " after a recovery conflict on the hot standby");
            assertThat(warehouse.rows("SELECT " + columns + " FROM bronze." + table + " ORDER BY 1"))
                .isEqualTo(db.rows("SELECT " + columns + " FROM " + table + " ORDER BY 1"));
        }

        Map<String, String> env(String name, String value) {
            var all = new HashMap<>(env);
            all.put(name, value);
            return all;
        }

        /**
         * Runs a datakit against the standby; once a statement of it like {@code statement} runs there, takes an ACCESS EXCLUSIVE
         * lock on {@code table} on the primary. Replaying that lock conflicts with the reader's: the standby cancels its statement
         * and ends its sessions idle in a transaction that holds a lock on the table. One conflict per run.
         */
        Datakits.Run runWithOneConflict(Map<String, String> env, String statement, String table, String datakit, String... args)
                throws Exception {
            var run = CompletableFuture.supplyAsync(() -> Datakits.run(datakit, env, args));
            var replica = new TestDatabase(standby, db.name());
            await("a statement like " + statement + " on the standby", () -> run.isDone() || replica.value("SELECT count(*) > 0 "
                + "FROM pg_stat_activity WHERE application_name = '" + READER + "' AND state = 'active' AND query LIKE '" + statement
                + "'").equals("t"));
            assertThat(run.isDone()).as("the run was still reading").isFalse();
            db.execute("BEGIN; LOCK TABLE " + table + " IN ACCESS EXCLUSIVE MODE; COMMIT");
            return run.get(2, TimeUnit.MINUTES);
        }
    }

    static Datakits.Run ok(String datakit, Map<String, String> env, String... args) {
        var run = Datakits.run(datakit, env, args);
        assertThat(run.exitCode()).as(run.toString()).isZero();
        return run;
    }

    @Test
    void xminModeLoadsATransactionStillOpenOnThePrimaryOnceItCommitsReadFromTheStandbyOrThePrimary() throws Exception {
        for (boolean fromStandby : new boolean[] {false, true}) {
            var db = TestPostgres.createDatabase(primary, "xmin_src");
            var warehouse = TestPostgres.createDatabase(primary, "xmin_wh");
            db.execute("CREATE TABLE notes (id int PRIMARY KEY, body text)", "INSERT INTO notes SELECT g, 'before' FROM generate_series(1, 10) g");
            try (Connection open = db.connect(); Statement st = open.createStatement()) {
                open.setAutoCommit(false);
                st.execute("INSERT INTO notes SELECT g, 'open' FROM generate_series(101, 120) g");
                // Rows of a subtransaction carry its own id, which no snapshot lists among those in progress.
                st.execute("SAVEPOINT part");
                st.execute("INSERT INTO notes SELECT g, 'open, in a savepoint' FROM generate_series(121, 140) g");
                st.execute("RELEASE SAVEPOINT part");
                // A transaction that starts later and commits: the reader's snapshot then spans the open one.
                db.execute("INSERT INTO notes VALUES (200, 'committed meanwhile')");
                var source = fromStandby ? onStandby(db) : db;
                ok("PostgresIncremental", env(source, warehouse), "--table", "notes", "--sync-mode", "xmin", "--mode", "append");
                assertThat(warehouse.value("SELECT count(*) FROM bronze.notes")).as("read from the standby: " + fromStandby).isEqualTo("11");
                open.commit();
            }
            var source = fromStandby ? onStandby(db) : db;
            ok("PostgresIncremental", env(source, warehouse), "--table", "notes", "--sync-mode", "xmin", "--mode", "append");
            ok("PostgresIncremental", env(source, warehouse), "--table", "notes", "--sync-mode", "xmin", "--mode", "append");

            assertThat(warehouse.rows("SELECT id, body FROM bronze.notes ORDER BY id")).as("read from the standby: " + fromStandby)
                .hasSize(51).isEqualTo(db.rows("SELECT id, body FROM notes ORDER BY id"));
        }
    }

    @Test
    void aRecoveryConflictDuringAnExtractsCopyIsRetriedAndNamed() throws Exception {
        var slow = Slow.create("conflict_copy", "CREATE TABLE items (id int PRIMARY KEY, name text)",
            "INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 100) g");

        var run = slow.runWithOneConflict(slow.env(), "COPY%", "items", "PostgresExtract", "--table", "items", "--where", Slow.WHERE);

        slow.assertRetriedAndLanded(run, "attempt 2 of the load of bronze.items", "items", "id, name");
    }

    @Test
    void aRecoveryConflictWhileAnIncrementalRunPlansIsRetried() throws Exception {
        var slow = Slow.create("conflict_plan", "CREATE TABLE orders (id int PRIMARY KEY, updated_at timestamptz NOT NULL)",
            "INSERT INTO orders SELECT g, timestamptz '2026-01-01' + g * interval '1 minute' FROM generate_series(1, 100) g");

        // The run looks for the highest (updated_at, id) before it copies anything.
        var run = slow.runWithOneConflict(slow.env(), "%_bronze_position_%", "orders", "PostgresIncremental", "--table", "orders",
            "--cursor-field", "updated_at", "--where", Slow.WHERE);

        slow.assertRetriedAndLanded(run, "attempt 2 of the load of bronze.orders", "orders", "id, updated_at");
    }

    @Test
    void aRecoveryConflictThatEndsThePartitionedSnapshotIsRetriedInANewOne() throws Exception {
        var slow = Slow.create("conflict_parts", "CREATE TABLE events (id int, at date NOT NULL) PARTITION BY RANGE (at)",
            "CREATE TABLE events_jan PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2026-02-01')",
            "CREATE TABLE events_feb PARTITION OF events FOR VALUES FROM ('2026-02-01') TO ('2026-03-01')",
            "INSERT INTO events SELECT g, date '2026-01-01' + (g % 59) FROM generate_series(1, 100) g");

        var run = slow.runWithOneConflict(slow.env(), "COPY%", "events", "PostgresPartitioned", "--table", "events", "--parallelism", "1",
            "--where", Slow.WHERE);

        // The conflict ends the exported snapshot's transaction too (it sits idle holding a lock): the part's own retry cannot
        // import it, and the load goes on in a new snapshot.
        slow.assertRetriedAndLanded(run, "attempt 2 of the load of bronze.events", "events", "id, at");
        assertThat(run.err()).contains("terminating connection due to conflict with recovery", "in a new snapshot");
    }

    /**
     * Chunk "6-end" commits in the exported snapshot; then a conflict ends that snapshot while chunk "0-5" is copied, after an UPDATE
     * moved row 1 from block 0 to the last block. Kept, chunk "6-end" would lack row 1's new version, and chunk "0-5" read again in a
     * new snapshot its old one.
     */
    @Test
    void aPartitionedLoadWhoseSnapshotEndedCopiesAgainThePartsItStagedInIt() throws Exception {
        var slow = Slow.create("conflict_chunks", "CREATE TABLE items (id int PRIMARY KEY, pad text)",
            "INSERT INTO items SELECT g, repeat('x', 400) FROM generate_series(1, 230) g", "VACUUM ANALYZE items");
        var run = CompletableFuture.supplyAsync(() -> Datakits.run("PostgresPartitioned", slow.env(), "--table", "items", "--chunks", "2",
            "--parallelism", "1", "--where", Slow.WHERE));
        var replica = new TestDatabase(standby, slow.db().name());
        await("the copy of blocks 0-5", () -> run.isDone() || replica.value("SELECT count(*) > 0 FROM pg_stat_activity WHERE "
            + "application_name = '" + Slow.READER + "' AND state = 'active' AND query LIKE 'COPY%(0,0)%'").equals("t"));
        slow.db().execute("UPDATE items SET pad = repeat('y', 400) WHERE id = 1");
        assertThat(slow.db().value("SELECT (ctid::text::point)[0] >= 6 FROM items WHERE id = 1")).as("row 1 moved to the last chunk").isEqualTo("t");
        slow.db().execute("BEGIN; LOCK TABLE items IN ACCESS EXCLUSIVE MODE; COMMIT");

        var done = run.get(2, TimeUnit.MINUTES);

        slow.assertRetriedAndLanded(done, "attempt 2 of the load of bronze.items", "items", "id, pad");
        assertThat(done.err()).contains("in a new snapshot: the part this run staged in the one that ended is copied again");
        assertThat(slow.warehouse().rows("SELECT details->>'copied', details->>'resumed' FROM bronze.extraction_runs"))
            .containsExactly(List.of("2", "0"));
    }

    @Test
    void aRecoveryConflictPastTheRetriesFailsNamingTheSettingsThatAvoidIt() throws Exception {
        var slow = Slow.create("conflict_fail", "CREATE TABLE items (id int PRIMARY KEY, name text)",
            "INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 100) g");
        var noRetries = new HashMap<>(slow.env("SOURCE_PG_MAX_RETRIES", "0"));
        noRetries.put("WAREHOUSE_PG_MAX_RETRIES", "0");

        var run = slow.runWithOneConflict(noRetries, "COPY%", "items", "PostgresExtract", "--table", "items", "--where", Slow.WHERE);

        Datakits.assertFailsWithOneLine(run, 1, "canceling statement due to conflict with recovery",
            "The hot standby cancelled the read to go on replaying its primary's changes (a recovery conflict), and the source's "
                + "max_retries left no retry.",
            "hot_standby_feedback=on", "max_standby_streaming_delay");
        assertThat(slow.warehouse().value("SELECT status FROM bronze.extraction_runs")).isEqualTo("failed");
    }

    @Test
    void aLaggingStandbyIsDegradedAndEveryRunSaysHowStaleItsReadWas() throws Exception {
        var db = TestPostgres.createDatabase(primary, "lag_src");
        var warehouse = TestPostgres.createDatabase(primary, "lag_wh");
        db.execute("CREATE TABLE items (id int PRIMARY KEY, name text)", "INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 10) g");
        var replica = onStandby(db);
        var env = env(replica, warehouse);
        try {
            replica.execute("SELECT pg_wal_replay_pause()");
            await("replay to pause", () -> replica.value("SELECT pg_get_wal_replay_pause_state()").equals("paused"));
            db.execute("INSERT INTO items SELECT g, 'item ' || g FROM generate_series(11, 15) g");
            String written = db.value("SELECT pg_current_wal_insert_lsn()");
            await("the standby to receive " + written, () -> replica.value("SELECT pg_last_wal_receive_lsn() >= '" + written + "'").equals("t"));

            await("the last replayed transaction to be a second old", () -> replica.value(
                "SELECT clock_timestamp() - pg_last_xact_replay_timestamp() > interval '1 second'").equals("t"));
            var report = health(env, "--replay-lag-warning", "PT1S", "--lag-warning", "0");
            assertThat(report.path("status").asText()).isEqualTo("degraded");
            var src = report.path("source");
            assertThat(src.path("in_recovery").asBoolean()).isTrue();
            assertThat(src.path("standby").path("replay_lag_seconds").asDouble()).isGreaterThan(1);
            assertThat(src.path("standby").path("received_not_replayed_bytes").asLong()).isPositive();
            assertThat(src.path("standby").path("last_replayed_transaction_at").asText()).matches("\\d{4}-\\d\\d-\\d\\dT.*Z");
            assertThat(src.path("capabilities").path("logical_replication").asBoolean()).isFalse();
            assertThat(src.path("capabilities").path("logical_replication_missing").asText())
                .startsWith("a standby decodes changes only from PostgreSQL 16 on, and this one is 15");
            assertThat(report.path("warnings").toString()).contains("is a standby whose last replayed transaction committed")
                .contains("more than --replay-lag-warning PT1S").contains("bytes of WAL received and not yet replayed");
            assertThat(ok("PostgresHealth", env, "--check", "source").out()).contains("standby", "replay_lag_seconds=");

            // Every run says how stale the snapshot it read was: here 10 rows of the primary's 15.
            var extract = ok("PostgresExtract", env, "--table", "items", "--json");
            var incremental = ok("PostgresIncremental", env, "--table", "items", "--cursor-field", "id", "--target-table", "items_inc", "--json");
            var partitioned = ok("PostgresPartitioned", env, "--table", "items", "--chunks", "2", "--target-table", "items_parts", "--json");
            for (var run : List.of(extract, incremental, partitioned)) {
                var summary = JSON.readTree(run.out());
                assertThat(summary.path("rows").asLong()).as(run.toString()).isEqualTo(10);
                assertThat(summary.path("standby").path("replay_lag_seconds").asDouble()).as(run.toString()).isGreaterThan(1);
                assertThat(summary.path("standby").path("received_not_replayed_bytes").asLong()).as(run.toString()).isPositive();
            }
            assertThat(ok("PostgresExtract", env, "--table", "items").out()).containsPattern("  standby    replayed up to \\S+Z \\(\\d+\\.\\d s ago\\); "
                + "[\\d,]+ bytes received and not yet replayed");
            assertThat(warehouse.rows("SELECT stream FROM bronze.extraction_runs WHERE (details->'standby'->>'received_not_replayed_bytes')::bigint > 0 "
                + "ORDER BY 1")).containsExactly(List.of("bronze.items"), List.of("bronze.items"), List.of("bronze.items_inc"), List.of("bronze.items_parts"));
        } finally {
            replica.execute("SELECT pg_wal_replay_resume()");
        }
        waitForReplay();
        assertThat(health(env).path("status").asText()).isEqualTo("healthy");
    }

    /** Why a source is behind: its WAL position is before the one the last run read at. */
    static final String BEHIND_BY_WAL = "the source is behind what the last run read: its WAL position [0-9A-F]+/[0-9A-F]+ is before the "
        + "[0-9A-F]+/[0-9A-F]+ the last run read at";
    static final String NOTHING_LOADED = "\\. Nothing was loaded and the checkpoint is kept; a run on a source that has caught up \\(a "
        + "standby that replayed further, the primary\\) loads the changes";

    /**
     * Run 1 of each stream reads the primary (rows 1-3, row 2 at v2) while a transaction stays open there (every snapshot's xmin
     * stays at it); run 2 reads a standby whose replay is paused before v2 and row 3. Reading it put v1 back over v2 (xmin mode,
     * and cursor mode with --lookback), marked row 3 deleted (--detect-deletes) and moved xmin's checkpoint back, exit 0 without a
     * word in cursor mode: now every mode loads nothing, keeps the checkpoint and says so, and so does its dry run.
     */
    @Test
    void aStandbyBehindWhatTheLastRunReadLoadsNothingInEveryModeAndSaysSo() throws Exception {
        var db = TestPostgres.createDatabase(primary, "behind_src");
        var warehouse = TestPostgres.createDatabase(primary, "behind_wh");
        db.execute("CREATE TABLE notes (id int PRIMARY KEY, body text, at timestamptz NOT NULL DEFAULT clock_timestamp())",
            "CREATE TABLE other (id int)", "INSERT INTO notes VALUES (1, 'base')");
        var replica = new TestDatabase(standby, db.name());
        var streams = new LinkedHashMap<String, List<String>>();
        streams.put("notes_xmin", List.of("--sync-mode", "xmin"));
        streams.put("notes_cursor", List.of("--cursor-field", "at"));
        streams.put("notes_lookback", List.of("--cursor-field", "at", "--lookback", "PT1H", "--on-conflict", "overwrite"));
        String checkpoint = "SELECT cursor_value::text FROM bronze.extraction_checkpoints WHERE stream = 'bronze.%s'";
        try (Connection open = db.connect(); Statement st = open.createStatement()) {
            open.setAutoCommit(false);
            st.execute("INSERT INTO other VALUES (1)");
            db.execute("INSERT INTO notes VALUES (2, 'v1')");
            waitForReplay();
            replica.execute("SELECT pg_wal_replay_pause()");
            await("replay to pause", () -> replica.value("SELECT pg_get_wal_replay_pause_state()").equals("paused"));
            try {
                db.execute("UPDATE notes SET body = 'v2', at = clock_timestamp() WHERE id = 2", "INSERT INTO notes VALUES (3, 'new')");
                for (var stream : streams.entrySet()) {
                    String[] args = incremental(stream.getKey(), stream.getValue(), "--detect-deletes", "--json");
                    ok("PostgresIncremental", env(db, warehouse), args);
                    String afterPrimary = warehouse.value(checkpoint.formatted(stream.getKey()));

                    var plan = JSON.readTree(ok("PostgresIncremental", env(replica, warehouse),
                        incremental(stream.getKey(), stream.getValue(), "--detect-deletes", "--json", "--dry-run")).out());
                    var behind = JSON.readTree(ok("PostgresIncremental", env(replica, warehouse), args).out());

                    assertThat(afterPrimary).as(stream.getKey()).containsPattern("\"source\": \\{\"lsn\": \"[0-9A-F]+/[0-9A-F]+\", "
                        + "\"system_identifier\": \"\\d+\"}");
                    assertThat(plan.path("behind").asText()).as(stream.getKey()).matches(BEHIND_BY_WAL + "\\. The run would load nothing "
                        + "and keep the checkpoint; the source SQL below is what a run on a source that has caught up .*");
                    assertThat(behind.path("behind").asText()).as(stream.getKey()).matches(BEHIND_BY_WAL + NOTHING_LOADED);
                    assertThat(behind.path("rows").asLong()).isZero();
                    assertThat(behind.has("deletes_marked")).isFalse();
                    assertThat(warehouse.value(checkpoint.formatted(stream.getKey()))).isEqualTo(afterPrimary);
                }
                assertThat(ok("PostgresIncremental", env(replica, warehouse), incremental("notes_cursor", streams.get("notes_cursor"),
                    "--dry-run")).out()).containsPattern("\n  behind      " + BEHIND_BY_WAL + "\\. The run would load nothing");

                // Without a position (a checkpoint written before they were kept, a role that may not read them), xmin mode still
                // tells by the snapshot and the transactions the checkpoint read.
                warehouse.execute("UPDATE bronze.extraction_checkpoints SET cursor_value = cursor_value - 'source' "
                    + "WHERE stream = 'bronze.notes_xmin'");
                var byXids = JSON.readTree(ok("PostgresIncremental", env(replica, warehouse), incremental("notes_xmin",
                    streams.get("notes_xmin"), "--json")).out());
                assertThat(byXids.path("behind").asText()).matches("the source is behind what the last run read: its snapshot \\d+:\\d+: "
                    + "is older than the checkpoint's \\d+:\\d+:\\d+" + NOTHING_LOADED);
            } finally {
                replica.execute("SELECT pg_wal_replay_resume()");
            }
            for (String stream : streams.keySet()) {
                assertThat(warehouse.rows("SELECT id, body, _bronze_deleted_at IS NULL FROM bronze." + stream + " ORDER BY id")).as(stream)
                    .isEqualTo(List.of(List.of("1", "base", "t"), List.of("2", "v2", "t"), List.of("3", "new", "t")));
            }
            db.execute("UPDATE notes SET body = 'v3', at = clock_timestamp() WHERE id = 1");
        }
        var caughtUp = onStandby(db);
        for (var stream : streams.entrySet()) {
            ok("PostgresIncremental", env(caughtUp, warehouse), incremental(stream.getKey(), stream.getValue(), "--detect-deletes"));
            assertThat(warehouse.rows("SELECT id, body, _bronze_deleted_at IS NULL FROM bronze." + stream.getKey() + " ORDER BY id"))
                .as(stream.getKey()).isEqualTo(db.rows("SELECT id, body, true FROM notes ORDER BY id"));
        }
    }

    /** postgres-incremental's arguments for public.notes into bronze.{@code target}. */
    static String[] incremental(String target, List<String> mode, String... more) {
        var args = new ArrayList<>(List.of("--table", "notes", "--target-table", target));
        args.addAll(mode);
        args.addAll(List.of(more));
        return args.toArray(String[]::new);
    }

    /**
     * The replay lag is information: a role that may not call pg_last_wal_receive_lsn() (as on managed replicas, which refuse
     * it outright) loads from the primary and from the standby, the lag left unknown with the server's reason. So is the WAL
     * position an incremental checkpoint keeps: a role that may not call pg_control_system() loads, its checkpoint without one.
     */
    @Test
    void aRoleThatMayNotReadTheReplayLagStillLoadsAndHealthOnlyWarns() throws Exception {
        var db = TestPostgres.createDatabase(primary, "lagfn_src");
        var warehouse = TestPostgres.createDatabase(primary, "lagfn_wh");
        db.execute("CREATE TABLE items (id int PRIMARY KEY, name text)", "INSERT INTO items VALUES (1, 'a'), (2, 'b')",
            "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'lag_reader') THEN CREATE ROLE lag_reader LOGIN PASSWORD 'pw'; "
                + "END IF; END $$",
            "GRANT SELECT ON items TO lag_reader", "REVOKE EXECUTE ON FUNCTION pg_catalog.pg_last_wal_receive_lsn() FROM PUBLIC",
            "REVOKE EXECUTE ON FUNCTION pg_catalog.pg_control_system() FROM PUBLIC");
        waitForReplay();
        for (LocalCluster server : List.of(primary, standby)) {
            var env = Map.of("SOURCE_DATABASE_URL", "postgresql://lag_reader:pw@" + server.host() + ":" + server.port() + "/" + db.name(),
                "WAREHOUSE_DATABASE_URL", warehouse.url());

            var summary = JSON.readTree(ok("PostgresExtract", env, "--table", "items", "--json").out());
            var report = health(env);
            var incremental = ok("PostgresIncremental", env, "--table", "items", "--cursor-field", "id", "--target-table", "items_inc");

            assertThat(summary.path("rows").asLong()).isEqualTo(2);
            assertThat(incremental.err()).doesNotContain("WARNING");
            assertThat(warehouse.value("SELECT cursor_value->'source' IS NULL FROM bronze.extraction_checkpoints")).isEqualTo("t");
            if (server == primary) {
                assertThat(summary.has("standby")).isFalse();
                assertThat(report.path("status").asText()).isEqualTo("healthy");
                continue;
            }
            assertThat(summary.path("standby").path("received_not_replayed_bytes").isNull()).isTrue();
            assertThat(summary.path("standby").path("lag_unknown").asText()).isEqualTo("permission denied for function pg_last_wal_receive_lsn");
            assertThat(summary.path("standby").path("last_replayed_transaction_at").asText()).matches("\\d{4}-.*Z");
            assertThat(report.path("status").asText()).isEqualTo("degraded");
            assertThat(report.path("warnings").toString()).contains("is a standby whose replay lag cannot be read (permission denied for "
                + "function pg_last_wal_receive_lsn)");
        }
    }

    /** postgres-health --check source --json, which exits 0 when healthy or degraded. */
    static JsonNode health(Map<String, String> env, String... args) throws Exception {
        var all = new ArrayList<>(List.of("--check", "source", "--json"));
        all.addAll(List.of(args));
        return JSON.readTree(ok("PostgresHealth", env, all.toArray(String[]::new)).out());
    }
}
