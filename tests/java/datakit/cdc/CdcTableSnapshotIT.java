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
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A table loaded from a snapshot while its stream runs (a table added to the stream, {@code --resnapshot}): the snapshot
 * and the table's changes meet exactly, with writers busy on it and on the other tables all along. Each check reads what
 * bronze holds back and compares it with the source: every row either in the snapshot or inserted by a change after its
 * mark, never both and never neither; a counter row bumped by every writer transaction has, after the mark, every value
 * from the snapshot's on, once each.
 */
class CdcTableSnapshotIT {
    /** Writers run on threads of their own: the common pool may have a single one on a small machine. */
    static final java.util.concurrent.Executor OWN_THREAD = task -> new Thread(task).start();

    TestDatabase source;
    TestDatabase warehouse;
    String slot;
    final List<Process> started = new ArrayList<>();

    @BeforeEach
    void createDatabases() {
        source = TestPostgres.createDatabase("cdcsnap_src");
        warehouse = TestPostgres.createDatabase("cdcsnap_wh");
        slot = "snap_" + source.name();
        source.execute("CREATE TABLE public.orders (id bigserial PRIMARY KEY, note text)",
            "CREATE TABLE public.added (id bigint PRIMARY KEY, n bigint NOT NULL, note text)",
            "INSERT INTO added SELECT g, 0, 'before ' || g FROM generate_series(1, 20000) g",
            "INSERT INTO added VALUES (0, 0, 'counter')",
            "CREATE SEQUENCE added_ids START 1000000");
    }

    @AfterEach
    void dropSlot() throws Exception {
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

    /**
     * Writes until stopped, in small transactions: a row into orders; a row into added with its counter bumped; and
     * sometimes both tables in one transaction. Returns the number of orders inserted.
     */
    static final class Writer implements AutoCloseable {
        final AtomicBoolean stop = new AtomicBoolean();
        final AtomicLong orders = new AtomicLong();
        final CompletableFuture<Void> done;

        Writer(TestDatabase source) {
            done = CompletableFuture.runAsync(() -> {
                try (Connection connection = source.connect(); Statement statement = connection.createStatement()) {
                    connection.setAutoCommit(false);
                    for (long i = 0; !stop.get(); i++) {
                        if (i % 3 != 1) {
                            statement.execute("INSERT INTO orders (note) VALUES ('w" + i + "')");
                        }
                        if (i % 3 != 0) {
                            statement.execute("INSERT INTO added VALUES (nextval('added_ids'), 0, 'w" + i + "')");
                            statement.execute("UPDATE added SET n = n + 1 WHERE id = 0");
                        }
                        connection.commit();
                        if (i % 3 != 1) {
                            orders.incrementAndGet();
                        }
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

    @Test
    void aTableAddedToTheStreamWhileItFollowsMeetsItsChangesExactlyWhileTheOtherTableFlows() throws Exception {
        ok("--table", "orders");
        Path log = Files.createTempFile("cdc-follow", ".log");
        Process follower = Datakits.start("PostgresCdc", env(), log, "--slot", slot, "--follow");
        started.add(follower);
        try (var writer = new Writer(source)) {
            awaitStreaming();
            // A transaction that wrote the table before it joined the publication, and commits after.
            try (Connection early = source.connect(); Statement statement = early.createStatement()) {
                early.setAutoCommit(false);
                statement.execute("INSERT INTO added VALUES (nextval('added_ids'), 0, 'early')");
                source.execute("ALTER PUBLICATION " + slot + " ADD TABLE added");
                Thread.sleep(500);
                statement.execute("UPDATE added SET n = n + 1 WHERE id = 0");
                early.commit();
            }
            Thread.sleep(2500);
        }
        String end = source.value("SELECT pg_current_wal_lsn()");
        awaitCheckpoint(end);
        follower.destroy();
        assertThat(follower.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertOrdersEachOnce();
        assertSnapshotAndChangesMeetExactly("bronze.added", "added to the stream");
        assertThat(Files.readString(log)).contains("table snapshots: table: bronze.added; at: ", "reason: added to the stream");
    }

    @Test
    void aLongTransactionOnTheSourceHoldsBackTheNewTablesCutButNotTheStream() throws Exception {
        ok("--table", "orders");
        Path log = Files.createTempFile("cdc-follow-long", ".log");
        Process follower = Datakits.start("PostgresCdc", env(), log, "--slot", slot, "--follow");
        started.add(follower);
        try (var writer = new Writer(source); Connection open = source.connect(); Statement statement = open.createStatement()) {
            awaitStreaming();
            open.setAutoCommit(false);
            statement.execute("INSERT INTO orders (note) VALUES ('long')"); // a transaction in progress, with an id
            source.execute("ALTER PUBLICATION " + slot + " ADD TABLE added");
            Thread.sleep(1000);
            // The cut waits for the open transaction; the stream does not: other changes committed since land.
            awaitCheckpoint(source.value("SELECT pg_current_wal_lsn()"));
            assertThat(warehouse.value("SELECT count(*) FROM bronze.added__changes WHERE _cdc_op = 'snapshot'")).isEqualTo("0");
            open.commit();
            for (int i = 0; i < 300 && !warehouse.value("SELECT count(*) FROM bronze.added__changes WHERE _cdc_op = 'snapshot'").equals("1"); i++) {
                Thread.sleep(100);
            }
            Thread.sleep(500);
        }
        awaitCheckpoint(source.value("SELECT pg_current_wal_lsn()"));
        follower.destroy();
        assertThat(follower.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertOrdersEachOnce();
        assertSnapshotAndChangesMeetExactly("bronze.added", "added to the stream");
    }

    @Test
    void withApplyATableAddedWhileFollowingIsCopiedBesideTheStreamAndKeptEqualToTheSource() throws Exception {
        // Big enough that its copy takes a while: the other table's changes land meanwhile.
        source.execute("INSERT INTO added SELECT g, 0, repeat('x', 300) FROM generate_series(100000, 400000) g",
            "CREATE TABLE public.quiet (id int PRIMARY KEY, note text)", "INSERT INTO quiet SELECT g, 'q' FROM generate_series(1, 50) g");
        ok("--table", "orders", "--apply");
        Path log = Files.createTempFile("cdc-follow-apply", ".log");
        Process follower = Datakits.start("PostgresCdc", env(), log, "--slot", slot, "--follow", "--apply", "--verbose");
        started.add(follower);
        try (var writer = new Writer(source)) {
            awaitStreaming();
            source.execute("ALTER PUBLICATION " + slot + " ADD TABLE added", "ALTER PUBLICATION " + slot + " ADD TABLE quiet");
            Thread.sleep(3000);
        }
        awaitCheckpoint(source.value("SELECT pg_current_wal_lsn()"));
        // A table added that never changes is loaded too, by the run's look at its publication.
        for (int i = 0; i < 300 && warehouse.value("SELECT to_regclass('bronze.quiet__changes') IS NOT NULL AND EXISTS (SELECT 1 FROM "
                + "bronze.extraction_checkpoints WHERE stream = 'cdc:" + slot + "' AND NOT (state -> 'tables' @? '$.*.snapshot ? (@.loading == true)'))")
                .equals("f"); i++) {
            Thread.sleep(100);
        }
        follower.destroy();
        assertThat(follower.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertOrdersEachOnce();
        assertThat(warehouse.rows("SELECT id, note FROM bronze.quiet ORDER BY id")).isEqualTo(source.rows("SELECT id, note FROM quiet ORDER BY id"));
        assertThat(warehouse.value("SELECT count(*) FROM bronze.quiet__changes WHERE _cdc_op = 'snapshot'")).isEqualTo("1");
        String rows = "SELECT id, n, note FROM %s ORDER BY id";
        assertThat(warehouse.rows(rows.formatted("bronze.added"))).isEqualTo(source.rows(rows.formatted("added")));
        assertThat(warehouse.rows(rows.formatted("bronze.orders").replace("n, ", ""))).isEqualTo(source.rows(rows.formatted("orders").replace("n, ", "")));
        String mark = warehouse.value("SELECT _cdc_lsn FROM bronze.added__changes WHERE _cdc_op = 'snapshot'");
        assertThat(warehouse.value("SELECT count(*) FROM bronze.added__changes WHERE _cdc_lsn < '" + mark + "'")).isEqualTo("0");
        assertThat(Files.readString(log)).contains("reason: added to the stream");
        assertThat(warehouse.value("SELECT count(*) FROM bronze.orders__changes WHERE _cdc_lsn > '" + mark + "' AND _bronze_loaded_at < "
            + "(SELECT _bronze_loaded_at FROM bronze.added__changes WHERE _cdc_op = 'snapshot')"))
            .as("changes of orders after the cut that landed while added was copied: " + Files.readString(log)).isNotEqualTo("0");
    }

    @Test
    void aTableAddedWithTableToABoundedRunMeetsItsChangesExactly() throws Exception {
        ok("--table", "orders");
        try (var writer = new Writer(source)) {
            Thread.sleep(500);
            Path log = Files.createTempFile("cdc-bounded", ".log");
            Process run = Datakits.start("PostgresCdc", env(), log, "--slot", slot, "--table", "orders", "--table", "added", "--verbose");
            started.add(run);
            boolean ended = run.waitFor(2, TimeUnit.MINUTES);
            assertThat(ended).as(Files.readString(log)).isTrue();
            assertThat(run.exitValue()).as(Files.readString(log)).isZero();
            Thread.sleep(500);
        }
        var last = ok("--table", "orders", "--table", "added");
        assertThat(last.out()).doesNotContain("table_snapshots");
        assertOrdersEachOnce();
        assertSnapshotAndChangesMeetExactly("bronze.added", "added to the stream");
    }

    @Test
    void resnapshotWithConcurrentWritesKeepsApplyEqualToTheSourceAndTheHistoryWhole() throws Exception {
        source.execute("CREATE TABLE public.tags (v int, note text)", "ALTER TABLE tags REPLICA IDENTITY FULL",
            "INSERT INTO tags SELECT g % 7, 'same' FROM generate_series(1, 2000) g");
        ok("--table", "orders", "--table", "added", "--table", "tags", "--apply");
        AtomicBoolean stop = new AtomicBoolean();
        var tagWriter = CompletableFuture.runAsync(() -> {
            for (int i = 0; !stop.get(); i++) {
                source.execute("INSERT INTO tags VALUES (" + (i % 7) + ", 'same')",
                    "DELETE FROM tags WHERE ctid = (SELECT ctid FROM tags WHERE v = " + (i % 5) + " LIMIT 1)");
            }
        }, OWN_THREAD);
        try (var writer = new Writer(source)) {
            Thread.sleep(1000);
            var run = ok("--table", "orders", "--table", "added", "--table", "tags", "--apply", "--resnapshot", "added,tags");
            assertThat(run.out()).contains("table snapshots: table: bronze.added; at: ");
            Thread.sleep(1000);
        } finally {
            stop.set(true);
            tagWriter.get(60, TimeUnit.SECONDS);
        }
        ok("--table", "orders", "--table", "added", "--table", "tags", "--apply");

        assertOrdersEachOnce();
        String rows = "SELECT id, n, note FROM %s ORDER BY id";
        assertThat(warehouse.rows(rows.formatted("bronze.added"))).isEqualTo(source.rows(rows.formatted("added")));
        String multiset = "SELECT v, note, count(*) FROM %s GROUP BY 1, 2 ORDER BY 1, 2";
        assertThat(warehouse.rows(multiset.formatted("bronze.tags"))).isEqualTo(source.rows(multiset.formatted("tags")));
        // The history is whole: every bump of the counter since the stream began, once each, in order.
        assertThat(warehouse.rows("SELECT n FROM bronze.added__changes WHERE id = 0 AND _cdc_op = 'update' ORDER BY _cdc_lsn, _cdc_seq"))
            .extracting(r -> Long.parseLong(r.get(0)))
            .isEqualTo(java.util.stream.LongStream.rangeClosed(1, Long.parseLong(source.value("SELECT n FROM added WHERE id = 0"))).boxed().toList());
        assertThat(warehouse.rows("SELECT _cdc_old ->> 'reason' FROM bronze.added__changes WHERE _cdc_op = 'snapshot'"))
            .containsExactly(List.of("--resnapshot"));
        assertThat(warehouse.rows("SELECT _cdc_old ->> 'reason' FROM bronze.tags__changes WHERE _cdc_op = 'snapshot'"))
            .containsExactly(List.of("--resnapshot"));
    }

    @Test
    void aPartialResnapshotRefreshesTheRowsOfItsWhereAndLeavesTheOthers() {
        ok("--table", "added", "--apply");
        warehouse.execute("UPDATE bronze.added SET note = 'wrong' WHERE id BETWEEN 1 AND 200");
        source.execute("UPDATE added SET note = 'changed' WHERE id = 7");
        var plan = ok("--table", "added", "--apply", "--resnapshot", "added", "--where", "id <= 100", "--dry-run");
        assertThat(plan.out()).contains("snapshot    public.added would be loaded again from a snapshot (--resnapshot --where id <= 100)");
        assertThat(warehouse.value("SELECT count(*) FROM bronze.added__changes")).isEqualTo("0");
        var run = ok("--table", "added", "--apply", "--resnapshot", "added", "--where", "id <= 100");
        assertThat(run.out()).contains("id <= 100");
        assertThat(warehouse.value("SELECT count(*) FROM bronze.added WHERE note = 'wrong'")).isEqualTo("100");
        assertThat(warehouse.value("SELECT min(id) FROM bronze.added WHERE note = 'wrong'")).isEqualTo("101");
        assertThat(warehouse.value("SELECT note FROM bronze.added WHERE id = 7")).isEqualTo("changed");
        assertThat(warehouse.rows("SELECT _cdc_old ->> 'where', _cdc_old ->> 'rows' FROM bronze.added__changes WHERE _cdc_op = 'snapshot'"))
            .containsExactly(List.of("id <= 100", "101"));
    }

    @Test
    void resnapshotOfATableOutsideTheStreamOrAWhereWithoutAKeyIsRefusedBeforeAnythingChanges() {
        ok("--table", "orders");
        var outside = Datakits.run("PostgresCdc", env(), "--slot", slot, "--resnapshot", "added");
        Datakits.assertFailsWithOneLine(outside, 2, "--resnapshot public.added names no table of this stream (it captures public.orders)");
        var badWhere = Datakits.run("PostgresCdc", env(), "--slot", slot, "--resnapshot", "orders", "--where", "nosuch > 1");
        Datakits.assertFailsWithOneLine(badWhere, 2, "--where nosuch > 1 is no condition on the rows of public.orders: ");
        var twoTables = Datakits.run("PostgresCdc", env(), "--slot", slot, "--resnapshot", "orders,added", "--where", "id > 1");
        Datakits.assertFailsWithOneLine(twoTables, 2, "--where limits the rows of one --resnapshot table, and 2 were given");
        assertThat(warehouse.value("SELECT count(*) FROM bronze.orders__changes")).isEqualTo("0");
    }

    /** Every order the writer inserted after the stream began is in the change table once, and nothing else is. */
    void assertOrdersEachOnce() {
        assertThat(warehouse.value("SELECT count(*) FROM bronze.orders__changes WHERE _cdc_op = 'insert'"))
            .isEqualTo(source.value("SELECT count(*) FROM orders"));
        assertThat(warehouse.value("SELECT count(DISTINCT id) FROM bronze.orders__changes")).isEqualTo(source.value("SELECT count(*) FROM orders"));
    }

    /**
     * The bronze table holds the snapshot, its change table one mark and after it only changes the snapshot does not hold:
     * each source row in exactly one of them, and the counter's every value after the snapshot's once.
     */
    void assertSnapshotAndChangesMeetExactly(String bronze, String reason) {
        String changes = bronze + "__changes";
        assertThat(warehouse.rows("SELECT _cdc_old ->> 'reason' FROM " + changes + " WHERE _cdc_op = 'snapshot'")).containsExactly(List.of(reason));
        String mark = warehouse.value("SELECT _cdc_lsn FROM " + changes + " WHERE _cdc_op = 'snapshot'");
        assertThat(warehouse.value("SELECT count(*) FROM " + changes + " WHERE _cdc_lsn < '" + mark + "'")).isEqualTo("0");
        List<List<String>> inserted = warehouse.rows("SELECT id FROM " + changes + " WHERE _cdc_op = 'insert' ORDER BY 1");
        List<List<String>> snapshot = warehouse.rows("SELECT id FROM " + bronze + " ORDER BY 1");
        assertThat(inserted).doesNotContainAnyElementsOf(snapshot);
        var all = new ArrayList<>(snapshot);
        all.addAll(inserted);
        all.sort((a, b) -> Long.compare(Long.parseLong(a.get(0)), Long.parseLong(b.get(0))));
        assertThat(all).isEqualTo(source.rows("SELECT id FROM added ORDER BY id"));
        long base = Long.parseLong(warehouse.value("SELECT n FROM " + bronze + " WHERE id = 0"));
        long last = Long.parseLong(source.value("SELECT n FROM added WHERE id = 0"));
        assertThat(warehouse.rows("SELECT n FROM " + changes + " WHERE id = 0 ORDER BY _cdc_lsn, _cdc_seq"))
            .extracting(r -> Long.parseLong(r.get(0)))
            .isEqualTo(java.util.stream.LongStream.rangeClosed(base + 1, last).boxed().toList());
        assertThat(last - base).as("the writer bumped the counter after the snapshot").isPositive();
    }

    /** Waits until a followed run streams: its slot is in use, and a change of orders has landed. */
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

    /** Waits until the stream's checkpoint is at or past {@code lsn}. */
    void awaitCheckpoint(String lsn) throws InterruptedException {
        for (int i = 0; i < 600; i++) {
            if (warehouse.value("SELECT coalesce((SELECT lsn >= '" + lsn + "' FROM bronze.extraction_checkpoints WHERE stream = 'cdc:"
                    + slot + "'), false)").equals("t")) {
                return;
            }
            Thread.sleep(100);
        }
        throw new AssertionError("the stream did not reach " + lsn);
    }
}
