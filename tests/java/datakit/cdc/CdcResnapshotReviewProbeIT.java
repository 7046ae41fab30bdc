package datakit.cdc;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import datakit.testing.Datakits;
import datakit.testing.TestDatabase;
import datakit.testing.TestPostgres;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Review probes of table snapshots inside a running stream (--resnapshot, tables new to the stream), --on-slot-lost and
 * the cut's temporary slot: each fails when the defect it names is there. Each compares what bronze holds with the source.
 */
class CdcResnapshotReviewProbeIT {
    static final ObjectMapper JSON = new ObjectMapper();

    TestDatabase source;
    TestDatabase warehouse;
    String slot;
    final List<Process> started = new ArrayList<>();

    @BeforeEach
    void createDatabases() {
        source = TestPostgres.createDatabase("probe_src");
        warehouse = TestPostgres.createDatabase("probe_wh");
        slot = "probe_" + source.name();
        source.execute("CREATE TABLE public.items (id int PRIMARY KEY, n int NOT NULL DEFAULT 0, note text)",
            "INSERT INTO items SELECT g, 0, 'item ' || g FROM generate_series(1, 100) g");
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

    Datakits.Run run(String... args) {
        var all = new ArrayList<>(List.of("--slot", slot));
        all.addAll(List.of(args));
        return Datakits.run("PostgresCdc", env(), all.toArray(String[]::new));
    }

    Datakits.Run ok(String... args) {
        var run = run(args);
        assertThat(run.exitCode()).as(run.toString()).isZero();
        return run;
    }

    String checkpoint() {
        return warehouse.value("SELECT lsn FROM bronze.extraction_checkpoints WHERE stream = 'cdc:" + slot + "' AND partition_name = ''");
    }

    /** Waits until the stream's checkpoint reaches {@code lsn}; false when the process ended first or time ran out. */
    boolean awaitCheckpoint(Process process, String lsn) throws InterruptedException {
        for (int i = 0; i < 400 && process.isAlive(); i++) {
            if (warehouse.value("SELECT coalesce((SELECT lsn >= '" + lsn + "' FROM bronze.extraction_checkpoints WHERE stream = 'cdc:"
                    + slot + "' AND partition_name = ''), false)").equals("t")) {
                return true;
            }
            Thread.sleep(100);
        }
        return false;
    }

    String cutSlots() {
        return source.value("SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE 'datakit_cut_%'");
    }

    /**
     * A table added to the publication by hand, changed, then dropped before the stream reached it: its snapshot cannot be
     * taken, and the table is gone; the followed stream must go on with the other tables (it has nothing to load).
     */
    @Test
    void aTableAddedByHandChangedAndDroppedBeforeItsSnapshotDoesNotStopAFollowedStream() throws Exception {
        ok("--table", "items");
        source.execute("CREATE TABLE public.extra (id int PRIMARY KEY, note text)", "ALTER PUBLICATION " + slot + " ADD TABLE extra",
            "INSERT INTO extra VALUES (1, 'gone soon')", "UPDATE items SET n = 1 WHERE id = 1", "DROP TABLE extra",
            "UPDATE items SET n = 2 WHERE id = 2");
        Path log = Files.createTempFile("probe-drop", ".log");
        Process follower = Datakits.start("PostgresCdc", env(), log, "--slot", slot, "--follow");
        started.add(follower);
        String first = source.value("SELECT pg_current_wal_lsn()");
        boolean reached = awaitCheckpoint(follower, first);
        source.execute("UPDATE items SET n = 3 WHERE id = 3");
        String second = source.value("SELECT pg_current_wal_lsn()");
        boolean reachedAgain = reached && awaitCheckpoint(follower, second);
        boolean alive = follower.isAlive();
        // Whether the stream is stuck, or only the follower died: the next bounded run.
        String next = alive ? "" : "; the next bounded run: " + run();
        assertThat(reachedAgain && alive).as("the follower still streams after a dropped added table; it "
            + (alive ? "runs" : "exited " + follower.exitValue()) + ", its log:\n" + Files.readString(log) + next).isTrue();
        assertThat(warehouse.value("SELECT count(*) FROM bronze.items__changes WHERE _cdc_op = 'update'")).isEqualTo("3");
    }

    /**
     * A table added to the publication by hand, changed, then renamed before a follower starts: the stream follows tables
     * by identity, so it loads the table (under its new name) and goes on.
     */
    @Test
    void aTableAddedByHandChangedAndRenamedBeforeTheFollowerStartsIsLoadedAndTheStreamGoesOn() throws Exception {
        ok("--table", "items");
        source.execute("CREATE TABLE public.extra (id int PRIMARY KEY, note text)", "ALTER PUBLICATION " + slot + " ADD TABLE extra",
            "INSERT INTO extra VALUES (1, 'one')", "ALTER TABLE extra RENAME TO extra_v2", "INSERT INTO extra_v2 VALUES (2, 'two')",
            "UPDATE items SET n = 1 WHERE id = 1");
        Path log = Files.createTempFile("probe-rename", ".log");
        Process follower = Datakits.start("PostgresCdc", env(), log, "--slot", slot, "--follow");
        started.add(follower);
        boolean reached = awaitCheckpoint(follower, source.value("SELECT pg_current_wal_lsn()"));
        source.execute("INSERT INTO extra_v2 VALUES (3, 'three')");
        boolean reachedAgain = reached && awaitCheckpoint(follower, source.value("SELECT pg_current_wal_lsn()"));
        assertThat(reachedAgain && follower.isAlive()).as("the follower still streams after a renamed added table; its log:\n"
            + Files.readString(log)).isTrue();
        // A followed run loads a table new to it beside its stream: it lands after the checkpoint may have passed.
        awaitMarked(follower, "coalesce(to_regclass('bronze.extra_v2__changes'), to_regclass('bronze.extra__changes'))");
        String bronze = warehouse.value("SELECT coalesce(to_regclass('bronze.extra_v2')::text, to_regclass('bronze.extra')::text)");
        assertThat(bronze).as("a bronze table of the added table").isNotNull();
        List<List<String>> snapshot = warehouse.rows("SELECT id FROM " + bronze + " ORDER BY 1");
        List<List<String>> inserted = warehouse.rows("SELECT id FROM " + bronze + "__changes WHERE _cdc_op = 'insert' ORDER BY 1");
        var all = new ArrayList<>(snapshot);
        all.addAll(inserted);
        assertThat(all).containsExactlyInAnyOrderElementsOf(source.rows("SELECT id FROM extra_v2"));
    }

    /** Waits until the change table {@code regclass} (an SQL expression, NULL while it does not exist) has its snapshot mark. */
    void awaitMarked(Process follower, String regclass) throws InterruptedException {
        for (int i = 0; i < 600 && follower.isAlive(); i++) {
            String table = warehouse.value("SELECT " + regclass + "::text");
            if (table != null && warehouse.value("SELECT count(*) FROM " + table + " WHERE _cdc_op = 'snapshot'").equals("1")) {
                return;
            }
            Thread.sleep(100);
        }
        throw new AssertionError("no snapshot mark in " + regclass);
    }

    /** --dry-run with --resnapshot: nothing made (no temporary slot, no mark), and the plan says the table would be reloaded. */
    @Test
    void aDryRunWithResnapshotMakesNothingAndSaysTheTableWouldBeReloaded() throws Exception {
        ok("--table", "items");
        source.execute("UPDATE items SET n = 5 WHERE id <= 10");
        var dry = ok("--table", "items", "--resnapshot", "items", "--dry-run", "--json");
        assertThat(cutSlots()).isEqualTo("0");
        assertThat(warehouse.value("SELECT count(*) FROM bronze.items__changes")).isEqualTo("0");
        assertThat(warehouse.value("SELECT count(*) FROM bronze.items WHERE n = 5")).isEqualTo("0");
        JsonNode plan = JSON.readTree(dry.out());
        assertThat(plan.toString()).as("the dry run's plan names the reload --resnapshot asks for: " + plan)
            .containsAnyOf("resnapshot", "bronze.items from a snapshot", "reload");
    }

    /**
     * The cut needs one more replication slot: with none left, the run fails with one line naming max_replication_slots
     * (exit 3, the server is not in the state the run needs), and nothing changes.
     */
    @Test
    void aResnapshotWithNoReplicationSlotLeftFailsWithOneClearLineAndChangesNothing() {
        ok("--table", "items");
        source.execute("UPDATE items SET n = 7 WHERE id = 1");
        String held = checkpoint();
        int free = Integer.parseInt(source.value("SELECT current_setting('max_replication_slots')::int - count(*) FROM pg_replication_slots"));
        var fillers = new ArrayList<String>();
        Datakits.Run refused;
        try {
            for (int i = 0; i < free; i++) {
                String name = "probe_fill_" + i;
                source.execute("SELECT pg_create_physical_replication_slot('" + name + "')");
                fillers.add(name);
            }
            refused = run("--table", "items", "--resnapshot", "items");
        } finally {
            fillers.forEach(name -> source.execute("SELECT pg_drop_replication_slot('" + name + "')"));
        }
        assertThat(checkpoint()).isEqualTo(held);
        assertThat(warehouse.value("SELECT count(*) FROM bronze.items__changes")).isEqualTo("0");
        assertThat(cutSlots()).isEqualTo("0");
        Datakits.assertFailsWithOneLine(refused, 3, "max_replication_slots", "--resnapshot");
    }

    /**
     * Killed (halted right after its first batch commit) after its --resnapshot of a keyed and a keyless table committed, and
     * before the stream passed the cut; the next run must neither apply the changes before the cut again (a keyless table
     * would hold their rows twice) nor write a change twice.
     */
    @Test
    void aRunHaltedAfterItsResnapshotCommittedAndBeforeTheStreamPassedTheCutAppliesNothingTwice() throws Exception {
        source.execute("CREATE TABLE public.tags (v int, note text)", "ALTER TABLE tags REPLICA IDENTITY FULL",
            "INSERT INTO tags SELECT g % 7, 'same' FROM generate_series(1, 300) g",
            "INSERT INTO items SELECT g, 0, 'more' FROM generate_series(101, 3000) g");
        ok("--table", "items", "--table", "tags", "--apply");
        for (int i = 0; i < 50; i++) {
            source.execute("UPDATE items SET n = n + 1", "INSERT INTO tags VALUES (" + (i % 7) + ", 'same')",
                "DELETE FROM tags WHERE ctid = (SELECT ctid FROM tags WHERE v = " + (i % 5) + " LIMIT 1)");
        }
        var env = new HashMap<>(env());
        env.put("DATAKIT_FAULT_HALT_AFTER_COMMIT", "1");
        Path log = Files.createTempFile("probe-halt", ".log");
        Process halted = Datakits.start("PostgresCdc", env, log, "--slot", slot, "--table", "items", "--table", "tags", "--apply",
            "--resnapshot", "items,tags");
        started.add(halted);
        assertThat(halted.waitFor(120, TimeUnit.SECONDS)).isTrue();
        assertThat(halted.exitValue()).as(Files.readString(log)).isEqualTo(137);
        String mark = warehouse.value("SELECT _cdc_lsn FROM bronze.tags__changes WHERE _cdc_op = 'snapshot'");
        assertThat(mark).as("the resnapshot committed before the halt: " + Files.readString(log)).isNotNull();
        assertThat(warehouse.value("SELECT '" + checkpoint() + "'::pg_lsn < '" + mark + "'::pg_lsn"))
            .as("halted before the stream passed the cut (checkpoint %s, cut %s)", checkpoint(), mark).isEqualTo("t");
        source.execute("UPDATE items SET n = n + 1 WHERE id <= 10", "INSERT INTO tags VALUES (1, 'after')");
        ok("--table", "items", "--table", "tags", "--apply");

        String rows = "SELECT id, n, note FROM %s ORDER BY id";
        assertThat(warehouse.rows(rows.formatted("bronze.items"))).isEqualTo(source.rows(rows.formatted("items")));
        String multiset = "SELECT v, note, count(*) FROM %s GROUP BY 1, 2 ORDER BY 1, 2";
        assertThat(warehouse.rows(multiset.formatted("bronze.tags"))).isEqualTo(source.rows(multiset.formatted("tags")));
        assertThat(warehouse.rows("SELECT n FROM bronze.items__changes WHERE id = 1 AND _cdc_op = 'update' ORDER BY _cdc_lsn, _cdc_seq"))
            .extracting(r -> Integer.parseInt(r.get(0)))
            .isEqualTo(java.util.stream.IntStream.rangeClosed(1, 51).boxed().toList());
        assertThat(warehouse.value("SELECT count(*) FROM bronze.items__changes WHERE _cdc_op = 'snapshot'")).isEqualTo("1");
    }

    /**
     * --where with --apply loads the rows of the condition again: afterwards bronze's rows that match it are the source's,
     * including a row bronze holds (drift) that the source does not have.
     */
    @Test
    void aPartialResnapshotMakesTheRowsOfItsWhereEqualToTheSource() {
        ok("--table", "items", "--apply");
        // Drift to repair: bronze holds a row 150 the source has not, and lacks 50.
        warehouse.execute("UPDATE bronze.items SET id = 150 WHERE id = 50", "UPDATE bronze.items SET note = 'wrong' WHERE id = 7");
        ok("--table", "items", "--apply", "--resnapshot", "items", "--where", "id <= 200");
        String rows = "SELECT id, n, note FROM %s WHERE id <= 200 ORDER BY id";
        assertThat(warehouse.rows(rows.formatted("bronze.items"))).isEqualTo(source.rows(rows.formatted("items")));
    }

    /**
     * --snapshot always (the run the docs advise to repair bronze; here with --resnapshot too) makes the slot again, and the
     * changes committed since the last run are not read from the old slot: the change table must hold them, or mark the gap
     * as a slot made again after it was lost does.
     */
    @Test
    void snapshotAlwaysWithResnapshotKeepsTheChangesSinceTheLastRunOrMarksTheGap() {
        ok("--table", "items");
        source.execute("INSERT INTO items VALUES (1001, 0, 'since the last run')");
        var run = ok("--table", "items", "--resnapshot", "items", "--snapshot", "always");
        String held = warehouse.value("SELECT count(*) FROM bronze.items__changes WHERE id = 1001 AND _cdc_op = 'insert'");
        String marks = warehouse.value("SELECT count(*) FROM bronze.items__changes WHERE _cdc_op = 'snapshot' AND _cdc_old ->> 'gap_from' IS NOT NULL");
        assertThat(held.equals("1") || marks.equals("1")).as("the insert of 1001 in bronze.items__changes (%s) or a gap mark (%s); run:\n%s",
            held, marks, run).isTrue();
    }

    /** A lost slot made again with --apply: a keyless table is reloaded as a multiset equal to the source, and stays so. */
    @Test
    void aLostSlotMadeAgainWithApplyKeepsAKeylessTableEqualToTheSource() {
        source.execute("CREATE TABLE public.tags (v int, note text)", "ALTER TABLE tags REPLICA IDENTITY FULL",
            "INSERT INTO tags SELECT g % 7, 'same' FROM generate_series(1, 300) g");
        ok("--table", "items", "--table", "tags", "--apply");
        source.execute("INSERT INTO tags VALUES (1, 'seen')", "DELETE FROM tags WHERE ctid = (SELECT ctid FROM tags WHERE v = 2 LIMIT 1)");
        ok("--table", "items", "--table", "tags", "--apply");
        source.dropReplicationSlots(slot);
        source.execute("INSERT INTO tags VALUES (1, 'lost'), (1, 'lost')", "DELETE FROM tags WHERE ctid = (SELECT ctid FROM tags WHERE v = 3 LIMIT 1)",
            "UPDATE items SET note = 'lost' WHERE id = 4");
        ok("--table", "items", "--table", "tags", "--apply", "--on-slot-lost", "resnapshot");
        source.execute("INSERT INTO tags VALUES (1, 'after')", "DELETE FROM tags WHERE ctid = (SELECT ctid FROM tags WHERE v = 4 LIMIT 1)");
        ok("--table", "items", "--table", "tags", "--apply");
        String multiset = "SELECT v, note, count(*) FROM %s GROUP BY 1, 2 ORDER BY 1, 2";
        assertThat(warehouse.rows(multiset.formatted("bronze.tags"))).isEqualTo(source.rows(multiset.formatted("tags")));
        String rows = "SELECT id, n, note FROM %s ORDER BY id";
        assertThat(warehouse.rows(rows.formatted("bronze.items"))).isEqualTo(source.rows(rows.formatted("items")));
        assertThat(warehouse.value("SELECT count(*) FROM bronze.tags__changes WHERE _cdc_op = 'snapshot' AND _cdc_old ->> 'gap_from' IS NOT NULL"))
            .isEqualTo("1");
    }

    /**
     * --resnapshot of a table a warehouse view depends on: refused with one line that says what to do with postgres-cdc (it
     * has no --mode), before anything changes, and no temporary slot stays behind.
     */
    @Test
    void aResnapshotOfATableAViewDependsOnIsRefusedInPostgresCdcTerms() {
        ok("--table", "items");
        warehouse.execute("CREATE VIEW public.items_view AS SELECT id, note FROM bronze.items");
        source.execute("UPDATE items SET n = 9 WHERE id = 1");
        var refused = run("--table", "items", "--resnapshot", "items");
        Datakits.assertFailsWithOneLine(refused, 3, "public.items_view");
        assertThat(refused.err()).as("postgres-cdc has no --mode").doesNotContain("--mode");
        assertThat(cutSlots()).isEqualTo("0");
        assertThat(warehouse.value("SELECT count(*) FROM bronze.items__changes")).isEqualTo("0");
    }

    /**
     * Two tables added to the publication by hand while an --apply stream follows, one whose first change is a TRUNCATE:
     * each is loaded from its snapshot and kept equal to the source, and its change table holds nothing before its mark.
     */
    @Test
    void twoTablesAddedWhileFollowingWithApplyOneFirstTruncatedAreKeptEqualToTheSource() throws Exception {
        ok("--table", "items", "--apply");
        Path log = Files.createTempFile("probe-two", ".log");
        Process follower = Datakits.start("PostgresCdc", env(), log, "--slot", slot, "--follow", "--apply");
        started.add(follower);
        source.execute("CREATE TABLE public.a (id int PRIMARY KEY, note text)", "INSERT INTO a SELECT g, 'a' FROM generate_series(1, 500) g",
            "CREATE TABLE public.b (id int PRIMARY KEY)", "INSERT INTO b SELECT g FROM generate_series(1, 300) g",
            "ALTER PUBLICATION " + slot + " ADD TABLE a, b", "TRUNCATE b", "INSERT INTO b VALUES (1), (2)",
            "INSERT INTO a VALUES (1001, 'new')", "UPDATE a SET note = 'changed' WHERE id <= 3", "DELETE FROM a WHERE id = 4",
            "ALTER TABLE a ADD COLUMN extra text DEFAULT 'd'", "UPDATE a SET extra = 'e' WHERE id = 5");
        boolean reached = awaitCheckpoint(follower, source.value("SELECT pg_current_wal_lsn()"));
        source.execute("INSERT INTO b VALUES (3)", "UPDATE a SET note = 'later' WHERE id = 6", "UPDATE items SET n = 1 WHERE id = 1");
        boolean reachedAgain = reached && awaitCheckpoint(follower, source.value("SELECT pg_current_wal_lsn()"));
        assertThat(reachedAgain).as(Files.readString(log)).isTrue();
        // Copied beside the stream, one after the other: each lands after the checkpoint may have passed.
        awaitMarked(follower, "to_regclass('bronze.a__changes')");
        awaitMarked(follower, "to_regclass('bronze.b__changes')");
        follower.destroy();
        assertThat(follower.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(warehouse.rows("SELECT id, note, extra FROM bronze.a ORDER BY id")).as(Files.readString(log))
            .isEqualTo(source.rows("SELECT id, note, extra FROM a ORDER BY id"));
        assertThat(warehouse.rows("SELECT id FROM bronze.b ORDER BY id")).isEqualTo(source.rows("SELECT id FROM b ORDER BY id"));
        for (String table : List.of("a", "b")) {
            String changes = "bronze." + table + "__changes";
            String mark = warehouse.value("SELECT _cdc_lsn FROM " + changes + " WHERE _cdc_op = 'snapshot'");
            assertThat(mark).as(table + " marked").isNotNull();
            assertThat(warehouse.value("SELECT count(*) FROM " + changes + " WHERE _cdc_lsn < '" + mark + "'")).isEqualTo("0");
        }
    }

    /** --resnapshot of a table the stream followed through a rename, with --apply: reloaded into its bronze table of before. */
    @Test
    void aResnapshotOfARenamedTableReloadsTheBronzeTableItLandsIn() {
        ok("--table", "items", "--apply");
        source.execute("ALTER TABLE items RENAME TO goods", "UPDATE goods SET n = 1 WHERE id = 1");
        ok("--apply");
        warehouse.execute("UPDATE bronze.items SET note = 'drift' WHERE id = 2");
        source.execute("UPDATE goods SET n = 2 WHERE id = 3");
        var run = ok("--apply", "--resnapshot", "goods");
        String rows = "SELECT id, n, note FROM %s ORDER BY id";
        assertThat(warehouse.rows(rows.formatted("bronze.items"))).as(run.toString()).isEqualTo(source.rows(rows.formatted("goods")));
        assertThat(warehouse.value("SELECT count(*) FROM bronze.items__changes WHERE _cdc_op = 'snapshot'")).isEqualTo("1");
        assertThat(warehouse.value("SELECT to_regclass('bronze.goods') IS NULL")).isEqualTo("t");
    }
}
