package datakit.reliability;

import static org.assertj.core.api.Assertions.assertThat;

import datakit.sandbox.LocalCluster;
import datakit.sandbox.PostgresSandbox;
import datakit.testing.Datakits;
import datakit.testing.SourceAndWarehouse;
import datakit.testing.TestDatabase;
import datakit.testing.TestPostgres;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Faults of the source and the warehouse during a run: a server restarted mid-COPY is waited for and
 * the load retried (the transaction is all or nothing, so retrying is safe); a statement timeout is not
 * retried (it would time out again) but recorded as a failed run, and the next run completes; a reader
 * that holds a bronze table delays a replace, which neither waits forever nor blocks other readers.
 * Restarts use a private server of this class, so the other tests' server stays up.
 */
class FaultsIT {
    static LocalCluster server;

    @BeforeAll
    static void startPrivateServer() {
        server = PostgresSandbox.startLocal(System.err::println);
    }

    @AfterAll
    static void stopPrivateServer() {
        server.close();
    }

    /** 400,000 rows of 256 characters: a COPY long enough for a fault to land in it. */
    static final String[] BIG_TABLE = {"CREATE TABLE public.big (id bigint PRIMARY KEY, payload text)",
        "INSERT INTO public.big SELECT g, repeat(md5(g::text), 8) FROM generate_series(1, 400000) g"};

    static TestDatabase bigTable(TestDatabase database) {
        database.execute(BIG_TABLE);
        return database;
    }

    /** bronze.big loaded once, and ten source rows changed since: the next replace has a new table to swap in. */
    static SourceAndWarehouse loadedOnceThenChanged(String prefix) {
        var db = SourceAndWarehouse.create(prefix, BIG_TABLE);
        assertThat(Datakits.run("PostgresExtract", db.env(), "--table", "big").exitCode()).isZero();
        db.source().execute("UPDATE public.big SET payload = 'second load' WHERE id <= 10");
        return db;
    }

    /** A warehouse transaction that has read bronze.big, so it holds a lock on it until it ends. */
    static Connection readerOfBig(TestDatabase warehouse) throws SQLException {
        Connection reader = warehouse.connect();
        reader.setAutoCommit(false);
        reader.createStatement().execute("SELECT count(*) FROM bronze.big");
        return reader;
    }

    /** Runs postgres-extract of public.big and restarts the private server once its COPY runs on {@code watched}. */
    static Datakits.Run extractAndRestart(Map<String, String> env, TestDatabase watched, String... args) throws Exception {
        var run = CompletableFuture.supplyAsync(() -> Datakits.run("PostgresExtract", env, args));
        awaitCopy(watched, run);
        server.restart(List.of());
        return run.get(3, TimeUnit.MINUTES);
    }

    static void awaitCopy(TestDatabase database, CompletableFuture<?> run) throws InterruptedException {
        for (int i = 0; i < 1000 && !run.isDone(); i++) {
            if (!database.value("SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'COPY%' AND state = 'active' "
                    + "AND datname = current_database() AND pid <> pg_backend_pid()").equals("0")) {
                return;
            }
            Thread.sleep(10);
        }
        throw new AssertionError("no COPY started before the run ended");
    }

    @Test
    void aSourceServerRestartedMidCopyIsWaitedForAndTheLoadLandsOnce() throws Exception {
        TestDatabase source = bigTable(TestPostgres.createDatabase(server, "restart_src"));
        TestDatabase warehouse = TestPostgres.createDatabase("restart_wh");

        var run = extractAndRestart(new SourceAndWarehouse(source, warehouse).env(),
            source, "--table", "big", "--mode", "append");

        assertThat(run.exitCode()).as(run.toString()).isZero();
        assertThat(run.err()).contains("attempt 2 of the load of bronze.big");
        assertThat(warehouse.rows("SELECT count(*), count(DISTINCT id) FROM bronze.big")).containsExactly(List.of("400000", "400000"));
        assertThat(warehouse.rows("SELECT status FROM bronze.extraction_runs")).containsExactly(List.of("succeeded"));
    }

    @Test
    void aWarehouseRestartedMidCopyIsWaitedForAndTheLoadLandsOnce() throws Exception {
        TestDatabase source = bigTable(TestPostgres.createDatabase("restart2_src"));
        TestDatabase warehouse = TestPostgres.createDatabase(server, "restart2_wh");

        var run = extractAndRestart(new SourceAndWarehouse(source, warehouse).env(),
            warehouse, "--table", "big");

        assertThat(run.exitCode()).as(run.toString()).isZero();
        assertThat(run.err()).contains("attempt 2 of the load of bronze.big");
        assertThat(warehouse.rows("SELECT count(*), count(DISTINCT id) FROM bronze.big")).containsExactly(List.of("400000", "400000"));
        assertThat(warehouse.value("SELECT count(*) FROM pg_tables WHERE tablename LIKE '\\_bronze\\_staging%'")).isEqualTo("0");
        assertThat(warehouse.rows("SELECT status FROM bronze.extraction_runs")).containsExactly(List.of("succeeded"));
    }

    @Test
    void aStatementTimeoutFailsTheRunOnceAndTheNextRunCompletes() {
        var db = SourceAndWarehouse.create("timeout", BIG_TABLE);
        TestDatabase source = db.source();
        TestDatabase warehouse = db.warehouse();
        source.execute("CREATE TABLE public.events (id bigint PRIMARY KEY, changed_at timestamptz NOT NULL)",
            "INSERT INTO public.events SELECT g, timestamptz '2026-01-01' + g * interval '1 s' FROM generate_series(1, 1000) g");
        var env = db.env();
        var impatient = Map.of("SOURCE_DATABASE_URL", source.url() + "?statement_timeout=300", "WAREHOUSE_DATABASE_URL", warehouse.url());

        var timedOut = Datakits.run("PostgresExtract", impatient, "--table", "big");

        assertThat(timedOut.exitCode()).as(timedOut.toString()).isEqualTo(1);
        assertThat(timedOut.err().strip()).as(timedOut.toString()).startsWith("ERROR: ").doesNotContain("\n")
            .contains("Copying public.big into bronze.big failed", "canceling statement due to statement timeout", "Not retried", "raise statement_timeout");
        assertThat(warehouse.rows("SELECT status, error LIKE '%statement timeout%' FROM bronze.extraction_runs"))
            .containsExactly(List.of("failed", "t"));
        assertThat(warehouse.value("SELECT to_regclass('bronze.big') IS NULL")).as("nothing half-loaded").isEqualTo("t");

        var next = Datakits.run("PostgresExtract", env, "--table", "big");
        assertThat(next.exitCode()).as(next.toString()).isZero();
        assertThat(warehouse.count("bronze.big")).isEqualTo(400000);
    }

    @Test
    void aReaderHoldingTheBronzeTableDelaysTheReplaceWithoutBlockingOtherReaders() throws Exception {
        var db = loadedOnceThenChanged("lock");
        TestDatabase warehouse = db.warehouse();
        var env = db.env();

        CompletableFuture<Datakits.Run> replace;
        try (Connection reader = readerOfBig(warehouse)) {
            replace = CompletableFuture.supplyAsync(() -> Datakits.run("PostgresExtract", env, "--table", "big"));
            awaitLockWait(warehouse, replace);
            for (int second = 0; second < 5; second++) {
                long started = System.nanoTime();
                assertThat(warehouse.value("SELECT payload FROM bronze.big WHERE id = 1")).as("a new reader is served the old table")
                    .isNotEqualTo("second load");
                assertThat((System.nanoTime() - started) / 1_000_000).as("a new reader waits a second at most").isLessThan(1500);
                Thread.sleep(1000);
            }
            assertThat(replace).as("the replace waits for the reader").isNotDone();
            reader.commit();
        }
        var run = replace.get(2, TimeUnit.MINUTES);

        assertThat(run.exitCode()).as(run.toString()).isZero();
        assertThat(warehouse.value("SELECT count(*) FROM bronze.big WHERE payload = 'second load'")).isEqualTo("10");
    }

    @Test
    void aReaderThatNeverLetsGoFailsTheReplaceAfterAMinuteWithNothingChanged() throws Exception {
        var db = loadedOnceThenChanged("lock2");
        TestDatabase warehouse = db.warehouse();

        Datakits.Run run;
        try (Connection reader = readerOfBig(warehouse)) {
            run = Datakits.run("PostgresExtract", db.env(), "--table", "big");
            reader.commit();
        }

        assertThat(run.exitCode()).as(run.toString()).isEqualTo(1);
        assertThat(run.err().strip()).startsWith("ERROR: ").doesNotContain("\n")
            .contains("Waited 60 s for other sessions to let go of bronze.big", "nothing was changed");
        assertThat(warehouse.value("SELECT count(*) FROM bronze.big WHERE payload = 'second load'")).isEqualTo("0");
        assertThat(warehouse.rows("SELECT status FROM bronze.extraction_runs ORDER BY started_at"))
            .containsExactly(List.of("succeeded"), List.of("failed"));
        assertThat(warehouse.value("SELECT count(*) FROM pg_tables WHERE tablename LIKE '\\_bronze\\_staging%'")).isEqualTo("0");
    }

    /**
     * The replication connection is not retried inside a run: the run fails, recorded as failed, and
     * the next one (a scheduler's restart) resumes at the checkpoint, so no change is lost or repeated.
     * After the crash the slot may restart before the checkpoint; the transactions sent again are skipped.
     */
    @Test
    void aCdcRunThatLosesItsSourceFailsCleanlyAndTheNextRunResumesExactly() throws Exception {
        TestDatabase source = TestPostgres.createDatabase(server, "cdcfault_src");
        TestDatabase warehouse = TestPostgres.createDatabase("cdcfault_wh");
        source.execute("CREATE TABLE public.items (id bigint PRIMARY KEY, payload text)");
        String slot = "fault_" + source.name();
        var env = new SourceAndWarehouse(source, warehouse).env();
        String[] args = {"--table", "public.items", "--slot", slot, "--apply"};
        assertThat(Datakits.run("PostgresCdc", env, args).exitCode()).isZero();

        // 200 transactions of 2,000 rows: the run commits batch after batch, and the faults land between them.
        source.execute("""
            CREATE PROCEDURE insert_items(first bigint, last bigint) LANGUAGE plpgsql AS $$
            BEGIN
              FOR start IN first..last BY 2000 LOOP
                INSERT INTO public.items SELECT g, repeat(md5(g::text), 4) FROM generate_series(start, start + 1999) g;
                COMMIT;
              END LOOP;
            END $$""", "CALL insert_items(1, 400000)");
        var terminated = CompletableFuture.supplyAsync(() -> Datakits.run("PostgresCdc", env, args));
        awaitCommittedChanges(warehouse, terminated, 0);
        source.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_replication");
        var first = terminated.get(2, TimeUnit.MINUTES);
        long before = warehouse.count("bronze.items__changes");
        var restarted = CompletableFuture.supplyAsync(() -> Datakits.run("PostgresCdc", env, args));
        awaitCommittedChanges(warehouse, restarted, before);
        // A fast shutdown would let the walsender send everything first: a crash does not.
        server.crashAndRestart();

        for (var run : List.of(first, restarted.get(2, TimeUnit.MINUTES))) {
            assertThat(run.exitCode()).as(run.toString()).isEqualTo(1);
            assertThat(run.err().strip()).as(run.toString()).startsWith("ERROR: Capturing the changes of slot " + slot + " failed: ")
                .doesNotContain("\n");
        }
        var resumed = Datakits.run("PostgresCdc", env, args);
        assertThat(resumed.exitCode()).as(resumed.toString()).isZero();
        assertThat(warehouse.rows("SELECT count(*), count(DISTINCT id) FROM bronze.items__changes")).containsExactly(List.of("400000", "400000"));
        assertThat(warehouse.count("bronze.items")).isEqualTo(400000);
        assertThat(warehouse.rows("SELECT status FROM bronze.extraction_runs ORDER BY started_at"))
            .containsExactly(List.of("succeeded"), List.of("failed"), List.of("failed"), List.of("succeeded"));
        source.execute("SELECT pg_drop_replication_slot('" + slot + "')");
    }

    /** Waits until the run's swap is queued for a lock on bronze.big, which a reader holds. */
    static void awaitLockWait(TestDatabase warehouse, CompletableFuture<?> run) throws InterruptedException {
        for (int i = 0; i < 6000 && !run.isDone(); i++) {
            if (warehouse.value("SELECT count(*) FROM pg_locks WHERE relation = 'bronze.big'::regclass AND NOT granted").equals("1")) {
                return;
            }
            Thread.sleep(10);
        }
        throw new AssertionError("the replace never waited for the reader's lock");
    }

    /** Waits until the run has committed changes beyond {@code committed}, so a fault hits it mid-stream. */
    static void awaitCommittedChanges(TestDatabase warehouse, CompletableFuture<?> run, long committed) throws InterruptedException {
        for (int i = 0; i < 3000 && !run.isDone(); i++) {
            if (warehouse.value("SELECT to_regclass('bronze.items__changes') IS NOT NULL").equals("t")
                && warehouse.count("bronze.items__changes") > committed) {
                return;
            }
            Thread.sleep(5);
        }
        throw new AssertionError("the CDC run ended before the fault");
    }
}
