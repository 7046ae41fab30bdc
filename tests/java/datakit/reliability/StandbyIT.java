package datakit.reliability;

import static org.assertj.core.api.Assertions.assertThat;

import datakit.sandbox.LocalCluster;
import datakit.sandbox.PostgresSandbox;
import datakit.testing.Datakits;
import datakit.testing.TestDatabase;
import datakit.testing.TestPostgres;
import java.sql.Connection;
import java.sql.Statement;
import java.util.Map;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The datakits reading a real hot standby (pg_basebackup -R, streaming) of a primary they share for the
 * class: xmin mode, recovery conflicts, replay lag in health and in run summaries.
 */
class StandbyIT {
    static LocalCluster primary;
    static LocalCluster standby;

    @BeforeAll
    static void startPrimaryAndStandby() {
        primary = PostgresSandbox.startLocal(System.err::println);
        standby = primary.startStandby();
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
}
