package datakit.reliability;

import static org.assertj.core.api.Assertions.assertThat;

import datakit.testing.Datakits;
import datakit.testing.SourceAndWarehouse;
import datakit.testing.TestDatabase;
import java.sql.Connection;
import java.sql.Statement;
import java.util.HashMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Reviewer's probes of the wt-pooler change (settings per transaction, transaction-level stream locks). */
class PoolerReviewProbeIT {
    private static final String SOURCE_SQL = """
        CREATE TABLE public.orders (id int PRIMARY KEY, status text NOT NULL, updated_at timestamptz NOT NULL);
        INSERT INTO public.orders SELECT g, 'status ' || g, timestamptz '2026-01-01' + g * interval '1 minute'
            FROM generate_series(1, 3000) g;
        """;

    /**
     * The lock's connection dies while the run goes on (an admin's pg_terminate_backend, PgBouncer's
     * idle_transaction_timeout, a network blip on that one connection): the run does not notice, and a second
     * run of the same stream is let in while the first is still loading.
     */
    @Test
    void aRunThatLostItsLockConnectionGoesOnAndASecondRunGetsIn() throws Exception {
        var db = SourceAndWarehouse.create("probe_lostlock", SOURCE_SQL);
        String[] slowRun = {"--table", "public.orders", "--cursor-field", "updated_at", "--target-table", "orders_inc",
            "--chunk-rows", "500", "--where", "pg_sleep(0.003) IS NOT NULL"};
        Process first = Datakits.start("PostgresIncremental", db.env(), slowRun);
        try {
            await(db.warehouse(), "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted", "1", first);
            await(db.source(), "SELECT count(*) > 0 FROM pg_stat_activity WHERE datname = current_database() AND state = 'active' "
                + "AND query LIKE '%pg_sleep(0.003)%' AND pid <> pg_backend_pid()", "t", first);
            assertThat(db.warehouse().value("SELECT bool_and(pg_terminate_backend(pid)) FROM pg_locks WHERE locktype = 'advisory' "
                + "AND granted")).isEqualTo("t");
            Thread.sleep(500);
            assertThat(first.isAlive()).as("the first run goes on without its lock").isTrue();
            var second = Datakits.run("PostgresIncremental", db.env(), slowRun);
            String firstOutcome = first.waitFor(3, TimeUnit.MINUTES) ? "exit " + first.exitValue() : "still running";
            System.err.println("PROBE first run: " + firstOutcome + "\nPROBE second run: " + second
                + "\nPROBE runs: " + db.warehouse().rows("SELECT run_id, status, rows_loaded, error FROM bronze.extraction_runs ORDER BY started_at"));
            Datakits.assertFailsWithOneLine(second, 3, "Another run of bronze.orders_inc is in progress");
        } finally {
            first.destroyForcibly();
            first.waitFor(30, TimeUnit.SECONDS);
        }
    }

    /**
     * WAREHOUSE_PG_STATEMENT_TIMEOUT (and every other warehouse option) held for every statement while it
     * travelled in the options startup parameter; postgres-cdc's change batches now run in transactions that
     * never begin with the settings, so a batch blocked by a lock waits as long as the lock is held.
     */
    @Test
    void cdcChangeBatchesHonourTheWarehouseStatementTimeout() throws Exception {
        var db = SourceAndWarehouse.create("probe_cdctimeout", SOURCE_SQL);
        String slot = "probe_" + db.source().name().replaceAll("[^a-z0-9_]", "_");
        String[] args = {"--table", "public.orders", "--slot", slot};
        try {
            var created = Datakits.run("PostgresCdc", db.env(), args);
            assertThat(created.exitCode()).as(created.toString()).isZero();
            db.source().execute("UPDATE public.orders SET status = 'first change' WHERE id <= 10");
            var changed = Datakits.run("PostgresCdc", db.env(), args); // makes the change table, whichever version
            assertThat(changed.exitCode()).as(changed.toString()).isZero();
            db.source().execute("UPDATE public.orders SET status = 'changed' WHERE id <= 10");
            var env = new HashMap<>(db.env());
            env.put("WAREHOUSE_PG_STATEMENT_TIMEOUT", "1s");
            env.put("WAREHOUSE_PG_MAX_RETRIES", "0");
            var holder = CompletableFuture.runAsync(() -> holdLock(db.warehouse(), "bronze.orders__changes", 8_000));
            await(db.warehouse(), "SELECT count(*) FROM pg_locks WHERE locktype = 'relation' AND mode = 'AccessExclusiveLock' "
                + "AND relation = 'bronze.orders__changes'::regclass", "1", null);
            long started = System.nanoTime();
            var run = Datakits.run("PostgresCdc", env, args);
            long ms = (System.nanoTime() - started) / 1_000_000;
            holder.get(1, TimeUnit.MINUTES);
            System.err.println("PROBE cdc run took " + ms + " ms: " + run);
            Datakits.assertFailsWithOneLine(run, 1, "canceling statement due to statement timeout");
        } finally {
            db.source().execute("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '" + slot
                + "' AND NOT active");
        }
    }

    /**
     * A warehouse role in the options ({@code -c role=owner}, the usual way to have a group role own what a
     * login creates) held for the whole session, Flyway's migrations included, while it travelled at connection
     * start. Now the migrations run as the login role and the loads as the role in the options.
     */
    @Test
    void aRoleInTheWarehouseOptionsOwnsWhatTheRunsCreate() {
        var db = SourceAndWarehouse.create("probe_role", SOURCE_SQL);
        String owner = "owner_" + db.warehouse().name();
        String login = "login_" + db.warehouse().name();
        db.warehouse().execute("CREATE ROLE " + owner + " NOLOGIN", "CREATE ROLE " + login + " LOGIN PASSWORD 'pw' IN ROLE " + owner,
            "GRANT CREATE ON DATABASE \"" + db.warehouse().name() + "\" TO " + owner);
        try {
            var env = new HashMap<>(db.env());
            env.put("WAREHOUSE_DATABASE_URL", db.warehouse().url().replaceFirst("//[^@]*@", "//" + login + ":pw@"));
            env.put("WAREHOUSE_PG_OPTIONS", "-c role=" + owner);
            var run = Datakits.run("PostgresExtract", env, "--table", "public.orders");
            System.err.println("PROBE role run: " + run + "\nPROBE owners: " + db.warehouse().rows("SELECT n.nspname, "
                + "pg_get_userbyid(n.nspowner) FROM pg_namespace n WHERE nspname = 'bronze' UNION ALL SELECT c.relname, "
                + "pg_get_userbyid(c.relowner) FROM pg_class c WHERE c.relnamespace = 'bronze'::regnamespace AND c.relkind = 'r'"));
            assertThat(run.exitCode()).as(run.toString()).isZero();
            assertThat(db.warehouse().value("SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = 'bronze'")).isEqualTo(owner);
        } finally {
            db.warehouse().execute("DROP SCHEMA IF EXISTS bronze CASCADE", "DROP OWNED BY " + login + ", " + owner,
                "DROP ROLE " + login, "DROP ROLE " + owner);
        }
    }

    private static void holdLock(TestDatabase database, String table, long millis) {
        try (Connection c = database.connect(); Statement st = c.createStatement()) {
            c.setAutoCommit(false);
            st.execute("LOCK TABLE " + table + " IN ACCESS EXCLUSIVE MODE");
            Thread.sleep(millis);
            c.commit();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private static void await(TestDatabase database, String query, String expected, Process process) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!database.value(query).equals(expected)) {
            assertThat(process == null || process.isAlive()).as("the run is still going").isTrue();
            assertThat(System.nanoTime()).as("waited 30 s for " + query).isLessThan(deadline);
            Thread.sleep(20);
        }
    }
}
