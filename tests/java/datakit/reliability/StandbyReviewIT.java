package datakit.reliability;

import static org.assertj.core.api.Assertions.assertThat;

import datakit.sandbox.LocalCluster;
import datakit.sandbox.PostgresSandbox;
import datakit.testing.Datakits;
import datakit.testing.TestDatabase;
import datakit.testing.TestPostgres;
import java.sql.Connection;
import java.sql.Statement;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.Map;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Reviewer's probes of the hot-standby merge (1516675); each fails on it: an xmin run on a lagging standby puts
 * older versions back, a partitioned retry in a new snapshot loses a row that moved between block chunks, and a
 * source role that cannot call pg_last_wal_receive_lsn() (as on Aurora readers) can no longer load anything.
 */
class StandbyReviewIT {
    static LocalCluster primary;
    static LocalCluster standby;

    @BeforeAll
    static void start() {
        primary = PostgresSandbox.startLocal(System.err::println);
        standby = primary.startStandby();
        standby.restart(List.of("max_standby_streaming_delay=10ms"));
    }

    @AfterAll
    static void stop() {
        if (standby != null) {
            standby.close();
        }
        if (primary != null) {
            primary.close();
        }
    }

    static void waitForReplay() {
        var admin = new TestDatabase(primary, "postgres");
        String lsn = admin.value("SELECT pg_current_wal_insert_lsn()");
        var replica = new TestDatabase(standby, "postgres");
        await("replay to " + lsn, () -> replica.value("SELECT pg_last_wal_replay_lsn() >= '" + lsn + "'").equals("t"));
    }

    static void await(String what, BooleanSupplier condition) {
        StandbyIT.await(what, condition);
    }

    static Map<String, String> env(TestDatabase source, TestDatabase warehouse) {
        return Map.of("SOURCE_DATABASE_URL", source.url(), "WAREHOUSE_DATABASE_URL", warehouse.url());
    }

    static Datakits.Run ok(String datakit, Map<String, String> env, String... args) {
        var run = Datakits.run(datakit, env, args);
        assertThat(run.exitCode()).as(run.toString()).isZero();
        return run;
    }

    /**
     * Run 1 reads the primary while a transaction is open there; run 2 reads a standby whose replay is paused
     * before an UPDATE that run 1 already loaded. Merge mode: bronze must not go back to the older version.
     */
    @Test
    void xminMergeFromALaggingStandbyAfterThePrimaryDoesNotPutOlderVersionsBack() throws Exception {
        var db = TestPostgres.createDatabase(primary, "lagxmin_src");
        var warehouse = TestPostgres.createDatabase(primary, "lagxmin_wh");
        db.execute("CREATE TABLE notes (id int PRIMARY KEY, body text)", "CREATE TABLE other (id int)",
            "INSERT INTO notes VALUES (1, 'base')");
        var replica = new TestDatabase(standby, db.name());
        try (Connection open = db.connect(); Statement st = open.createStatement()) {
            open.setAutoCommit(false);
            st.execute("INSERT INTO other VALUES (1)"); // holds an xid: every snapshot's xmin stays here
            db.execute("INSERT INTO notes VALUES (2, 'v1')");
            waitForReplay();
            replica.execute("SELECT pg_wal_replay_pause()");
            await("pause", () -> replica.value("SELECT pg_get_wal_replay_pause_state()").equals("paused"));
            try {
                db.execute("UPDATE notes SET body = 'v2' WHERE id = 2");
                ok("PostgresIncremental", env(db, warehouse), "--table", "notes", "--sync-mode", "xmin");
                assertThat(warehouse.rows("SELECT id, body FROM bronze.notes ORDER BY id")).isEqualTo(db.rows("SELECT id, body FROM notes ORDER BY id"));
                System.err.println("checkpoint after run 1: " + warehouse.value("SELECT cursor_value::text FROM bronze.extraction_checkpoints"));

                var run2 = ok("PostgresIncremental", env(replica, warehouse), "--table", "notes", "--sync-mode", "xmin");
                System.err.println("run 2 (standby, paused): " + run2.err() + run2.out());
                System.err.println("checkpoint after run 2: " + warehouse.value("SELECT cursor_value::text FROM bronze.extraction_checkpoints"));
                assertThat(warehouse.rows("SELECT id, body FROM bronze.notes ORDER BY id")).as("bronze after a run on the lagging standby")
                    .isEqualTo(db.rows("SELECT id, body FROM notes ORDER BY id"));
            } finally {
                replica.execute("SELECT pg_wal_replay_resume()");
                open.rollback();
            }
        }
    }

    /**
     * The replay lag is informative; a source role that may not call one of the WAL functions it reads
     * (as on Aurora readers, where pg_last_wal_receive_lsn() raises "not supported") must still load.
     */
    @Test
    void aRoleThatCannotReadTheReplayLagStillLoads() {
        var db = TestPostgres.createDatabase(primary, "lagfn_src");
        var warehouse = TestPostgres.createDatabase(primary, "lagfn_wh");
        db.execute("CREATE TABLE items (id int PRIMARY KEY, name text)", "INSERT INTO items VALUES (1, 'a'), (2, 'b')",
            "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'lag_reader') THEN CREATE ROLE lag_reader LOGIN PASSWORD 'pw'; END IF; END $$",
            "GRANT SELECT ON items TO lag_reader",
            "REVOKE EXECUTE ON FUNCTION pg_catalog.pg_last_wal_receive_lsn() FROM PUBLIC");
        String url = "postgresql://lag_reader:pw@" + primary.host() + ":" + primary.port() + "/" + db.name();
        var env = Map.of("SOURCE_DATABASE_URL", url, "WAREHOUSE_DATABASE_URL", warehouse.url());
        var extract = Datakits.run("PostgresExtract", env, "--table", "items");
        System.err.println("extract: " + extract);
        var health = Datakits.run("PostgresHealth", env, "--check", "source", "--json");
        System.err.println("health: " + health);
        assertThat(extract.exitCode()).as(extract.toString()).isZero();
        assertThat(health.exitCode()).as(health.toString()).isZero();
    }

    /**
     * A block-chunked partitioned load from the standby: chunk "6-end" commits in snapshot A, then a recovery conflict
     * ends A while chunk "0-5" is copied. Meanwhile an UPDATE moved row 1 from block 0 to the last block. The retry
     * re-reads chunk "0-5" in snapshot B, keeping "6-end" from A: row 1 is in neither.
     */
    @Test
    void aPartitionedRetryInANewSnapshotKeepsEveryRowOfABlockChunkedTable() throws Exception {
        var db = TestPostgres.createDatabase(primary, "chunks_src");
        var warehouse = TestPostgres.createDatabase(primary, "chunks_wh");
        db.execute("CREATE TABLE items (id int PRIMARY KEY, pad text)",
            "INSERT INTO items SELECT g, repeat('x', 400) FROM generate_series(1, 230) g", "VACUUM ANALYZE items");
        System.err.println("blocks: " + db.value("SELECT pg_relation_size('items') / 8192") + ", row 1 at "
            + db.value("SELECT ctid FROM items WHERE id = 1"));
        waitForReplay();
        String reader = "chunk-reader";
        var replica = new TestDatabase(standby, db.name());
        var env = Map.of("SOURCE_DATABASE_URL", replica.url() + "?application_name=" + reader, "WAREHOUSE_DATABASE_URL", warehouse.url());
        var run = CompletableFuture.supplyAsync(() -> Datakits.run("PostgresPartitioned", env, "--table", "items", "--chunks", "2",
            "--parallelism", "1", "--where", "pg_sleep(0.01) IS NOT NULL"));
        await("the copy of blocks 0-5", () -> run.isDone() || replica.value("SELECT count(*) > 0 FROM pg_stat_activity WHERE application_name = '"
            + reader + "' AND state = 'active' AND query LIKE 'COPY%(0,0)%'").equals("t"));
        assertThat(run.isDone()).as("still reading").isFalse();
        db.execute("UPDATE items SET pad = repeat('y', 400) WHERE id = 1");
        System.err.println("row 1 now at " + db.value("SELECT ctid FROM items WHERE id = 1") + ", blocks: "
            + db.value("SELECT pg_relation_size('items') / 8192"));
        db.execute("BEGIN; LOCK TABLE items IN ACCESS EXCLUSIVE MODE; COMMIT");
        var done = run.get(2, TimeUnit.MINUTES);
        System.err.println("partitioned: " + done);
        assertThat(done.exitCode()).as(done.toString()).isZero();
        var missing = new java.util.ArrayList<>(db.rows("SELECT id FROM items ORDER BY id"));
        missing.removeAll(warehouse.rows("SELECT id FROM bronze.items"));
        assertThat(missing).as("source ids missing from bronze after a run that exited 0").isEmpty();
        assertThat(warehouse.value("SELECT count(*) FROM bronze.items")).isEqualTo(db.value("SELECT count(*) FROM items"));
    }
}
