package datakit.cdc;

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
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

/**
 * Review probes of the bounded-run position, reconnection and heartbeat (issue 14 items 2 and 16). The
 * tests that run by default expose defects (they fail on 4117f21); the others held up and run only with
 * -Ddatakit.review.probes=true (they print their measurements as "PROBE" lines).
 */
class CdcStreamReviewIT {
    static LocalCluster server;

    @BeforeAll
    static void startPrivateServer() {
        server = PostgresSandbox.startLocal(System.err::println);
    }

    @AfterAll
    static void stopPrivateServer() {
        server.close();
    }

    record Db(TestDatabase source, TestDatabase warehouse, String slot) {
        static Db create(String prefix, String... sql) {
            TestDatabase source = TestPostgres.createDatabase(server, prefix + "_src");
            source.execute(sql);
            return new Db(source, TestPostgres.createDatabase(prefix + "_wh"), prefix + "_" + source.name());
        }

        Map<String, String> env() {
            return new SourceAndWarehouse(source, warehouse).env();
        }

        String[] args(String... more) {
            var args = new ArrayList<>(List.of("--table", "public.t", "--slot", slot));
            args.addAll(List.of(more));
            return args.toArray(String[]::new);
        }

        Datakits.Run ok(String... more) {
            var run = Datakits.run("PostgresCdc", env(), args(more));
            assertThat(run.exitCode()).as(run.toString()).isZero();
            return run;
        }

        String confirmed() {
            return source.value("SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = '" + slot + "'");
        }

        String checkpoint() {
            return warehouse.value("SELECT lsn::text FROM bronze.extraction_checkpoints WHERE stream = 'cdc:" + slot + "'");
        }
    }

    static final String TABLE = "CREATE TABLE public.t (id bigint PRIMARY KEY, note text)";

    /** How long empty bounded runs take on an idle source, and with a transaction open that wrote WAL not flushed yet. */
    @Test
    @EnabledIfSystemProperty(named = "datakit.review.probes", matches = "true")
    void emptyBoundedRunTimings() throws Exception {
        var db = Db.create("rvtime", TABLE);
        db.ok();
        for (int i = 0; i < 4; i++) {
            long t = System.nanoTime();
            db.ok();
            System.err.printf("PROBE empty bounded run %d on an idle source: %,d ms%n", i, (System.nanoTime() - t) / 1_000_000);
        }
        for (int trial = 0; trial < 5; trial++) {
            Thread.sleep(2000 + 3000L * trial);
            try (Connection open = db.source().connect()) {
                open.setAutoCommit(false);
                open.createStatement().execute("INSERT INTO public.t VALUES (" + (trial + 1) + ", 'open')");
                String unflushed = db.source().value("SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), pg_current_wal_flush_lsn())");
                long t = System.nanoTime();
                db.ok();
                System.err.printf("PROBE empty bounded run %d with an open writing transaction (%s bytes of WAL unflushed): %,d ms%n", trial,
                    unflushed, (System.nanoTime() - t) / 1_000_000);
                open.rollback();
            }
        }
        db.source().dropReplicationSlots(db.slot());
    }

    /** The WAL's insert position right after a page header: a bounded run must not wait for WAL that never comes. */
    @Test
    @EnabledIfSystemProperty(named = "datakit.review.probes", matches = "true")
    void aBoundedRunWhoseEndIsOnAPageBoundaryEnds() throws Exception {
        var db = Db.create("rvpage", TABLE);
        db.ok();
        db.ok();
        boolean placed = false;
        for (int attempt = 0; attempt < 40 && !placed; attempt++) {
            long before = insert(db.source());
            if (8192 - before % 8192 < 1200) {
                db.source().execute("SELECT pg_logical_emit_message(false, 'probe', repeat('x', 1500))");
                continue;
            }
            db.source().execute("SELECT pg_logical_emit_message(false, 'probe', repeat('x', 300))");
            long delta = insert(db.source()) - before;
            long at = insert(db.source());
            long rem = 8192 - at % 8192;
            if (rem < 600) {
                continue;
            }
            db.source().execute("SELECT pg_logical_emit_message(false, 'probe', repeat('x', " + (rem - delta + 300) + "))");
            placed = insert(db.source()) % 8192 == 24;
        }
        assertThat(placed).as("the insert position was put right after a page header").isTrue();
        System.err.println("PROBE insert position " + db.source().value("SELECT pg_current_wal_insert_lsn()"));
        long t = System.nanoTime();
        var run = CompletableFuture.supplyAsync(() -> Datakits.run("PostgresCdc", db.env(), db.args()));
        var result = run.get(60, TimeUnit.SECONDS);
        long ms = (System.nanoTime() - t) / 1_000_000;
        System.err.printf("PROBE bounded run with its end on a page boundary: %,d ms, insert position now %s%n%s%n", ms,
            db.source().value("SELECT pg_current_wal_insert_lsn()"), result.err());
        assertThat(result.exitCode()).as(result.toString()).isZero();
        assertThat(ms).isLessThan(5000);
        db.source().dropReplicationSlots(db.slot());
    }

    static long insert(TestDatabase db) {
        return Long.parseLong(db.value("SELECT pg_current_wal_insert_lsn() - '0/0'"));
    }

    /**
     * Streamed in-progress transactions open across a bounded run's end: one rolls back to a savepoint
     * after the run and commits, one aborts. Each change lands once; the aborted one not at all.
     */
    @Test
    @EnabledIfSystemProperty(named = "datakit.review.probes", matches = "true")
    void streamedTransactionsWithSavepointsAndAbortsAcrossRuns() throws Exception {
        var db = Db.create("rvsave", TABLE);
        db.source().execute("ALTER DATABASE " + db.source().name() + " SET logical_decoding_work_mem = '64kB'");
        db.ok("--apply");
        try (Connection big = db.source().connect(); Connection doomed = db.source().connect()) {
            big.setAutoCommit(false);
            doomed.setAutoCommit(false);
            big.createStatement().execute("INSERT INTO public.t SELECT g, 'kept' FROM generate_series(1, 3000) g");
            big.createStatement().execute("SAVEPOINT s");
            big.createStatement().execute("INSERT INTO public.t SELECT g, 'undone' FROM generate_series(3001, 6000) g");
            doomed.createStatement().execute("INSERT INTO public.t SELECT g, 'aborted' FROM generate_series(100001, 104000) g");
            db.source().execute("INSERT INTO public.t VALUES (0, 'between')");
            db.ok("--apply");
            String afterFirst = db.confirmed();
            big.createStatement().execute("ROLLBACK TO SAVEPOINT s");
            big.createStatement().execute("INSERT INTO public.t SELECT g, 'later' FROM generate_series(6001, 9000) g");
            db.ok("--apply");
            doomed.rollback();
            db.ok("--apply");
            big.commit();
            System.err.println("PROBE slot after the first run " + afterFirst + "; stream_txns "
                + db.source().value("SELECT stream_txns FROM pg_stat_replication_slots WHERE slot_name = '" + db.slot() + "'"));
        }
        db.ok("--apply");
        db.ok("--apply");
        assertThat(db.warehouse().rows("SELECT note, count(*)::text, count(DISTINCT id)::text FROM bronze.t__changes GROUP BY 1 ORDER BY 1"))
            .containsExactly(List.of("between", "1", "1"), List.of("kept", "3000", "3000"), List.of("later", "3000", "3000"));
        assertThat(db.warehouse().rows("SELECT id::text, note FROM bronze.t ORDER BY id"))
            .isEqualTo(db.source().rows("SELECT id::text, note FROM public.t ORDER BY id"));
        db.source().dropReplicationSlots(db.slot());
    }

    /**
     * A bounded run whose walsender is ended twice while it streams a large committed transaction in
     * progress (protocol 2, part of it in the local spool): it reconnects, the transaction comes again
     * from its first change, every row once; no reader thread is left behind.
     */
    @Test
    @EnabledIfSystemProperty(named = "datakit.review.probes", matches = "true")
    void twoReconnectsWhileALargeTransactionIsStreamed() throws Exception {
        var db = Db.create("rvspool", TABLE);
        db.source().execute("ALTER DATABASE " + db.source().name() + " SET logical_decoding_work_mem = '64kB'");
        db.ok("--apply");
        long before = insert(db.source());
        db.source().execute("INSERT INTO public.t SELECT g, repeat(md5(g::text), 4) FROM generate_series(1, 300000) g");
        db.source().execute("INSERT INTO public.t VALUES (0, 'small after')");
        long after = insert(db.source());
        var run = CompletableFuture.supplyAsync(() -> Datakits.run("PostgresCdc", db.env(), db.args("--apply")));
        int kills = 0;
        int lastPid = -1;
        for (int i = 0; i < 6000 && !run.isDone() && kills < 2; i++) {
            var rows = db.source().rows("SELECT r.pid::text, (r.sent_lsn - '0/0')::text FROM pg_stat_replication r JOIN pg_replication_slots s "
                + "ON s.active_pid = r.pid WHERE s.slot_name = '" + db.slot() + "'");
            if (!rows.isEmpty() && rows.get(0).get(1) != null) {
                int pid = Integer.parseInt(rows.get(0).get(0));
                long sent = Long.parseLong(rows.get(0).get(1));
                long mark = before + (after - before) * (kills == 0 ? 2 : 3) / 5;
                if (pid != lastPid && sent > mark && sent < after) {
                    db.source().execute("SELECT pg_terminate_backend(" + pid + ")");
                    System.err.printf("PROBE terminated walsender %d at %d/%d of the transaction's WAL%n", pid, sent - before, after - before);
                    lastPid = pid;
                    kills++;
                }
            }
            Thread.sleep(5);
        }
        var result = run.get(3, TimeUnit.MINUTES);
        System.err.println("PROBE " + result);
        assertThat(kills).as("the walsender was ended twice mid-transaction").isEqualTo(2);
        assertThat(result.exitCode()).as(result.toString()).isZero();
        assertThat(db.warehouse().rows("SELECT count(*)::text, count(DISTINCT id)::text FROM bronze.t__changes"))
            .containsExactly(List.of("300001", "300001"));
        assertThat(db.warehouse().count("bronze.t")).isEqualTo(300001);
        assertThat(Thread.getAllStackTraces().keySet().stream().filter(t -> t.getName().startsWith("cdc-")).map(Thread::getName).toList())
            .as("threads left").isEmpty();
        db.source().dropReplicationSlots(db.slot());
    }

    /**
     * A bounded run whose last batch takes longer than wal_sender_timeout to commit (one source transaction
     * is one batch): the run says it confirms the position it reached to the slot.
     */
    @Test
    void aBoundedRunWhoseLastBatchOutlastsWalSenderTimeoutConfirmsItsEnd() throws Exception {
        server.restart(List.of("wal_sender_timeout=2s"));
        try {
            var db = Db.create("rvwst", TABLE);
            db.ok("--apply");
            db.source().execute("INSERT INTO public.t SELECT g, repeat(md5(g::text), 4) FROM generate_series(1, 400000) g");
            long t = System.nanoTime();
            var run = db.ok("--apply");
            System.err.printf("PROBE slow last batch (%,d ms): %s%nslot %s checkpoint %s%nserver log: %s%n", (System.nanoTime() - t) / 1_000_000,
                run, db.confirmed(), db.checkpoint(), serverLogLines("timeout"));
            assertThat(db.confirmed()).as("the slot heard of the run's end\n%s", run).isEqualTo(db.checkpoint());
            db.source().dropReplicationSlots(db.slot());
        } finally {
            server.restart(List.of());
        }
    }

    static List<String> serverLogLines(String containing) {
        TestDatabase postgres = new TestDatabase(server, "postgres");
        return postgres.rows("SELECT l FROM regexp_split_to_table(pg_read_file(current_setting('data_directory') || '/../server.log'), "
            + "E'\\n') l WHERE l LIKE '%" + containing + "%'").stream().map(r -> r.get(0)).toList();
    }

    /** With wal_sender_timeout = 2s, a followed stream, quiet and then busy with a slow --apply batch, keeps its connection. */
    @Test
    @EnabledIfSystemProperty(named = "datakit.review.probes", matches = "true")
    void aFollowedStreamWithASmallWalSenderTimeout() throws Exception {
        server.restart(List.of("wal_sender_timeout=2s"));
        try {
            var db = Db.create("rvwsf", TABLE);
            db.ok("--apply");
            Path log = Files.createTempFile("rv-follow", ".log");
            Process follower = Datakits.start("PostgresCdc", db.env(), log, db.args("--apply", "--follow"));
            Thread.sleep(6000);
            db.source().execute("INSERT INTO public.t SELECT g, repeat(md5(g::text), 4) FROM generate_series(1, 150000) g");
            for (int i = 0; i < 1200 && !(db.warehouse().value("SELECT to_regclass('bronze.t__changes') IS NOT NULL").equals("t")
                    && db.warehouse().count("bronze.t__changes") >= 150000); i++) {
                Thread.sleep(50);
            }
            Thread.sleep(3000);
            follower.destroy();
            assertThat(follower.waitFor(60, TimeUnit.SECONDS)).isTrue();
            String out = Files.readString(log);
            System.err.println("PROBE follow with wal_sender_timeout 2s:\n" + out + "\nserver log: " + serverLogLines("timeout")
                + "\nslot " + db.confirmed() + " checkpoint " + db.checkpoint());
            assertThat(out).doesNotContain("lost the replication");
            assertThat(db.warehouse().rows("SELECT count(*)::text, count(DISTINCT id)::text FROM bronze.t__changes"))
                .containsExactly(List.of("150000", "150000"));
            db.source().dropReplicationSlots(db.slot());
        } finally {
            server.restart(List.of());
        }
    }

    /**
     * SIGKILL of a followed --apply stream at random moments, six times, while a writer commits small
     * transactions and large ones (streamed in progress, with a savepoint rolled back, one in three
     * aborted): every committed row lands once, nothing rolled back lands, the --apply table equals the source.
     */
    @Test
    @EnabledIfSystemProperty(named = "datakit.review.probes", matches = "true")
    void sigkillLoopOfAFollowedStreamLosesAndDuplicatesNothing() throws Exception {
        var db = Db.create("rvkill", TABLE, "CREATE SEQUENCE public.ids");
        db.source().execute("ALTER DATABASE " + db.source().name() + " SET logical_decoding_work_mem = '64kB'");
        db.ok("--apply");
        var random = new java.util.Random(42);
        try (var writer = new MixedWriter(db.source())) {
            for (int kill = 0; kill < 6; kill++) {
                Path log = Files.createTempFile("rv-kill", ".log");
                long waited = System.nanoTime();
                for (int i = 0; i < 200 && !db.source().value("SELECT count(*) FROM pg_replication_slots WHERE active AND slot_name = '"
                        + db.slot() + "'").equals("0"); i++) {
                    Thread.sleep(25);
                }
                System.err.printf("PROBE slot free %,d ms after the kill%n", (System.nanoTime() - waited) / 1_000_000);
                Process follower = Datakits.start("PostgresCdc", db.env(), log, db.args("--apply", "--follow"));
                for (int i = 0; i < 600 && !Files.readString(log).contains("streaming slot"); i++) {
                    Thread.sleep(25);
                }
                Thread.sleep(300 + random.nextInt(2500));
                follower.destroyForcibly();
                follower.waitFor(30, TimeUnit.SECONDS);
                String out = Files.readString(log);
                System.err.printf("PROBE kill %d: %s%n", kill, out.lines().filter(l -> l.contains("committed") || l.contains("ERROR")
                    || l.contains("WARN")).reduce((a, b) -> b).orElse(out));
                assertThat(out).doesNotContain("ERROR");
            }
        }
        db.ok("--apply");
        db.ok("--apply");
        System.err.println("PROBE source rows " + db.source().count("public.t") + ", changes "
            + db.warehouse().rows("SELECT count(*), count(DISTINCT id) FROM bronze.t__changes"));
        assertThat(db.warehouse().value("SELECT count(*) FROM bronze.t__changes WHERE note IN ('undone', 'aborted')")).isEqualTo("0");
        assertThat(db.warehouse().rows("SELECT count(*)::text, count(DISTINCT id)::text FROM bronze.t__changes"))
            .containsExactly(List.of(String.valueOf(db.source().count("public.t")), String.valueOf(db.source().count("public.t"))));
        assertThat(db.warehouse().rows("SELECT id::text, note FROM bronze.t ORDER BY id"))
            .isEqualTo(db.source().rows("SELECT id::text, note FROM public.t ORDER BY id"));
        db.source().dropReplicationSlots(db.slot());
    }

    /** Small transactions, and every 40th a large one with a savepoint rolled back; one large one in three aborts. */
    static final class MixedWriter implements AutoCloseable {
        private final TestDatabase database;
        private final Thread thread;
        private volatile boolean stopped;

        MixedWriter(TestDatabase database) {
            this.database = database;
            this.thread = new Thread(this::write, "rv-writer");
            thread.start();
        }

        private void write() {
            try (Connection c = database.connect(); var st = c.createStatement()) {
                for (int n = 1; !stopped; n++) {
                    if (n % 40 == 0) {
                        c.setAutoCommit(false);
                        st.execute("INSERT INTO public.t SELECT nextval('public.ids'), 'big' FROM generate_series(1, 3000)");
                        st.execute("SAVEPOINT a");
                        st.execute("INSERT INTO public.t SELECT nextval('public.ids'), 'undone' FROM generate_series(1, 1000)");
                        st.execute("ROLLBACK TO SAVEPOINT a");
                        st.execute("INSERT INTO public.t SELECT nextval('public.ids'), " + (n % 120 == 0 ? "'aborted'" : "'after'")
                            + " FROM generate_series(1, 500)");
                        if (n % 120 == 0) {
                            c.rollback();
                        } else {
                            c.commit();
                        }
                        c.setAutoCommit(true);
                    } else {
                        st.execute("INSERT INTO public.t VALUES (nextval('public.ids'), 'small')");
                    }
                    Thread.sleep(3);
                }
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }

        @Override
        public void close() throws InterruptedException {
            stopped = true;
            thread.join(30_000);
        }
    }

    /** A prepared transaction open across a bounded run's end, committed after it, lands once and whole. */
    @Test
    @EnabledIfSystemProperty(named = "datakit.review.probes", matches = "true")
    void aPreparedTransactionAcrossABoundedRunsEnd() throws Exception {
        server.restart(List.of("max_prepared_transactions=5"));
        try {
            var db = Db.create("rvprep", TABLE);
            db.ok("--apply");
            try (Connection c = db.source().connect()) {
                c.createStatement().execute("BEGIN; INSERT INTO public.t SELECT g, 'prepared' FROM generate_series(1, 10) g; "
                    + "PREPARE TRANSACTION 'rv_p1'");
            }
            db.source().execute("INSERT INTO public.t VALUES (100, 'plain')");
            db.source().execute("CHECKPOINT");
            db.ok("--apply");
            db.ok("--apply");
            db.source().execute("COMMIT PREPARED 'rv_p1'");
            db.ok("--apply");
            assertThat(db.warehouse().rows("SELECT note, count(*)::text FROM bronze.t__changes GROUP BY 1 ORDER BY 1"))
                .containsExactly(List.of("plain", "1"), List.of("prepared", "10"));
            db.source().dropReplicationSlots(db.slot());
        } finally {
            server.restart(List.of());
        }
    }

    /**
     * The slot moved past the warehouse's checkpoint (pg_replication_slot_advance, another reader of the
     * slot, a warehouse restored or failed over): the server starts at the slot's position and the run
     * passes over the changes in between without a word.
     */
    @Test
    void aSlotAheadOfTheWarehouseCheckpoint() throws Exception {
        var db = Db.create("rvahead", TABLE);
        db.ok();
        db.source().execute("INSERT INTO public.t VALUES (1, 'skipped by the advance')");
        db.source().execute("CHECKPOINT");
        db.source().execute("SELECT pg_replication_slot_advance('" + db.slot() + "', pg_current_wal_flush_lsn())");
        System.err.println("PROBE slot advanced to " + db.confirmed() + ", warehouse checkpoint " + db.checkpoint());
        db.source().execute("INSERT INTO public.t VALUES (2, 'after')");
        var run = Datakits.run("PostgresCdc", db.env(), db.args());
        System.err.println("PROBE slot ahead: " + run + "\nchanges " + db.warehouse().rows("SELECT id::text FROM bronze.t__changes ORDER BY 1"));
        // Row 1 is gone for good: the run must not pass over it in silence (exit 0, nothing on stderr).
        assertThat(run.exitCode() != 0 || run.err().contains("WARNING")).as("the run said the slot skipped changes the warehouse lacks\n%s", run)
            .isTrue();
        db.source().dropReplicationSlots(db.slot());
    }

    /**
     * A warehouse with synchronous_commit = off (a common analytics setting) crashes right after a run: the
     * slot was told of a position whose warehouse commit was not yet on disk.
     */
    @Test
    void aWarehouseCrashRightAfterARunWithAsynchronousCommit() throws Exception {
        server.restart(List.of("wal_writer_delay=10s"));
        try {
            TestDatabase source = TestPostgres.createDatabase("rvasync_src");
            source.execute(TABLE);
            TestDatabase warehouse = TestPostgres.createDatabase(server, "rvasync_wh");
            var db = new Db(source, warehouse, "rvasync_" + source.name());
            db.ok();
            Thread.sleep(12000);
            source.execute("INSERT INTO public.t VALUES (1, 'one')");
            db.ok();
            String confirmed = db.confirmed();
            String before = db.checkpoint();
            server.crashAndRestart();
            System.err.println("PROBE async warehouse: slot " + confirmed + ", warehouse checkpoint before the crash " + before + ", after "
                + db.checkpoint() + ", changes " + (warehouse.value("SELECT to_regclass('bronze.t__changes') IS NOT NULL").equals("t")
                ? warehouse.rows("SELECT id::text FROM bronze.t__changes") : "no table"));
            source.execute("INSERT INTO public.t VALUES (2, 'two')");
            var run = db.ok();
            System.err.println("PROBE async warehouse next run: " + run + "\nchanges " + warehouse.rows("SELECT id::text FROM bronze.t__changes ORDER BY 1"));
            assertThat(warehouse.rows("SELECT id::text FROM bronze.t__changes ORDER BY 1")).containsExactly(List.of("1"), List.of("2"));
            source.dropReplicationSlots(db.slot());
        } finally {
            server.restart(List.of());
        }
    }

    /**
     * A followed stream with a large transaction streamed in progress when the source crashes (the
     * transaction never commits): after the reconnection nothing of it lands; later rows land once.
     */
    @Test
    @EnabledIfSystemProperty(named = "datakit.review.probes", matches = "true")
    void aSourceCrashWhileALargeTransactionIsStreamedInProgress() throws Exception {
        var db = Db.create("rvcrash", TABLE);
        db.source().execute("ALTER DATABASE " + db.source().name() + " SET logical_decoding_work_mem = '64kB'");
        db.ok("--apply");
        Path log = Files.createTempFile("rv-crash", ".log");
        Process follower = Datakits.start("PostgresCdc", db.env(), log, db.args("--apply", "--follow"));
        try {
            for (int i = 0; i < 600 && !Files.readString(log).contains("streaming slot"); i++) {
                Thread.sleep(25);
            }
            db.source().execute("INSERT INTO public.t VALUES (1, 'before')");
            Connection big = db.source().connect();
            big.setAutoCommit(false);
            big.createStatement().execute("INSERT INTO public.t SELECT g, repeat('x', 100) FROM generate_series(1000, 60999) g");
            String bigEnd = db.source().value("SELECT pg_current_wal_insert_lsn()");
            for (int i = 0; i < 400; i++) {
                var sent = db.source().rows("SELECT r.sent_lsn >= '" + bigEnd + "' FROM pg_stat_replication r JOIN pg_replication_slots s "
                    + "ON s.active_pid = r.pid WHERE s.slot_name = '" + db.slot() + "'");
                if (!sent.isEmpty() && "t".equals(sent.get(0).get(0))) {
                    break;
                }
                Thread.sleep(25);
            }
            System.err.println("PROBE streamed before the crash: " + db.source().rows("SELECT stream_txns, stream_bytes FROM pg_stat_replication_slots "
                + "WHERE slot_name = '" + db.slot() + "'"));
            server.crashAndRestart();
            try {
                big.close();
            } catch (Exception e) {
                // gone with the crash
            }
            db.source().execute("INSERT INTO public.t VALUES (2, 'after')");
            for (int i = 0; i < 800 && !(db.warehouse().value("SELECT to_regclass('bronze.t__changes') IS NOT NULL").equals("t")
                    && db.warehouse().count("bronze.t__changes") >= 2); i++) {
                Thread.sleep(25);
            }
            Thread.sleep(1500);
        } finally {
            follower.destroy();
            follower.waitFor(60, TimeUnit.SECONDS);
        }
        String out = Files.readString(log);
        System.err.println("PROBE crash follow log:\n" + out);
        db.ok("--apply");
        assertThat(db.warehouse().rows("SELECT id::text, note FROM bronze.t__changes ORDER BY id"))
            .containsExactly(List.of("1", "before"), List.of("2", "after"));
        assertThat(db.warehouse().rows("SELECT id::text, note FROM bronze.t ORDER BY id"))
            .isEqualTo(db.source().rows("SELECT id::text, note FROM public.t ORDER BY id"));
        db.source().dropReplicationSlots(db.slot());
    }

    /**
     * Reconnection attempts that each take longer than 30 s to fail (a source that accepts TCP but answers
     * late, or a connect_timeout above 30 s against an unreachable host): with max_retries=1 the run
     * should give up after one failed reconnection. It counts each slow failure as a connection that
     * streamed for 30 s, so its count starts over every time and it never gives up.
     */
    @Test
    void slowFailingReconnectionsAreCountedAndTheRunGivesUp() throws Exception {
        var db = Db.create("rvslow", TABLE);
        db.ok();
        try (var proxy = new StallingProxy(server.port())) {
            String url = db.source().url().replace(":" + server.port() + "/", ":" + proxy.port() + "/") + "?max_retries=1";
            var env = Map.of("SOURCE_DATABASE_URL", url, "WAREHOUSE_DATABASE_URL", db.warehouse().url());
            Path log = Files.createTempFile("rv-slow", ".log");
            Process follower = Datakits.start("PostgresCdc", env, log, db.args("--follow"));
            try {
                for (int i = 0; i < 600 && !Files.readString(log).contains("streaming slot"); i++) {
                    Thread.sleep(50);
                }
                Thread.sleep(1000);
                proxy.stallAndCut();
                long cut = System.nanoTime();
                // A correct count gives up after the first failed reconnection: about 1 + 31 s.
                for (int i = 0; i < 1600 && follower.isAlive()
                        && Files.readString(log).lines().filter(l -> l.contains("lost the replication connection")).count() < 3; i++) {
                    Thread.sleep(50);
                }
                System.err.printf("PROBE %,d s after the cut, alive %s:%n%s%n", (System.nanoTime() - cut) / 1_000_000_000, follower.isAlive(),
                    Files.readString(log));
                assertThat(follower.isAlive()).as("the run gave up after max_retries=1:\n%s", Files.readString(log)).isFalse();
            } finally {
                follower.destroyForcibly();
                follower.waitFor(30, TimeUnit.SECONDS);
            }
        }
        db.source().dropReplicationSlots(db.slot());
    }

    /** Forwards TCP to a port until told to stall: then it accepts connections and closes each after 31 s, unanswered. */
    static final class StallingProxy implements AutoCloseable {
        private final java.net.ServerSocket listener = new java.net.ServerSocket(0, 50, java.net.InetAddress.getByName("127.0.0.1"));
        private final List<java.net.Socket> open = new java.util.concurrent.CopyOnWriteArrayList<>();
        private volatile boolean stalling;

        StallingProxy(int target) throws java.io.IOException {
            Thread.ofPlatform().daemon().start(() -> {
                while (!listener.isClosed()) {
                    try {
                        var client = listener.accept();
                        open.add(client);
                        if (stalling) {
                            Thread.ofPlatform().daemon().start(() -> {
                                try {
                                    Thread.sleep(31_000);
                                    client.close();
                                } catch (Exception e) {
                                    // closed
                                }
                            });
                            continue;
                        }
                        var upstream = new java.net.Socket("127.0.0.1", target);
                        open.add(upstream);
                        pump(client, upstream);
                        pump(upstream, client);
                    } catch (java.io.IOException e) {
                        // listener closed
                    }
                }
            });
        }

        private void pump(java.net.Socket from, java.net.Socket to) {
            Thread.ofPlatform().daemon().start(() -> {
                try {
                    from.getInputStream().transferTo(to.getOutputStream());
                } catch (java.io.IOException e) {
                    // cut
                }
                try {
                    to.close();
                    from.close();
                } catch (java.io.IOException e) {
                    // cut
                }
            });
        }

        int port() {
            return listener.getLocalPort();
        }

        void stallAndCut() throws java.io.IOException {
            stalling = true;
            for (var socket : open) {
                socket.close();
            }
        }

        @Override
        public void close() throws java.io.IOException {
            listener.close();
            for (var socket : open) {
                socket.close();
            }
        }
    }

    /** CPU of an idle --follow run, with and without a heartbeat. */
    @Test
    @EnabledIfSystemProperty(named = "datakit.review.probes", matches = "true")
    void idleFollowCpu() throws Exception {
        var db = Db.create("rvcpu", TABLE);
        db.ok();
        for (String[] extra : List.of(new String[] {"--follow"}, new String[] {"--follow", "--heartbeat", "1"})) {
            Path log = Files.createTempFile("rv-cpu", ".log");
            Process follower = Datakits.start("PostgresCdc", db.env(), log, db.args(extra));
            for (int i = 0; i < 600 && !Files.readString(log).contains("streaming slot"); i++) {
                Thread.sleep(50);
            }
            Thread.sleep(3000);
            long t0 = cpuTicks(follower.pid());
            Thread.sleep(10000);
            long t1 = cpuTicks(follower.pid());
            System.err.printf("PROBE idle %s: %.1f%% of a core over 10 s%n", String.join(" ", extra), (t1 - t0) / 100.0 / 10 * 100);
            follower.destroy();
            assertThat(follower.waitFor(60, TimeUnit.SECONDS)).isTrue();
            System.err.println(Files.readString(log));
        }
        db.source().dropReplicationSlots(db.slot());
    }

    static long cpuTicks(long pid) throws Exception {
        String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return Long.parseLong(f[11]) + Long.parseLong(f[12]);
    }

    /** Whether the heartbeat runs for a source user whose transactions are read-only. */
    @Test
    @EnabledIfSystemProperty(named = "datakit.review.probes", matches = "true")
    void heartbeatOnAReadOnlyUser() {
        var db = Db.create("rvro", TABLE);
        db.source().execute("SET default_transaction_read_only = on", "SELECT pg_logical_emit_message(false, 'probe', 'ro')");
        System.err.println("PROBE pg_logical_emit_message ran in a read-only transaction");
    }
}
