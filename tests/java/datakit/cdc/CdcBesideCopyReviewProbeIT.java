package datakit.cdc;

import static org.assertj.core.api.Assertions.assertThat;

import datakit.testing.Datakits;
import datakit.testing.TestDatabase;
import datakit.testing.TestPostgres;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.LongStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Review probes of postgres-cdc --follow loading a table new to the stream BESIDE the stream (ChangeStream.snapshotNewTables,
 * TableSnapshot.copy, ChangeCapture.loading/landed): a run killed or stopped during the copy, a walsender terminated during
 * it, unchanged TOAST values updated during it, two tables added one after the other. Each fails when the defect it names is
 * there, comparing what bronze holds with the source.
 */
class CdcBesideCopyReviewProbeIT {
    static final java.util.concurrent.Executor OWN_THREAD = task -> new Thread(task).start();
    /** Rows of the big added table: its copy takes seconds, long enough to act while it runs. */
    static final int BIG = 100_000;
    /** Rows 1..TOASTED hold a value of 6,400 characters of md5 hex: stored out of line (TOAST). */
    static final int TOASTED = 50;

    TestDatabase source;
    TestDatabase warehouse;
    String slot;
    final List<Process> started = new ArrayList<>();

    @BeforeEach
    void createDatabases() {
        source = TestPostgres.createDatabase("bcprobe_src");
        warehouse = TestPostgres.createDatabase("bcprobe_wh");
        slot = "bcprobe_" + source.name();
        source.execute("CREATE TABLE public.orders (id bigserial PRIMARY KEY, note text)",
            "CREATE TABLE public.added (id bigint PRIMARY KEY, n bigint NOT NULL, note text, big text)",
            "INSERT INTO added SELECT g, 0, repeat('x', 300), NULL FROM generate_series(1, " + BIG + ") g",
            "UPDATE added SET big = (SELECT string_agg(md5(id::text || ':' || i), '') FROM generate_series(1, 200) i) WHERE id <= " + TOASTED,
            "INSERT INTO added VALUES (0, 0, 'counter', NULL)",
            "CREATE SEQUENCE added_ids START 1000000");
    }

    @AfterEach
    void cleanUp() throws Exception {
        for (Process process : started) {
            process.destroyForcibly();
            process.waitFor(30, TimeUnit.SECONDS);
        }
        source.dropReplicationSlots(slot);
    }

    Map<String, String> env() {
        return Map.of("SOURCE_DATABASE_URL", source.url(), "WAREHOUSE_DATABASE_URL", warehouse.url());
    }

    Datakits.Run ok(String... args) {
        var all = new ArrayList<>(List.of("--slot", slot));
        all.addAll(List.of(args));
        var run = Datakits.run("PostgresCdc", env(), all.toArray(String[]::new));
        assertThat(run.exitCode()).as(run.toString()).isZero();
        return run;
    }

    /** Writes orders until stopped; while {@code added} is set, also a new row of added and a bump of its counter, in one transaction. */
    static final class Writer implements AutoCloseable {
        final AtomicBoolean stop = new AtomicBoolean();
        final AtomicBoolean added = new AtomicBoolean();
        final CompletableFuture<Void> done;

        Writer(TestDatabase source, String... alsoBumped) {
            done = CompletableFuture.runAsync(() -> {
                try (Connection connection = source.connect(); Statement statement = connection.createStatement()) {
                    connection.setAutoCommit(false);
                    for (long i = 0; !stop.get(); i++) {
                        statement.execute("INSERT INTO orders (note) VALUES ('w" + i + "')");
                        if (added.get()) {
                            statement.execute("INSERT INTO added VALUES (nextval('added_ids'), 0, 'w" + i + "')");
                            statement.execute("UPDATE added SET n = n + 1 WHERE id = 0");
                            for (String other : alsoBumped) {
                                statement.execute("UPDATE " + other + " SET n = n + 1 WHERE id = 0");
                            }
                        }
                        connection.commit();
                        Thread.sleep(2);
                    }
                } catch (SQLException | InterruptedException e) {
                    throw new IllegalStateException(e);
                }
            }, OWN_THREAD);
        }

        @Override
        public void close() throws Exception {
            stop.set(true);
            done.get(60, TimeUnit.SECONDS);
        }
    }

    /**
     * Captures --table orders once, then starts a --follow run (with --apply when asked). The copy of a big table beside the
     * stream is slowed in the warehouse (1 ms every 25th row of 300-character notes, by a trigger an event trigger gives each
     * staging table), so the probes act while it runs: the copy's work is the same, only slower.
     */
    Process follow(Path log, boolean apply) throws Exception {
        if (apply) {
            ok("--table", "orders", "--apply");
        } else {
            ok("--table", "orders");
        }
        warehouse.execute("""
            CREATE FUNCTION public.slow_row() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              IF length(to_jsonb(NEW) ->> 'note') = 300 AND (to_jsonb(NEW) ->> 'id')::bigint % 25 = 0 THEN
                PERFORM pg_sleep(0.001);
              END IF;
              RETURN NEW;
            END $$""", """
            CREATE FUNCTION public.slow_copies() RETURNS event_trigger LANGUAGE plpgsql AS $$
            DECLARE r record;
            BEGIN
              FOR r IN SELECT * FROM pg_event_trigger_ddl_commands() WHERE command_tag = 'CREATE TABLE'
                  AND object_identity LIKE 'bronze._bronze_staging_%' LOOP
                EXECUTE format('CREATE TRIGGER slow BEFORE INSERT ON %s FOR EACH ROW EXECUTE FUNCTION public.slow_row()', r.object_identity);
              END LOOP;
            END $$""",
            "CREATE EVENT TRIGGER slow_copies ON ddl_command_end WHEN TAG IN ('CREATE TABLE') EXECUTE FUNCTION public.slow_copies()");
        var args = new ArrayList<>(List.of("--slot", slot, "--follow", "--verbose"));
        if (apply) {
            args.add("--apply");
        }
        Process follower = Datakits.start("PostgresCdc", env(), log, args.toArray(String[]::new));
        started.add(follower);
        return follower;
    }

    /** Adds {@code table} to the publication while the writer writes it, and waits until its copy beside the stream began. */
    void addAndAwaitLoading(Writer writer, String table, int loadingCuts, Path log) throws Exception {
        source.execute("ALTER PUBLICATION " + slot + " ADD TABLE " + table);
        writer.added.set(true);
        for (int i = 0; i < 600; i++) {
            // Loading, and the copy begun: its cut is made (beside the stream), so what the probe changes next is after it.
            if (Integer.parseInt(loadingCuts()) >= loadingCuts && !warehouse.value("SELECT count(*) FROM pg_stat_activity WHERE query LIKE "
                    + "'COPY %\\_bronze\\_staging\\_%'").equals("0")) {
                return;
            }
            Thread.sleep(50);
        }
        throw new AssertionError("the copy of " + table + " beside the stream did not begin: " + Files.readString(log));
    }

    String loadingCuts() {
        return warehouse.value("SELECT count(*) FROM bronze.extraction_checkpoints, jsonb_each(coalesce(state -> 'tables', '{}')) t "
            + "WHERE stream = 'cdc:" + slot + "' AND partition_name = '' AND coalesce((t.value -> 'snapshot' ->> 'loading')::boolean, false)");
    }

    String marks(String changes) {
        return warehouse.value("SELECT to_regclass('" + changes + "') IS NULL").equals("t") ? "no change table"
            : warehouse.value("SELECT count(*) FROM " + changes + " WHERE _cdc_op = 'snapshot'");
    }

    void awaitStreaming() throws InterruptedException {
        for (int i = 0; i < 600; i++) {
            if (source.value("SELECT count(*) FROM pg_replication_slots WHERE active AND slot_name = '" + slot + "'").equals("1")
                    && !warehouse.value("SELECT count(*) FROM bronze.orders__changes").equals("0")) {
                return;
            }
            Thread.sleep(50);
        }
        throw new AssertionError("the followed run did not stream");
    }

    void awaitMark(String changes, Process follower, Path log) throws Exception {
        for (int i = 0; i < 1200 && follower.isAlive(); i++) {
            if (marks(changes).equals("1")) {
                return;
            }
            Thread.sleep(100);
        }
        throw new AssertionError("the copy never landed (" + changes + " has no mark); follower " + (follower.isAlive() ? "runs" : "exited "
            + follower.exitValue()) + ", its log:\n" + tail(log));
    }

    void awaitCheckpoint(String lsn) throws InterruptedException {
        for (int i = 0; i < 600; i++) {
            if (warehouse.value("SELECT coalesce((SELECT lsn >= '" + lsn + "' FROM bronze.extraction_checkpoints WHERE stream = 'cdc:"
                    + slot + "' AND partition_name = ''), false)").equals("t")) {
                return;
            }
            Thread.sleep(100);
        }
        throw new AssertionError("the stream did not reach " + lsn);
    }

    static String tail(Path log) throws Exception {
        String text = Files.readString(log);
        return text.length() > 6000 ? text.substring(text.length() - 6000) : text;
    }

    String cutSlots() {
        return source.value("SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE 'datakit_cut%'");
    }

    /** The rows a table holds, as one fingerprint (count and md5 over every row in key order). */
    static String fingerprint(TestDatabase db, String table) {
        return db.value("SELECT count(*) || ' ' || md5(string_agg(id || ':' || n || ':' || md5(coalesce(note, '-')) || ':' || "
            + "coalesce(md5(big), '-'), ',' ORDER BY id)) FROM " + table);
    }

    /** The readable rows: the counter, the TOASTed ones, the writer's. */
    static List<List<String>> sample(TestDatabase db, String table) {
        return db.rows("SELECT id, n, CASE WHEN length(note) > 40 THEN md5(note) ELSE note END, coalesce(md5(big), 'NULL') FROM " + table + " WHERE id <= " + TOASTED + " OR id >= 1000000 ORDER BY id");
    }

    void assertEqualToSource(String table) {
        assertThat(sample(warehouse, "bronze." + table)).as("bronze.%s's counter, TOASTed and written rows", table)
            .isEqualTo(sample(source, "public." + table));
        assertThat(fingerprint(warehouse, "bronze." + table)).as("bronze.%s, every row", table).isEqualTo(fingerprint(source, "public." + table));
    }

    /** One mark, no change before it, every source row in the snapshot or inserted after the mark (once), the counter's values once each. */
    void assertSnapshotAndChangesMeetExactly(String table) {
        String bronze = "bronze." + table;
        String changes = bronze + "__changes";
        assertThat(warehouse.rows("SELECT _cdc_old ->> 'reason' FROM " + changes + " WHERE _cdc_op = 'snapshot'"))
            .containsExactly(List.of("added to the stream"));
        String mark = warehouse.value("SELECT _cdc_lsn FROM " + changes + " WHERE _cdc_op = 'snapshot'");
        assertThat(warehouse.value("SELECT count(*) FROM " + changes + " WHERE _cdc_lsn < '" + mark + "'")).as("changes before the mark").isEqualTo("0");
        assertThat(warehouse.value("SELECT count(*) FROM " + changes + " c JOIN " + bronze + " b USING (id) WHERE c._cdc_op = 'insert'"))
            .as("rows both in the snapshot and inserted after it").isEqualTo("0");
        String ids = "SELECT count(*) || ' ' || md5(string_agg(id::text, ',' ORDER BY id)) FROM (%s) i";
        assertThat(warehouse.value(ids.formatted("SELECT id FROM " + bronze + " UNION ALL SELECT id FROM " + changes + " WHERE _cdc_op = 'insert'")))
            .as("the snapshot's rows and the inserted ones are the source's").isEqualTo(source.value(ids.formatted("SELECT id FROM " + table)));
        long base = Long.parseLong(warehouse.value("SELECT n FROM " + bronze + " WHERE id = 0"));
        long last = Long.parseLong(source.value("SELECT n FROM " + table + " WHERE id = 0"));
        assertThat(warehouse.rows("SELECT n FROM " + changes + " WHERE id = 0 ORDER BY _cdc_lsn, _cdc_seq"))
            .extracting(r -> Long.parseLong(r.get(0))).as("the counter's values after the snapshot, once each")
            .isEqualTo(LongStream.rangeClosed(base + 1, last).boxed().toList());
    }

    /** With --apply, SIGKILL while the added table is copied, then a bounded run: the table equals the source, one mark. */
    @Test
    void sigkillDuringTheCopyThenABoundedRunWithApplyLeavesTheTableEqualToTheSource() throws Exception {
        Path log = Files.createTempFile("bcprobe-kill", ".log");
        Process follower = follow(log, true);
        try (var writer = new Writer(source)) {
            awaitStreaming();
            addAndAwaitLoading(writer, "added", 1, log);
            Thread.sleep(800);
            follower.destroyForcibly();
            assertThat(follower.waitFor(30, TimeUnit.SECONDS)).isTrue();
            assertThat(marks("bronze.added__changes")).as("precondition: killed while the copy ran").isEqualTo("0");
            Thread.sleep(300);
        }
        warehouse.execute("DROP EVENT TRIGGER slow_copies");
        ok("--apply");
        assertEqualToSource("added");
        assertThat(marks("bronze.added__changes")).isEqualTo("1");
        String mark = warehouse.value("SELECT _cdc_lsn FROM bronze.added__changes WHERE _cdc_op = 'snapshot'");
        assertThat(warehouse.value("SELECT count(*) FROM bronze.added__changes WHERE _cdc_lsn < '" + mark + "'")).isEqualTo("0");
        assertThat(cutSlots()).as("temporary slots left on the source").isEqualTo("0");
    }

    /** SIGTERM while the added table is copied: the run ends within its 30 s, and the next bounded run meets the changes exactly. */
    @Test
    void sigtermDuringTheCopyEndsInTimeAndTheNextRunMeetsTheChangesExactly() throws Exception {
        Path log = Files.createTempFile("bcprobe-term", ".log");
        Process follower = follow(log, false);
        long took;
        try (var writer = new Writer(source)) {
            awaitStreaming();
            addAndAwaitLoading(writer, "added", 1, log);
            Thread.sleep(800);
            long before = System.nanoTime();
            follower.destroy();
            assertThat(follower.waitFor(90, TimeUnit.SECONDS)).isTrue();
            took = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - before);
            Thread.sleep(300);
        }
        String text = Files.readString(log);
        assertThat(marks("bronze.added__changes")).as("precondition: stopped while the copy ran: " + text).isEqualTo("0");
        assertThat(text).contains("was not loaded before the run ended");
        assertThat(took).as("ms from SIGTERM to exit, the copy abandoned: " + tail(log)).isLessThan(25_000);
        assertThat(follower.exitValue()).isEqualTo(143);
        warehouse.execute("DROP EVENT TRIGGER slow_copies");
        ok();
        assertSnapshotAndChangesMeetExactly("added");
        assertThat(cutSlots()).as("temporary slots left on the source").isEqualTo("0");
    }

    /**
     * With --apply, the walsender is terminated while the added table is copied (after its last change): the stream
     * reconnects with a new capture, and when the copy lands, the table's changes since the cut must still be applied.
     */
    @Test
    void aWalsenderTerminatedDuringTheCopyStillAppliesTheChangesSinceTheCutAtLanding() throws Exception {
        Path log = Files.createTempFile("bcprobe-walsender", ".log");
        Process follower = follow(log, true);
        try (var writer = new Writer(source)) {
            awaitStreaming();
            addAndAwaitLoading(writer, "added", 1, log);
            Thread.sleep(800);
            writer.added.set(false);
            source.execute("UPDATE added SET n = n + 1000, note = 'changed during the copy' WHERE id BETWEEN 100 AND 120");
            String lsn = source.value("SELECT pg_current_wal_lsn()");
            awaitCheckpoint(lsn);
            assertThat(marks("bronze.added__changes")).as("precondition: the copy still runs").isEqualTo("0");
            source.execute("SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = '" + slot + "'");
            awaitMark("bronze.added__changes", follower, log);
        }
        awaitCheckpoint(source.value("SELECT pg_current_wal_lsn()"));
        assertThat(Files.readString(log)).contains("reconnected to the source");
        assertThat(warehouse.rows("SELECT id, n, left(note, 30) FROM bronze.added WHERE id BETWEEN 100 AND 120 OR id = 0 ORDER BY id"))
            .as("the rows changed during the copy, before the walsender was terminated")
            .isEqualTo(source.rows("SELECT id, n, left(note, 30) FROM added WHERE id BETWEEN 100 AND 120 OR id = 0 ORDER BY id"));
        assertEqualToSource("added");
        assertThat(cutSlots()).as("temporary slots left on the source").isEqualTo("0");
    }

    /** With --apply, an update of another column of rows whose TOASTed value is unchanged, during the copy: bronze keeps that value. */
    @Test
    void withApplyAnUnchangedToastValueUpdatedDuringTheCopyIsKeptInBronze() throws Exception {
        Path log = Files.createTempFile("bcprobe-toast-apply", ".log");
        Process follower = follow(log, true);
        try (var writer = new Writer(source)) {
            awaitStreaming();
            addAndAwaitLoading(writer, "added", 1, log);
            source.execute("UPDATE added SET n = n + 1 WHERE id BETWEEN 1 AND " + TOASTED);
            assertThat(marks("bronze.added__changes")).as("precondition: the copy still runs").isEqualTo("0");
            awaitMark("bronze.added__changes", follower, log);
        }
        awaitCheckpoint(source.value("SELECT pg_current_wal_lsn()"));
        assertEqualToSource("added");
        assertThat(cutSlots()).as("temporary slots left on the source").isEqualTo("0");
    }

    /** Without --apply, the same: the change rows of those updates hold the unchanged TOAST value (the snapshot has it), not NULL. */
    @Test
    void withoutApplyTheChangeRowsOfAnUnchangedToastValueUpdatedDuringTheCopyHoldIt() throws Exception {
        Path log = Files.createTempFile("bcprobe-toast", ".log");
        Process follower = follow(log, false);
        try (var writer = new Writer(source)) {
            awaitStreaming();
            addAndAwaitLoading(writer, "added", 1, log);
            source.execute("UPDATE added SET n = n + 1 WHERE id BETWEEN 1 AND " + TOASTED);
            assertThat(marks("bronze.added__changes")).as("precondition: the copy still runs").isEqualTo("0");
            awaitMark("bronze.added__changes", follower, log);
        }
        awaitCheckpoint(source.value("SELECT pg_current_wal_lsn()"));
        assertSnapshotAndChangesMeetExactly("added");
        assertThat(warehouse.rows("SELECT id, n, coalesce(md5(big), 'NULL'), coalesce(_cdc_unknown::text, '') FROM bronze.added__changes "
            + "WHERE _cdc_op = 'update' AND id BETWEEN 1 AND " + TOASTED + " ORDER BY id"))
            .as("the change rows of the updates of TOASTed rows: their unchanged value, known")
            .isEqualTo(source.rows("SELECT id, n, md5(big), '' FROM added WHERE id BETWEEN 1 AND " + TOASTED + " ORDER BY id"));
    }

    /**
     * With --apply, a second table added while the first still copies: the stream must go on meanwhile (the other tables'
     * changes keep landing, the second table is cut and lands), and both tables end equal to the source, no slot left.
     */
    @Test
    void aSecondTableAddedWhileTheFirstStillCopiesDoesNotStallTheStreamAndBothEqualTheSource() throws Exception {
        source.execute("CREATE TABLE public.second (id bigint PRIMARY KEY, n bigint NOT NULL, note text, big text)",
            "INSERT INTO second SELECT g, 0, 'second ' || g, NULL FROM generate_series(0, 5000) g");
        Path log = Files.createTempFile("bcprobe-two", ".log");
        Process follower = follow(log, true);
        try (var writer = new Writer(source, "second")) {
            awaitStreaming();
            addAndAwaitLoading(writer, "added", 1, log);
            source.execute("ALTER PUBLICATION " + slot + " ADD TABLE second");
            Thread.sleep(1000);
            String lsn = source.value("SELECT pg_current_wal_lsn()");
            boolean flowing = false;
            for (int i = 0; i < 50 && !flowing; i++) {
                flowing = warehouse.value("SELECT lsn >= '" + lsn + "' FROM bronze.extraction_checkpoints WHERE stream = 'cdc:" + slot
                    + "' AND partition_name = ''").equals("t");
                Thread.sleep(100);
            }
            String firstLanded = marks("bronze.added__changes");
            // What the second table's cut waits for: the transactions with an xid on the server (source and warehouse share it here).
            var waits = source.rows("SELECT datname, backend_type, coalesce(wait_event, ''), backend_xid::text IS NOT NULL, left(query, 60) "
                + "FROM pg_stat_activity WHERE backend_xid IS NOT NULL OR wait_event = 'transactionid' OR query LIKE 'CREATE_REPLICATION_SLOT%'");
            // One copy at a time (the second's cut would wait for the first copy's warehouse transaction on a shared server): the
            // stream flows meanwhile, and the second table lands after the first.
            assertThat(flowing && firstLanded.equals("0"))
                .as("within 6 s of the second table joining, while the first still copies (its marks: %s), the stream's checkpoint "
                    + "passes %s (%s); waiting: %s; the log:%n%s", firstLanded, lsn, flowing,
                    waits, tail(log).replaceAll("(?m)^.*(hikari|progress).*\\R", "")).isTrue();
            awaitMark("bronze.added__changes", follower, log);
            awaitMark("bronze.second__changes", follower, log);
        }
        awaitCheckpoint(source.value("SELECT pg_current_wal_lsn()"));
        assertEqualToSource("added");
        assertEqualToSource("second");
        assertThat(cutSlots()).as("temporary slots left on the source").isEqualTo("0");
        assertThat(follower.isAlive()).isTrue();
    }
}
