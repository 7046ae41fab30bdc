package datakit.reliability;

import static org.assertj.core.api.Assertions.assertThat;

import datakit.sandbox.LocalCluster;
import datakit.sandbox.PostgresSandbox;
import datakit.testing.Datakits;
import datakit.testing.SourceAndWarehouse;
import datakit.testing.TestDatabase;
import datakit.testing.TestPostgres;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
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
     * public.items on the private server (with a procedure that inserts rows 2,000 to a transaction),
     * captured once with --apply into a warehouse on the shared server.
     */
    record CapturedItems(TestDatabase source, TestDatabase warehouse, String slot) {
        static CapturedItems create(String prefix) {
            TestDatabase source = TestPostgres.createDatabase(server, prefix + "_src");
            source.execute("CREATE TABLE public.items (id bigint PRIMARY KEY, payload text)", """
                CREATE PROCEDURE insert_items(first bigint, last bigint) LANGUAGE plpgsql AS $$
                BEGIN
                  FOR start IN first..last BY 2000 LOOP
                    INSERT INTO public.items SELECT g, repeat(md5(g::text), 4) FROM generate_series(start, least(start + 1999, last)) g;
                    COMMIT;
                  END LOOP;
                END $$""");
            var items = new CapturedItems(source, TestPostgres.createDatabase(prefix + "_wh"), prefix + "_" + source.name());
            assertThat(items.run().exitCode()).isZero();
            return items;
        }

        Map<String, String> env() {
            return new SourceAndWarehouse(source, warehouse).env();
        }

        String[] args(String... more) {
            var args = new ArrayList<>(List.of("--table", "public.items", "--slot", slot, "--apply"));
            args.addAll(List.of(more));
            return args.toArray(String[]::new);
        }

        Datakits.Run run() {
            return Datakits.run("PostgresCdc", env(), args());
        }

        /** Ends the walsender that streams this slot. */
        void terminateWalsender() {
            source.execute("SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = '" + slot + "'");
        }

        void assertEveryRowOnce(long rows) {
            assertThat(warehouse.rows("SELECT count(*), count(DISTINCT id) FROM bronze.items__changes"))
                .containsExactly(List.of(String.valueOf(rows), String.valueOf(rows)));
            assertThat(warehouse.count("bronze.items")).isEqualTo(rows);
        }
    }

    /**
     * A bounded run takes its lost replication connection up again within the retry policy and completes,
     * through a terminated walsender and through a crashed source: every change lands once. After the
     * crash the slot may restart before the checkpoint; the transactions sent again are skipped.
     */
    @Test
    void aBoundedCdcRunReconnectsThroughAWalsenderKillAndACrashAndLandsEveryChangeOnce() throws Exception {
        var items = CapturedItems.create("cdcfault");
        // 100 transactions of 2,000 rows before each run: it commits batch after batch, and the fault lands between them.
        items.source().execute("CALL insert_items(1, 200000)");
        var terminated = CompletableFuture.supplyAsync(items::run);
        awaitCommittedChanges(items.warehouse(), terminated, 0);
        items.terminateWalsender();
        var first = terminated.get(2, TimeUnit.MINUTES);

        items.source().execute("CALL insert_items(200001, 400000)");
        long before = items.warehouse().count("bronze.items__changes");
        var crashed = CompletableFuture.supplyAsync(items::run);
        awaitCommittedChanges(items.warehouse(), crashed, before);
        // A fast shutdown would let the walsender send everything first: a crash does not.
        server.crashAndRestart();
        var second = crashed.get(2, TimeUnit.MINUTES);

        for (var run : List.of(first, second)) {
            assertThat(run.exitCode()).as(run.toString()).isZero();
            assertThat(run.err()).as(run.toString()).contains("WARNING: attempt 2 of streaming slot " + items.slot() + " in 1 s, after "
                + "the replication connection to the source was lost (", "WARNING: reconnected to the source: streaming slot " + items.slot()
                + " from ");
            assertThat(run.out()).contains("reconnects");
        }
        items.assertEveryRowOnce(400000);
        assertThat(items.warehouse().rows("SELECT status FROM bronze.extraction_runs ORDER BY started_at"))
            .containsExactly(List.of("succeeded"), List.of("succeeded"), List.of("succeeded"));
        items.source().dropReplicationSlots(items.slot());
    }

    /**
     * A run that cannot get its connection back gives up after the retry policy's reconnections (1, 2 and
     * 4 s apart): exit 1, one ERROR line, recorded failed, what it committed kept. The next run resumes there.
     */
    @Test
    void aBoundedCdcRunThatCannotReconnectGivesUpWithOneLineAndTheNextRunResumes() throws Exception {
        var items = CapturedItems.create("cdcgiveup");
        TestDatabase source = items.source();
        String role = "cdc_limited_" + source.name();
        source.execute("CREATE ROLE " + role + " LOGIN REPLICATION PASSWORD 'pw'", "GRANT SELECT ON public.items TO " + role,
            "CALL insert_items(1, 100000)");
        var limited = Map.of("SOURCE_DATABASE_URL", source.url().replaceFirst("//[^@]*@", "//" + role + ":pw@"),
            "WAREHOUSE_DATABASE_URL", items.warehouse().url());
        var cut = CompletableFuture.supplyAsync(() -> Datakits.run("PostgresCdc", limited, items.args()));
        awaitCommittedChanges(items.warehouse(), cut, 0);
        // No new connection of the role is let in: each reconnection fails with "too many connections", which may pass.
        source.execute("ALTER ROLE " + role + " CONNECTION LIMIT 0");
        items.terminateWalsender();
        var run = cut.get(2, TimeUnit.MINUTES);
        source.execute("ALTER ROLE " + role + " CONNECTION LIMIT -1");

        assertThat(run.exitCode()).as(run.toString()).isEqualTo(1);
        assertThat(run.err().lines().filter(l -> l.startsWith("WARNING: attempt ")).toList()).as(run.toString())
            .extracting(l -> l.substring(0, l.indexOf(", after"))).containsExactly("WARNING: attempt 2 of streaming slot " + items.slot() + " in 1 s",
                "WARNING: attempt 3 of streaming slot " + items.slot() + " in 2 s", "WARNING: attempt 4 of streaming slot " + items.slot() + " in 4 s");
        assertThat(run.err().lines().filter(l -> l.startsWith("ERROR")).toList()).as(run.toString()).singleElement().asString()
            .startsWith("ERROR: Capturing the changes of slot " + items.slot() + " failed: the replication connection to the source was "
                + "lost and 3 reconnections failed (last: ")
            .contains("too many connections for role", "Bronze holds every change up to ", "the next run resumes there");
        assertThat(items.warehouse().rows("SELECT status FROM bronze.extraction_runs ORDER BY started_at"))
            .containsExactly(List.of("succeeded"), List.of("failed"));

        var next = items.run();
        assertThat(next.exitCode()).as(next.toString()).isZero();
        items.assertEveryRowOnce(100000);
        source.dropReplicationSlots(items.slot());
        source.execute("DROP OWNED BY " + role, "DROP ROLE " + role);
    }

    /**
     * A followed stream survives a terminated walsender and a restarted source: it notices each within a
     * few seconds, reconnects, and resumes from the warehouse's checkpoint, so every change a writer
     * committed meanwhile lands once, and the --apply table equals the source.
     */
    @Test
    void aFollowedCdcRunReconnectsAfterAWalsenderKillAndASourceRestartAndLandsEveryChangeOnce() throws Exception {
        var items = CapturedItems.create("cdcfollow");
        TestDatabase source = items.source();
        TestDatabase warehouse = items.warehouse();
        Path log = Files.createTempFile("cdc-follow", ".log");
        Process follower = Datakits.start("PostgresCdc", items.env(), log, items.args("--follow"));
        try (var writer = new Writer(source)) {
            awaitChanges(warehouse, 20);
            long killed = System.nanoTime();
            items.terminateWalsender();
            long reconnected = awaitLine(log, "reconnected", 1, follower);
            System.err.printf("walsender terminated: reconnected after %,d ms%n", (reconnected - killed) / 1_000_000);
            assertThat(reconnected - killed).as("noticed and reconnected within 5 s").isLessThan(TimeUnit.SECONDS.toNanos(5));

            awaitChanges(warehouse, warehouse.count("bronze.items__changes") + 20);
            long stopping = System.nanoTime();
            server.restart(List.of());
            long back = System.nanoTime();
            long again = awaitLine(log, "reconnected", 2, follower);
            System.err.printf("source restarted (down for %,d ms): reconnected %,d ms after it was back%n", (back - stopping) / 1_000_000,
                (again - back) / 1_000_000);
            assertThat(again - back).as("reconnected within 5 s of the source's return").isLessThan(TimeUnit.SECONDS.toNanos(5));
            awaitChanges(warehouse, warehouse.count("bronze.items__changes") + 20);
        }
        long written = source.count("public.items");
        for (int i = 0; i < 600 && warehouse.count("bronze.items") != written; i++) {
            Thread.sleep(50);
        }
        follower.destroy(); // SIGTERM
        assertThat(follower.waitFor(60, TimeUnit.SECONDS)).isTrue();
        String output = Files.readString(log);
        System.err.println(output);
        assertThat(follower.exitValue()).as(output).isEqualTo(143);
        // Each row: one insert with the payload it was inserted with, and one update if the writer's update of it committed.
        assertThat(warehouse.rows("SELECT _cdc_op, id::text, payload FROM bronze.items__changes ORDER BY id, _cdc_lsn, _cdc_seq"))
            .as(output).isEqualTo(source.rows("SELECT op, id::text, p FROM public.items, LATERAL (VALUES ('insert', 'p' || id), "
                + "('update', CASE WHEN payload LIKE 'u%' THEN payload END)) v(op, p) WHERE p IS NOT NULL ORDER BY id, op"));
        assertThat(warehouse.rows("SELECT id::text, payload FROM bronze.items ORDER BY id"))
            .isEqualTo(source.rows("SELECT id::text, payload FROM public.items ORDER BY id"));
        assertThat(warehouse.rows("SELECT status FROM bronze.extraction_runs ORDER BY started_at"))
            .containsExactly(List.of("succeeded"), List.of("succeeded"));
        source.dropReplicationSlots(items.slot());
    }

    /**
     * A warehouse that commits asynchronously (synchronous_commit = off, as this sandbox does) crashes
     * right after a run: the commits whose position the slot was told of are on disk all the same, so
     * the next run lands every change once.
     */
    @Test
    void aWarehouseThatCommitsAsynchronouslyAndCrashesRightAfterACdcRunLosesNoChange() throws Exception {
        TestDatabase source = TestPostgres.createDatabase("asyncwh_src");
        source.execute("CREATE TABLE public.t (id bigint PRIMARY KEY, note text)");
        TestDatabase warehouse = TestPostgres.createDatabase(server, "asyncwh_wh");
        var env = new SourceAndWarehouse(source, warehouse).env();
        String[] args = {"--table", "public.t", "--slot", "asyncwh_" + source.name()};
        assertThat(Datakits.run("PostgresCdc", env, args).exitCode()).isZero();
        // The WAL writer writes asynchronous commits to disk only every 10 s from here on: a crash loses the latest.
        warehouse.execute("ALTER SYSTEM SET wal_writer_delay = '10s'", "SELECT pg_reload_conf()", "CHECKPOINT");
        try {
            source.execute("INSERT INTO public.t VALUES (1, 'before the crash')");
            var beforeCrash = Datakits.run("PostgresCdc", env, args);
            assertThat(beforeCrash.exitCode()).as(beforeCrash.toString()).isZero();
            server.crashAndRestart();
            source.execute("INSERT INTO public.t VALUES (2, 'after the crash')");
            var afterCrash = Datakits.run("PostgresCdc", env, args);

            assertThat(afterCrash.exitCode()).as(afterCrash.toString()).isZero();
            assertThat(warehouse.rows("SELECT id::text, note FROM bronze.t__changes ORDER BY id"))
                .containsExactly(List.of("1", "before the crash"), List.of("2", "after the crash"));
        } finally {
            warehouse.execute("ALTER SYSTEM RESET wal_writer_delay", "SELECT pg_reload_conf()");
            source.dropReplicationSlots(args[3]);
        }
    }

    /**
     * A bounded run reads where the source's WAL ends when it starts, and the server sends only WAL it has
     * written to disk: WAL of a transaction still open may stay unwritten for up to 15 s. The run ends at
     * once all the same (the source is this class's server, where the run itself writes nothing).
     */
    @Test
    void aBoundedCdcRunEndsPromptlyWhileAnOpenTransactionHoldsWalTheSourceHasNotWrittenToDisk() throws Exception {
        TestDatabase source = TestPostgres.createDatabase(server, "unflushed_src");
        source.execute("CREATE TABLE public.t (id bigint PRIMARY KEY, note text)");
        var env = new SourceAndWarehouse(source, TestPostgres.createDatabase("unflushed_wh")).env();
        String[] args = {"--table", "public.t", "--slot", "unflushed_" + source.name()};
        assertThat(Datakits.run("PostgresCdc", env, args).exitCode()).isZero();
        try (Connection open = source.connect()) {
            open.setAutoCommit(false);
            insertWithinOneWalPage(source, open);
            long started = System.nanoTime();
            var run = Datakits.run("PostgresCdc", env, args);
            long ms = (System.nanoTime() - started) / 1_000_000;
            System.err.printf("empty bounded run with %s bytes of WAL not on disk: %,d ms%n",
                source.value("SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), pg_current_wal_flush_lsn())"), ms);

            assertThat(run.exitCode()).as(run.toString()).isZero();
            assertThat(ms).as("the run's duration in ms").isLessThan(3000);
            open.rollback();
        } finally {
            source.dropReplicationSlots(args[3]);
        }
    }

    /**
     * Inserts a row in the open transaction, in a WAL record within one page (a record cut by a page's end
     * may hold a run up longer; see docs/postgres-cdc.md, Run shapes).
     */
    static void insertWithinOneWalPage(TestDatabase source, Connection open) throws SQLException {
        for (int id = 1; ; id++) {
            long before = Long.parseLong(source.value("SELECT pg_current_wal_insert_lsn() - '0/0'"));
            open.createStatement().execute("INSERT INTO public.t VALUES (" + id + ", 'open')");
            long after = Long.parseLong(source.value("SELECT pg_current_wal_insert_lsn() - '0/0'"));
            if (before / 8192 == after / 8192) {
                return;
            }
            open.rollback();
        }
    }

    /** A source that takes the TCP connection and never answers: the run fails after connect_timeout, as libpq would. */
    @Test
    void aSourceThatTakesTheConnectionButNeverAnswersFailsAfterConnectTimeoutInsteadOfHanging() throws Exception {
        try (var silent = new java.net.ServerSocket(0, 50, java.net.InetAddress.getByName("127.0.0.1"))) {
            // The kernel completes the connections in the listen queue; nothing ever reads them.
            var env = Map.of("SOURCE_DATABASE_URL", "postgresql://reader:pw@127.0.0.1:" + silent.getLocalPort() + "/shop"
                + "?connect_timeout=1&max_retries=0", "WAREHOUSE_DATABASE_URL", TestPostgres.createDatabase("silent_wh").url());
            Path log = Files.createTempFile("silent-source", ".log");
            Process run = Datakits.start("PostgresCdc", env, log, "--table", "public.t", "--slot", "silent");
            try {
                assertThat(run.waitFor(30, TimeUnit.SECONDS)).as("the run ended within 30 s:%n%s", Files.readString(log)).isTrue();
            } finally {
                run.destroyForcibly();
            }
            String output = Files.readString(log);
            assertThat(run.exitValue()).as(output).isEqualTo(1);
            assertThat(output.lines().filter(l -> l.startsWith("ERROR")).toList()).as(output).singleElement().asString()
                .contains("Cannot connect to the source reader@127.0.0.1:" + silent.getLocalPort() + "/shop: no answer within 1 s");
        }
    }

    /**
     * Commits a row at a time into public.items until closed, each fifth transaction also updating the row
     * before it; through a restart of the server it connects again.
     */
    static final class Writer implements AutoCloseable {
        private final TestDatabase database;
        private final Thread thread;
        private volatile boolean stopped;

        Writer(TestDatabase database) {
            this.database = database;
            this.thread = new Thread(this::write, "cdc-writer");
            thread.start();
        }

        private void write() {
            while (!stopped) {
                try (Connection connection = database.connect(); var statement = connection.createStatement()) {
                    // A commit whose answer was lost in a restart may have happened: go on after what the source holds.
                    long id;
                    try (var next = statement.executeQuery("SELECT coalesce(max(id), 0) + 1 FROM public.items")) {
                        next.next();
                        id = next.getLong(1);
                    }
                    for (; !stopped; id++) {
                        statement.execute("INSERT INTO public.items VALUES (" + id + ", 'p" + id + "')"
                            + (id % 5 == 0 ? "; UPDATE public.items SET payload = 'u" + id + "' WHERE id = " + (id - 1) : ""));
                        Thread.sleep(5);
                    }
                } catch (SQLException e) {
                    sleepQuietly();
                } catch (InterruptedException e) {
                    return;
                }
            }
        }

        private static void sleepQuietly() {
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }

        @Override
        public void close() throws InterruptedException {
            stopped = true;
            thread.join(TimeUnit.SECONDS.toMillis(30));
        }
    }

    /** Waits until bronze.items__changes holds at least {@code changes} rows. */
    static void awaitChanges(TestDatabase warehouse, long changes) throws InterruptedException {
        for (int i = 0; i < 1200; i++) {
            if (warehouse.value("SELECT to_regclass('bronze.items__changes') IS NOT NULL").equals("t")
                && warehouse.count("bronze.items__changes") >= changes) {
                return;
            }
            Thread.sleep(25);
        }
        throw new AssertionError("fewer than " + changes + " changes arrived within 30 s");
    }

    /** Waits until the run's log holds {@code times} lines containing {@code text}; returns System.nanoTime() then. */
    static long awaitLine(Path log, String text, int times, Process run) throws Exception {
        for (int i = 0; i < 3000; i++) {
            if (Files.readString(log).lines().filter(l -> l.contains(text)).count() >= times) {
                return System.nanoTime();
            }
            if (!run.isAlive()) {
                throw new AssertionError("the run ended (exit " + run.exitValue() + ") before its log said \"" + text + "\":\n"
                    + Files.readString(log));
            }
            Thread.sleep(10);
        }
        throw new AssertionError("the run's log never said \"" + text + "\" " + times + " times:\n" + Files.readString(log));
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
