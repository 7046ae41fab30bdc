package datakit.cdc;

import static org.assertj.core.api.Assertions.assertThat;

import datakit.testing.Datakits;
import datakit.testing.TestDatabase;
import datakit.testing.TestPostgres;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * postgres-cdc against a real server with wal_level=logical: the snapshot and the stream meet exactly,
 * every change lands once, with what the server sent of it and nothing made up.
 */
class CdcIT {
    /** Columns of the source table, as text, for comparing it with bronze. */
    static final String ITEMS = "SELECT id::text, name, qty::text, md5(note) FROM %s ORDER BY id";

    TestDatabase source;
    TestDatabase warehouse;
    String slot;
    /** Datakits started in their own JVM, stopped after each test whatever happened. */
    final List<Process> started = new java.util.ArrayList<>();

    @BeforeEach
    void createDatabases() {
        source = TestPostgres.createDatabase("cdc_src");
        warehouse = TestPostgres.createDatabase("cdc_wh");
        slot = "s_" + source.name();
        source.execute("CREATE TABLE public.items (id int PRIMARY KEY, name text, qty int, note text)",
            "INSERT INTO items SELECT g, 'item ' || g, g * 10, NULL FROM generate_series(1, 5) g");
    }

    /** A slot keeps WAL, and its database cannot be dropped, for as long as it exists. */
    @AfterEach
    void dropSlot() throws Exception {
        for (Process process : started) {
            process.destroyForcibly();
            process.waitFor(30, TimeUnit.SECONDS);
        }
        for (int i = 0; i < 100 && source.value("SELECT count(*) FROM pg_replication_slots WHERE active AND slot_name = '" + slot + "'")
                .equals("1"); i++) {
            Thread.sleep(50);
        }
        source.execute("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '" + slot + "'");
    }

    Map<String, String> env() {
        return Map.of("SOURCE_DATABASE_URL", source.url(), "WAREHOUSE_DATABASE_URL", warehouse.url());
    }

    Datakits.Run cdc(String... args) {
        var all = new ArrayList<>(List.of("--slot", slot));
        all.addAll(List.of(args));
        var run = Datakits.run("PostgresCdc", env(), all.toArray(String[]::new));
        return run;
    }

    Datakits.Run ok(String... args) {
        var run = cdc(args);
        assertThat(run.exitCode()).as(run.toString()).isZero();
        return run;
    }

    List<List<String>> changes(String columns) {
        return warehouse.rows("SELECT " + columns + " FROM bronze.items__changes ORDER BY _cdc_lsn, _cdc_seq");
    }

    @Test
    void snapshotThenChangesLandOnceEach() {
        var first = ok("--table", "items");
        assertThat(first.out()).contains("created bronze.items__changes");
        assertThat(warehouse.rows(ITEMS.formatted("bronze.items"))).isEqualTo(source.rows(ITEMS.formatted("items")));

        source.execute("INSERT INTO items VALUES (6, 'six', 60, 'new')",
            "UPDATE items SET qty = qty + 1 WHERE id = 2",
            "DELETE FROM items WHERE id = 3");
        var second = ok("--table", "items");
        assertThat(changes("_cdc_op, _cdc_seq::text, id::text, name, qty::text, _cdc_old::text")).containsExactly(
            Arrays.asList("insert", "1", "6", "six", "60", null),
            Arrays.asList("update", "1", "2", "item 2", "21", null),
            // A delete under REPLICA IDENTITY DEFAULT carries the key only: the other columns stay NULL, never made up.
            Arrays.asList("delete", "1", "3", null, null, "{\"id\": \"3\"}"));
        assertThat(second.out()).contains("commits    3").doesNotContain("created bronze.items__changes");
        assertThat(warehouse.rows("SELECT count(DISTINCT _cdc_xid)::text, bool_and(_cdc_commit_ts <= now())::text, "
            + "bool_and(_bronze_run_id IS NOT NULL)::text FROM bronze.items__changes")).containsExactly(List.of("3", "true", "true"));

        ok("--table", "items");
        assertThat(warehouse.value("SELECT count(*) FROM bronze.items__changes")).isEqualTo("3");
        assertThat(warehouse.value("SELECT status FROM bronze.extraction_runs ORDER BY started_at DESC LIMIT 1")).isEqualTo("succeeded");
    }

    @Test
    void aLargeTransactionLandsWholeInOrderAndApplyKeepsTheTableEqualToTheSource() {
        ok("--table", "items", "--apply");
        source.execute("""
            BEGIN;
            INSERT INTO items SELECT g, 'bulk ' || g, g, NULL FROM generate_series(100, 100099) g;
            UPDATE items SET qty = qty * 2 WHERE id >= 100;
            DELETE FROM items WHERE id >= 100 AND id % 2 = 0;
            COMMIT;""");
        ok("--table", "items", "--apply");

        assertThat(warehouse.rows("SELECT _cdc_op, count(*)::text, min(_cdc_seq)::text, max(_cdc_seq)::text, count(DISTINCT _cdc_lsn)::text "
            + "FROM bronze.items__changes GROUP BY _cdc_op ORDER BY min(_cdc_seq)")).containsExactly(
                List.of("insert", "100000", "1", "100000", "1"),
                List.of("update", "100000", "100001", "200000", "1"),
                List.of("delete", "50000", "200001", "250000", "1"));
        assertThat(warehouse.rows(ITEMS.formatted("bronze.items"))).isEqualTo(source.rows(ITEMS.formatted("items")));
    }

    @Test
    void largeTransactionsStreamedWhileInProgressLandOnlyWhatCommitted() {
        // A small decoding memory makes the server stream every transaction of more than a few rows.
        source.execute("ALTER DATABASE " + source.name() + " SET logical_decoding_work_mem = '64kB'");
        ok("--table", "items", "--apply");
        source.execute("BEGIN; INSERT INTO items SELECT g, 'gone', g, NULL FROM generate_series(1000, 20999) g; ROLLBACK;");
        source.execute("""
            BEGIN;
            INSERT INTO items SELECT g, 'kept', g, NULL FROM generate_series(100, 20099) g;
            SAVEPOINT s1;
            INSERT INTO items SELECT g, 'undone', g, NULL FROM generate_series(30000, 49999) g;
            ROLLBACK TO s1;
            UPDATE items SET qty = -qty WHERE id BETWEEN 100 AND 5099;
            COMMIT;""");
        var run = ok("--table", "items", "--apply");

        assertThat(source.value("SELECT stream_txns > 0 FROM pg_stat_replication_slots WHERE slot_name = '" + slot + "'")).isEqualTo("t");
        assertThat(warehouse.rows("SELECT _cdc_op, name, count(*)::text, min(_cdc_seq)::text, max(_cdc_seq)::text FROM bronze.items__changes "
            + "GROUP BY 1, 2 ORDER BY 4")).containsExactly(List.of("insert", "kept", "20000", "1", "20000"),
                List.of("update", "kept", "5000", "20001", "25000"));
        assertThat(warehouse.rows(ITEMS.formatted("bronze.items"))).isEqualTo(source.rows(ITEMS.formatted("items")));
        assertThat(run.out()).contains("commits    1");
    }

    @Test
    void aStreamedTransactionWhoseFirstChangeOfATableWasRolledBackKeepsTheTableShape() {
        source.execute("ALTER DATABASE " + source.name() + " SET logical_decoding_work_mem = '64kB'");
        ok("--table", "items", "--apply");
        // The server sends the table's shape with the subtransaction that first touches it, and never again.
        source.execute("""
            BEGIN;
            SAVEPOINT s1;
            INSERT INTO items SELECT g, 'undone', g, NULL FROM generate_series(1000, 5999) g;
            ROLLBACK TO s1;
            INSERT INTO items SELECT g, 'kept', g, NULL FROM generate_series(100, 5099) g;
            COMMIT;""");
        ok("--table", "items", "--apply");
        assertThat(source.value("SELECT stream_txns > 0 FROM pg_stat_replication_slots WHERE slot_name = '" + slot + "'")).isEqualTo("t");
        assertThat(warehouse.rows("SELECT name, count(*)::text FROM bronze.items__changes GROUP BY 1")).containsExactly(List.of("kept", "5000"));
        assertThat(warehouse.rows(ITEMS.formatted("bronze.items"))).isEqualTo(source.rows(ITEMS.formatted("items")));
    }

    @Test
    void applyFollowsAReplicaIdentityIndexThatIsNotThePrimaryKey() {
        source.execute("CREATE TABLE public.codes (id int PRIMARY KEY, code text NOT NULL UNIQUE, label text)",
            "ALTER TABLE codes REPLICA IDENTITY USING INDEX codes_code_key",
            "INSERT INTO codes VALUES (1, 'a', 'one'), (2, 'b', 'two')");
        ok("--table", "codes", "--apply");
        source.execute("UPDATE codes SET label = 'uno' WHERE id = 1", "DELETE FROM codes WHERE id = 2", "INSERT INTO codes VALUES (3, 'c', 'three')");
        ok("--table", "codes", "--apply");
        assertThat(warehouse.rows("SELECT id::text, code, label FROM bronze.codes ORDER BY code"))
            .isEqualTo(source.rows("SELECT id::text, code, label FROM codes ORDER BY code"));
    }

    @Test
    void rolledBackWorkNeverAppears() {
        ok("--table", "items");
        source.execute("BEGIN; INSERT INTO items VALUES (7, 'never', 0, NULL); ROLLBACK;",
            "BEGIN; INSERT INTO items VALUES (8, 'kept', 0, NULL); SAVEPOINT s; INSERT INTO items VALUES (9, 'undone', 0, NULL); "
                + "ROLLBACK TO s; COMMIT;");
        ok("--table", "items");
        assertThat(changes("_cdc_op, id::text, name")).containsExactly(List.of("insert", "8", "kept"));
    }

    @Test
    void truncateAddColumnAndKeyUpdateAreFollowed() {
        ok("--table", "items", "--apply");
        source.execute("UPDATE items SET id = 100 WHERE id = 1",
            "ALTER TABLE items ADD COLUMN color text",
            "INSERT INTO items VALUES (10, 'ten', 1, NULL, 'red')");
        ok("--table", "items", "--apply");
        assertThat(changes("_cdc_op, id::text, _cdc_old::text, color")).containsExactly(
            Arrays.asList("update", "100", "{\"id\": \"1\"}", null),
            Arrays.asList("insert", "10", null, "red"));
        assertThat(warehouse.rows("SELECT id::text, name, color FROM bronze.items ORDER BY id"))
            .isEqualTo(source.rows("SELECT id::text, name, color FROM items ORDER BY id"));

        source.execute("TRUNCATE items", "INSERT INTO items VALUES (11, 'after', 1, NULL, 'blue')");
        ok("--table", "items", "--apply");
        assertThat(changes("_cdc_op, id::text").subList(2, 4)).containsExactly(Arrays.asList("truncate", null), List.of("insert", "11"));
        assertThat(warehouse.rows("SELECT id::text, color FROM bronze.items")).containsExactly(List.of("11", "blue"));
    }

    @Test
    void aTypeChangeOrADroppedColumnNeverStopsTheStream() {
        ok("--table", "items", "--apply");
        source.execute("INSERT INTO items VALUES (7, 'seven', 70, 'x')",
            "ALTER TABLE items ALTER COLUMN qty TYPE numeric(10, 2)",
            "INSERT INTO items VALUES (8, 'eight', 80.5, 'y')",
            "ALTER TABLE items DROP COLUMN note",
            "INSERT INTO items VALUES (9, 'nine', 9.25)");
        var run = ok("--table", "items", "--apply");

        // numeric(10,2) cannot hold every integer, so its values land in a variant column; never text.
        assertThat(run.err()).contains("WARNING: bronze.items__changes: qty went from integer to numeric(10,2), which it cannot hold: its "
            + "values land in qty__v_numeric_10_2 from now on", "WARNING: bronze.items__changes: note is no longer in the source (dropped "
            + "or renamed): kept, NULL in the rows loaded from now on");
        assertThat(changeColumns("bronze.items__changes")).isEqualTo(List.of(List.of("id", "integer"), List.of("name", "text"),
            List.of("qty", "integer"), List.of("note", "text"), List.of("qty__v_numeric_10_2", "numeric(10,2)")));
        assertThat(changes("id::text, qty::text, qty__v_numeric_10_2::text, note")).containsExactly(Arrays.asList("7", "70", null, "x"),
            Arrays.asList("8", null, "80.50", "y"), Arrays.asList("9", null, "9.25", null));
        // The ALTER rewrote the source's old values (70 became 70.00) without a change to send: the change table keeps what was
        // sent, and the run's end gives every row of the --apply table the rewritten value, in the variant column.
        assertThat(warehouse.rows("SELECT id::text, qty::text, qty__v_numeric_10_2::text FROM bronze.items WHERE id >= 7 ORDER BY id"))
            .containsExactly(Arrays.asList("7", null, "70.00"), Arrays.asList("8", null, "80.50"), Arrays.asList("9", null, "9.25"));
        assertThat(warehouse.rows("SELECT id::text, qty__v_numeric_10_2::text FROM bronze.items ORDER BY id"))
            .isEqualTo(source.rows("SELECT id::text, qty::text FROM items ORDER BY id"));
    }

    @Test
    void replicaIdentityFullSendsTheWholeOldRow() {
        source.execute("ALTER TABLE items REPLICA IDENTITY FULL");
        ok("--table", "items");
        source.execute("UPDATE items SET qty = 0 WHERE id = 4", "DELETE FROM items WHERE id = 5");
        ok("--table", "items");
        assertThat(changes("_cdc_op, id::text, name, qty::text, _cdc_old::text")).containsExactly(
            List.of("update", "4", "item 4", "0", "{\"id\": \"4\", \"qty\": \"40\", \"name\": \"item 4\", \"note\": null}"),
            List.of("delete", "5", "item 5", "50", "{\"id\": \"5\", \"qty\": \"50\", \"name\": \"item 5\", \"note\": null}"));
    }

    /** Incompressible text large enough to be stored out of line (TOAST). */
    static final String BIG = "(SELECT string_agg(md5(random()::text || g), '') FROM generate_series(1, 400) g)";

    @Test
    void unchangedToastValuesAreFilledFromTheLastKnownImageNeverAFalseNull() {
        source.execute("UPDATE items SET note = " + BIG + " WHERE id = 1");
        ok("--table", "items");
        source.execute("INSERT INTO items VALUES (20, 'big', 1, " + BIG + ")",
            "UPDATE items SET qty = 11 WHERE id = 1",   // note from the snapshot
            "UPDATE items SET qty = 2 WHERE id = 20",   // note from the insert, in the same batch
            "UPDATE items SET qty = 3 WHERE id = 20");
        ok("--table", "items");
        assertThat(warehouse.rows("SELECT id::text, qty::text, md5(note), _cdc_unknown::text FROM bronze.items__changes "
            + "WHERE _cdc_op = 'update' ORDER BY _cdc_lsn, _cdc_seq")).containsExactly(
                Arrays.asList("1", "11", source.value("SELECT md5(note) FROM items WHERE id = 1"), null),
                Arrays.asList("20", "2", source.value("SELECT md5(note) FROM items WHERE id = 20"), null),
                Arrays.asList("20", "3", source.value("SELECT md5(note) FROM items WHERE id = 20"), null));
    }

    @Test
    void aKeyChangeThenAnUpdateInOneBatchKeepTheirToastValueInChangesAndState() {
        source.execute("UPDATE items SET note = " + BIG + " WHERE id = 1");
        ok("--table", "items", "--apply");
        source.execute("UPDATE items SET id = 100 WHERE id = 1", "UPDATE items SET qty = 5 WHERE id = 100");
        ok("--table", "items", "--apply");
        String note = source.value("SELECT md5(note) FROM items WHERE id = 100");
        assertThat(changes("id::text, md5(note), _cdc_unknown::text")).containsExactly(Arrays.asList("100", note, null),
            Arrays.asList("100", note, null));
        assertThat(warehouse.rows(ITEMS.formatted("bronze.items"))).isEqualTo(source.rows(ITEMS.formatted("items")));
    }

    @Test
    void anUnchangedToastValueWithNoKnownImageIsMarkedUnknown() {
        source.execute("UPDATE items SET note = " + BIG + " WHERE id = 1");
        ok("--table", "items", "--snapshot", "never");
        source.execute("UPDATE items SET qty = 12 WHERE id = 1");
        ok("--table", "items", "--snapshot", "never");
        assertThat(changes("_cdc_op, id::text, qty::text, note, _cdc_unknown::text"))
            .containsExactly(Arrays.asList("update", "1", "12", null, "{note}"));
    }

    @Test
    void aCrashBetweenTheWarehouseCommitAndTheSlotFeedbackLosesNothingAndDuplicatesNothing() throws Exception {
        ok("--table", "items");
        for (int i = 0; i < 5; i++) {
            source.execute("INSERT INTO items VALUES (" + (30 + i) + ", 'tx', " + i + ", NULL)");
        }
        var env = new java.util.HashMap<>(env());
        env.put("DATAKIT_FAULT_HALT_AFTER_COMMIT", "1");
        Process crashed = start(env, "--slot", slot, "--table", "items");
        assertThat(crashed.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(crashed.exitValue()).isEqualTo(137);
        // The first batch committed (one or more of the five transactions), and the process ended before the slot heard of it.
        long landed = Long.parseLong(warehouse.value("SELECT count(*) FROM bronze.items__changes"));
        assertThat(landed).isBetween(1L, 5L);
        assertThat(source.value("SELECT confirmed_flush_lsn < pg_current_wal_lsn() FROM pg_replication_slots WHERE slot_name = '"
            + slot + "'")).isEqualTo("t");

        source.execute("INSERT INTO items VALUES (40, 'after', 0, NULL)");
        var resumed = ok("--table", "items");
        // The server starts the stream at the checkpoint, past the slot's own position: no change comes twice.
        assertThat(resumed.out()).contains("commits    " + (6 - landed));
        assertThat(changes("id::text")).containsExactly(List.of("30"), List.of("31"), List.of("32"), List.of("33"), List.of("34"),
            List.of("40"));
    }

    @Test
    void followStreamsUntilSigtermThenCommitsAndStops() throws Exception {
        ok("--table", "items");
        Process follower = start(env(), "--slot", slot, "--table", "items", "--follow");
        source.execute("INSERT INTO items VALUES (50, 'live', 0, NULL)");
        for (int i = 0; i < 600 && !warehouse.value("SELECT count(*) FROM pg_class WHERE relname = 'items__changes'").equals("1"); i++) {
            Thread.sleep(50);
        }
        for (int i = 0; i < 600 && !warehouse.value("SELECT count(*) FROM bronze.items__changes").equals("1"); i++) {
            Thread.sleep(50);
        }
        assertThat(warehouse.value("SELECT count(*) FROM bronze.items__changes")).isEqualTo("1");
        source.execute("INSERT INTO items VALUES (51, 'live', 0, NULL)");
        // SIGTERM commits what the run has received: wait until the server has sent the insert.
        String inserted = source.value("SELECT pg_current_wal_insert_lsn()");
        for (int i = 0; i < 400 && !source.value("SELECT coalesce((SELECT r.sent_lsn >= '" + inserted + "' FROM pg_stat_replication r "
                + "JOIN pg_replication_slots s ON s.active_pid = r.pid WHERE s.slot_name = '" + slot + "'), false)").equals("t"); i++) {
            Thread.sleep(25);
        }
        follower.destroy(); // SIGTERM
        assertThat(follower.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(changes("id::text")).containsExactly(List.of("50"), List.of("51"));
        assertThat(warehouse.value("SELECT status FROM bronze.extraction_runs ORDER BY started_at DESC LIMIT 1")).isEqualTo("succeeded");
    }

    @Test
    void badSetupsFailWithOneClearLine() {
        source.execute("CREATE TABLE public.nokey (a int, b text)");
        var noKey = cdc("--table", "nokey");
        assertThat(noKey.exitCode()).as(noKey.toString()).isEqualTo(2);
        assertThat(noKey.err()).contains("public.nokey has no primary key and no replica identity").contains("REPLICA IDENTITY FULL");

        var badSlot = Datakits.run("PostgresCdc", env(), "--table", "items", "--slot", "Bad-Name");
        assertThat(badSlot.exitCode()).isEqualTo(2);
        assertThat(badSlot.err()).contains("--slot Bad-Name is not a valid name");

        String role = "cdc_noreplication_" + source.name();
        source.execute("DROP ROLE IF EXISTS " + role, "CREATE ROLE " + role + " LOGIN PASSWORD 'pw'",
            "GRANT SELECT ON items TO " + role);
        var noPrivilege = Datakits.run("PostgresCdc", Map.of("SOURCE_DATABASE_URL", source.url().replaceFirst("//[^@]*@", "//" + role + ":pw@"),
            "WAREHOUSE_DATABASE_URL", warehouse.url()), "--slot", slot, "--table", "items");
        assertThat(noPrivilege.exitCode()).as(noPrivilege.toString()).isEqualTo(2);
        assertThat(noPrivilege.err()).contains("lacks the REPLICATION privilege").contains("ALTER ROLE");
        source.execute("DROP OWNED BY " + role, "DROP ROLE " + role);
        assertThat(warehouse.value("SELECT to_regclass('bronze.items__changes') IS NULL")).isEqualTo("t");
    }

    @Test
    void aSlotInUseByAnotherProcessIsReportedNotStolen() throws Exception {
        ok("--table", "items");
        Process follower = start(env(), "--slot", slot, "--table", "items", "--follow");
        for (int i = 0; i < 600 && !source.value("SELECT count(*) FROM pg_replication_slots WHERE active AND slot_name = '" + slot + "'")
                .equals("1"); i++) {
            Thread.sleep(50);
        }
        var second = cdc("--table", "items");
        var dry = cdc("--table", "items", "--dry-run");
        follower.destroy();
        follower.waitFor(60, TimeUnit.SECONDS);
        assertThat(second.exitCode()).as(second.toString()).isIn(2, 3);
        assertThat(second.err()).containsAnyOf("in use by another process", "Another run of cdc:" + slot + " is in progress");
        Datakits.assertFailsWithOneLine(dry, 2, "Replication slot " + slot + " is in use by another process (pid ");
    }

    @Test
    void dropSlotRemovesTheSlotAndTheCheckpoint() {
        ok("--table", "items");
        var dropped = ok("--drop-slot");
        assertThat(dropped.out()).contains("dropped " + slot);
        assertThat(source.value("SELECT count(*) FROM pg_replication_slots WHERE slot_name = '" + slot + "'")).isEqualTo("0");
        assertThat(warehouse.value("SELECT count(*) FROM bronze.extraction_checkpoints WHERE stream = 'cdc:" + slot + "'")).isEqualTo("0");
        source.execute("INSERT INTO items VALUES (60, 'again', 0, NULL)");
        ok("--table", "items");
        assertThat(warehouse.rows(ITEMS.formatted("bronze.items"))).isEqualTo(source.rows(ITEMS.formatted("items")));
    }

    /** Source rows of a partitioned table, as text, for comparing with bronze. */
    static final String EVENTS = "SELECT id::text, at::text, v FROM %s ORDER BY id, at";

    @Test
    void aPartitionedTableLandsInOneChangeTableAcrossPartitionsAttachesAndRuns() {
        source.execute("""
            CREATE TABLE public.events (id int, at int, v text, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
            CREATE TABLE public.events_a PARTITION OF events FOR VALUES FROM (0) TO (10);
            CREATE TABLE public.events_b PARTITION OF events FOR VALUES FROM (10) TO (20);
            INSERT INTO events VALUES (1, 1, 'one'), (2, 12, 'two'), (3, 3, 'three');""");
        ok("--table", "events", "--apply");
        assertThat(warehouse.rows(EVENTS.formatted("bronze.events"))).isEqualTo(source.rows(EVENTS.formatted("events")));

        source.execute("INSERT INTO events VALUES (4, 4, 'four'), (5, 15, 'five')",
            "UPDATE events SET at = 14 WHERE id = 1",   // moves the row from events_a to events_b
            "DELETE FROM events WHERE id = 3");
        ok("--table", "events", "--apply");
        // A partition created between runs, and a table attached as one (empty when attached: rows it held before
        // the ATTACH are not changes; see docs/postgres-cdc.md).
        source.execute("CREATE TABLE public.events_c PARTITION OF events FOR VALUES FROM (20) TO (30)",
            "CREATE TABLE public.events_d (LIKE events INCLUDING ALL)",
            "ALTER TABLE events ATTACH PARTITION events_d FOR VALUES FROM (30) TO (40)",
            "INSERT INTO events VALUES (6, 25, 'six'), (7, 35, 'seven')",
            "UPDATE events SET at = 36, v = 'moved' WHERE id = 2");
        ok("--table", "events", "--apply");
        ok("--table", "events", "--apply");

        assertThat(warehouse.rows(EVENTS.formatted("bronze.events"))).isEqualTo(source.rows(EVENTS.formatted("events")));
        assertThat(warehouse.rows("SELECT _cdc_op, id::text, at::text, v FROM bronze.events__changes ORDER BY _cdc_lsn, _cdc_seq"))
            .containsExactly(List.of("insert", "4", "4", "four"), List.of("insert", "5", "15", "five"),
                // An update of the partition key is a delete from one partition and an insert into another.
                Arrays.asList("delete", "1", "1", null), List.of("insert", "1", "14", "one"),
                Arrays.asList("delete", "3", "3", null),
                List.of("insert", "6", "25", "six"), List.of("insert", "7", "35", "seven"),
                Arrays.asList("delete", "2", "12", null), List.of("insert", "2", "36", "moved"));
        assertThat(warehouse.rows("SELECT tablename FROM pg_tables WHERE schemaname = 'bronze' AND tablename LIKE 'events%' ORDER BY 1"))
            .containsExactly(List.of("events"), List.of("events__changes"));
    }

    @Test
    void aPublicationThatPublishesPartitionsOneByOneIsRefusedBeforeAnythingIsMadeAlsoWhenThisRunWouldAddThePartitionedTable() {
        source.execute("""
            CREATE TABLE public.events (id int PRIMARY KEY, v text) PARTITION BY RANGE (id);
            CREATE TABLE public.events_a PARTITION OF events FOR VALUES FROM (0) TO (10);""",
            "CREATE PUBLICATION leafwise FOR TABLE events", "CREATE PUBLICATION given FOR TABLE items");
        var holding = cdc("--table", "events", "--publication", "leafwise");
        Datakits.assertFailsWithOneLine(holding, 2, "Publication leafwise publishes the partitions of public.events each under its own name "
            + "(publish_via_partition_root is off), so their changes would not land in one change table. Run ALTER PUBLICATION leafwise "
            + "SET (publish_via_partition_root = true) as its owner");
        // The partitioned table is not in the publication yet: this run would add it, partition by partition.
        var adding = cdc("--table", "items", "--table", "events", "--publication", "given");
        Datakits.assertFailsWithOneLine(adding, 2, "Publication given publishes the partitions of public.events each under its own name");
        assertThat(source.rows("SELECT tablename::text FROM pg_publication_tables WHERE pubname = 'given'")).containsExactly(List.of("items"));
        assertThat(source.value("SELECT count(*) FROM pg_replication_slots WHERE slot_name = '" + slot + "'")).isEqualTo("0");
        assertThat(warehouse.value("SELECT count(*) FROM pg_namespace WHERE nspname = 'bronze'")).isEqualTo("0");
    }

    @Test
    void aPartitionTruncatedDetachedOrDroppedBetweenRunsIsNamedInTheSummaryWithWhatToDo() throws Exception {
        source.execute("""
            CREATE TABLE public.events (id int, at int, v text, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
            CREATE TABLE public.events_a PARTITION OF events FOR VALUES FROM (0) TO (10);
            CREATE TABLE public.events_b PARTITION OF events FOR VALUES FROM (10) TO (20);
            CREATE TABLE public.events_c PARTITION OF events FOR VALUES FROM (20) TO (30);
            INSERT INTO events VALUES (1, 1, 'one'), (2, 12, 'two'), (3, 23, 'three');""");
        ok("--table", "events", "--apply");
        // None of the three is a change PostgreSQL sends through the partitioned table.
        source.execute("TRUNCATE events_a", "ALTER TABLE events DETACH PARTITION events_b", "DROP TABLE events_c",
            "INSERT INTO events VALUES (4, 4, 'four')");
        // A run that warns of them, then dies in its stream (after its first commit): the next run warns again.
        var env = new java.util.HashMap<>(env());
        env.put("DATAKIT_FAULT_HALT_AFTER_COMMIT", "1");
        Process crashed = start(env, "--slot", slot, "--table", "events", "--apply");
        assertThat(crashed.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(crashed.exitValue()).isEqualTo(137);
        source.execute("INSERT INTO events VALUES (5, 5, 'five')");
        var run = ok("--table", "events", "--apply", "--json");
        var warnings = new com.fasterxml.jackson.databind.ObjectMapper().readTree(run.out()).path("warnings");
        assertThat(warnings).hasSize(3);
        assertThat(warnings.get(0).asText()).isEqualTo("public.events_a, a partition of public.events, was truncated or rewritten since "
            + "the last run (it has a new file): PostgreSQL does not publish the TRUNCATE of a partition alone, so if it was truncated, "
            + "bronze.events may still hold rows it no longer has; run once with --resnapshot public.events to reload it (nothing is missing after "
            + "a VACUUM FULL, CLUSTER, table rewrite or TRUNCATE of public.events)");
        assertThat(warnings.get(1).asText()).isEqualTo("public.events_b is no longer a partition of public.events (detached or dropped "
            + "since the last run), which is no change the stream sees, so bronze.events may still hold rows it no longer has; run once "
            + "with --resnapshot public.events to reload it");
        assertThat(warnings.get(2).asText()).startsWith("public.events_c is no longer a partition of public.events");
        assertThat(run.err()).contains("WARNING: public.events_a, a partition of public.events, was truncated or rewritten");

        ok("--table", "events", "--apply", "--snapshot", "always");
        assertThat(warehouse.rows(EVENTS.formatted("bronze.events"))).isEqualTo(source.rows(EVENTS.formatted("events")));
        assertThat(ok("--table", "events", "--apply").out()).doesNotContain("warnings");
    }

    @Test
    void theNextRunComparesItsPartitionsWithTheLastSnapshotEvenWhenTheRunThatTookItDiedInItsStream() throws Exception {
        source.execute("""
            CREATE TABLE public.events (id int, at int, v text, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
            CREATE TABLE public.events_a PARTITION OF events FOR VALUES FROM (0) TO (10);
            CREATE TABLE public.events_b PARTITION OF events FOR VALUES FROM (10) TO (20);
            INSERT INTO events VALUES (1, 1, 'one'), (2, 12, 'two'), (3, 13, 'three');""");
        // The first run ever takes its snapshot, then dies while it streams: no run has succeeded yet.
        killWhileStreaming("--table", "events", "--apply", "--follow");
        source.execute("TRUNCATE events_a", "INSERT INTO events VALUES (4, 14, 'four')");
        var warned = ok("--table", "events", "--apply");
        assertThat(warned.err()).contains("WARNING: public.events_a, a partition of public.events, was truncated or rewritten");

        // A snapshot taken again reloads a partition truncated since the last run; its run dies while it streams.
        source.execute("TRUNCATE events_b", "INSERT INTO events VALUES (5, 5, 'five')");
        killWhileStreaming("--table", "events", "--apply", "--snapshot", "always", "--follow");
        var quiet = ok("--table", "events", "--apply", "--json");
        assertThat(quiet.out()).doesNotContain("warnings");
        assertThat(warehouse.rows(EVENTS.formatted("bronze.events"))).isEqualTo(source.rows(EVENTS.formatted("events")));
    }

    /** Starts a run of the stream and kills it once it streams, past its set-up and snapshot; waits until its slot is free. */
    void killWhileStreaming(String... args) throws Exception {
        var all = new ArrayList<>(List.of("--slot", slot));
        all.addAll(List.of(args));
        Process run = start(env(), all.toArray(String[]::new));
        String streaming = "SELECT coalesce((SELECT r.state = 'streaming' FROM pg_stat_replication r JOIN pg_replication_slots s "
            + "ON s.active_pid = r.pid WHERE s.slot_name = '" + slot + "'), false)";
        for (int i = 0; i < 1200 && !source.value(streaming).equals("t"); i++) {
            Thread.sleep(50);
        }
        assertThat(source.value(streaming)).as("the run streams").isEqualTo("t");
        run.destroyForcibly();
        assertThat(run.waitFor(30, TimeUnit.SECONDS)).isTrue();
        for (int i = 0; i < 200 && source.value("SELECT count(*) FROM pg_replication_slots WHERE active AND slot_name = '" + slot + "'")
                .equals("1"); i++) {
            Thread.sleep(50);
        }
    }

    @Test
    void aPartitionKeyedOtherwiseThanItsPartitionedTableIsRefusedBeforeAnythingIsMade() {
        source.execute("""
            CREATE TABLE public.events (id int, at int, v text, code text NOT NULL, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
            CREATE TABLE public.events_a PARTITION OF events FOR VALUES FROM (0) TO (10);
            CREATE UNIQUE INDEX events_a_code ON events_a (code);
            ALTER TABLE events_a REPLICA IDENTITY USING INDEX events_a_code;
            CREATE TABLE public.logs (id int, at int, v text) PARTITION BY RANGE (at);
            ALTER TABLE logs REPLICA IDENTITY FULL;
            CREATE TABLE public.logs_a PARTITION OF logs (PRIMARY KEY (id)) FOR VALUES FROM (0) TO (10);
            INSERT INTO events VALUES (1, 1, 'one', 'c1'), (3, 3, 'three', 'c3');
            INSERT INTO logs VALUES (1, 1, 'one'), (3, 3, 'three');""");
        Datakits.assertFailsWithOneLine(cdc("--table", "events", "--apply"), 2, "The partition public.events_a of public.events keys its "
            + "updates and deletes by (code), which does not hold the key of public.events (id, at), so they could not be matched to its "
            + "rows (the server keys a change by the partition it happened in). Run ALTER TABLE \"public\".\"events_a\" REPLICA IDENTITY "
            + "FULL, or USING INDEX a unique index of it whose columns include (id, at).");
        Datakits.assertFailsWithOneLine(cdc("--table", "logs", "--apply"), 2, "public.logs is REPLICA IDENTITY FULL, but its partition "
            + "public.logs_a is not, so the updates and deletes made in that partition would come without the whole old row (the server "
            + "keys a change by the partition it happened in). Run ALTER TABLE \"public\".\"logs_a\" REPLICA IDENTITY FULL.");
        assertThat(source.value("SELECT count(*) FROM pg_publication")).isEqualTo("0");
        assertThat(warehouse.value("SELECT count(*) FROM pg_namespace WHERE nspname = 'bronze'")).isEqualTo("0");

        // As the lines say: then each change carries the whole old row, and --apply keeps both tables.
        source.execute("ALTER TABLE events_a REPLICA IDENTITY FULL", "ALTER TABLE logs_a REPLICA IDENTITY FULL");
        ok("--table", "events", "--table", "logs", "--apply");
        source.execute("UPDATE events SET v = 'uno' WHERE id = 1", "DELETE FROM events WHERE id = 3",
            "UPDATE logs SET v = 'uno' WHERE id = 1", "DELETE FROM logs WHERE id = 3");
        ok("--table", "events", "--table", "logs", "--apply");
        assertThat(warehouse.rows("SELECT id::text, at::text, v, code FROM bronze.events ORDER BY 1"))
            .isEqualTo(source.rows("SELECT id::text, at::text, v, code FROM events ORDER BY 1"));
        assertThat(warehouse.rows(EVENTS.formatted("bronze.logs"))).isEqualTo(source.rows(EVENTS.formatted("logs")));
        assertThat(warehouse.value("SELECT _cdc_old::text FROM bronze.logs__changes WHERE _cdc_op = 'delete'"))
            .isEqualTo("{\"v\": \"three\", \"at\": \"3\", \"id\": \"3\"}");
    }

    /** A keyless table's rows as text, sorted: equal lists are equal multisets. */
    static final String TAGS = "SELECT name, n::text, doc::text, p::text FROM %s ORDER BY 1, 2, 3, 4";

    @Test
    void applyKeepsAKeylessReplicaIdentityFullTableEqualAsAMultiset() {
        // json and point have no equality operator; rows are matched on the text form of every column.
        source.execute("CREATE TABLE public.tags (name text, n int, doc json, p point)", "ALTER TABLE tags REPLICA IDENTITY FULL",
            """
            INSERT INTO tags VALUES ('a', 1, '{"x": 1}', '(1,2)'), ('a', 1, '{"x": 1}', '(1,2)'), ('b', NULL, NULL, NULL),
                                    (NULL, NULL, NULL, NULL), (NULL, NULL, NULL, NULL), ('c', 3, '[]', '(0,0)')""");
        ok("--table", "tags", "--apply");
        assertThat(warehouse.rows(TAGS.formatted("bronze.tags"))).isEqualTo(source.rows(TAGS.formatted("tags")));

        source.execute(
            // One of two identical rows is updated, one of two all-NULL rows deleted.
            "UPDATE tags SET n = 2 WHERE ctid = (SELECT min(ctid) FROM tags WHERE name = 'a')",
            "DELETE FROM tags WHERE ctid = (SELECT min(ctid) FROM tags WHERE name IS NULL)",
            "UPDATE tags SET doc = '{\"y\": 2}' WHERE name = 'b'",
            // A duplicate inserted, then one of the two deleted, and a row inserted and deleted in the same batch.
            "INSERT INTO tags VALUES ('c', 3, '[]', '(0,0)')",
            "DELETE FROM tags WHERE ctid = (SELECT max(ctid) FROM tags WHERE name = 'c')",
            "INSERT INTO tags VALUES ('d', 4, NULL, NULL)",
            "DELETE FROM tags WHERE name = 'd'");
        var run = ok("--table", "tags", "--apply");
        assertThat(warehouse.rows(TAGS.formatted("bronze.tags"))).isEqualTo(source.rows(TAGS.formatted("tags")));
        assertThat(run.err()).doesNotContain("WARN");

        source.execute("UPDATE tags SET n = 5 WHERE name = 'a'", "DELETE FROM tags WHERE name IS NULL");
        ok("--table", "tags", "--apply");
        assertThat(warehouse.rows(TAGS.formatted("bronze.tags"))).isEqualTo(source.rows(TAGS.formatted("tags")));
        assertThat(warehouse.value("SELECT count(*) FROM bronze.tags")).isEqualTo("4");
    }

    @Test
    void applyWithoutAKeyGivesAnAddedColumnTheSourcesValueAndWarnsWhenATypeChangeKeepsItFromMatching() throws Exception {
        source.execute("CREATE TABLE public.tags (a int, b text, n numeric(10, 1))", "ALTER TABLE tags REPLICA IDENTITY FULL",
            "INSERT INTO tags VALUES (1, 'x', 1.5), (2, 'y', 2.5)");
        ok("--table", "tags", "--apply");
        // Rows older than the new column hold its default on the source, in bronze too; also a row of the same batch.
        source.execute("INSERT INTO tags VALUES (3, 'w', 3.5)", "ALTER TABLE tags ADD COLUMN c int DEFAULT 0",
            "UPDATE tags SET b = 'z' WHERE a = 1", "DELETE FROM tags WHERE a = 3");
        var added = ok("--table", "tags", "--apply");
        String rows = "SELECT a::text, b, n::text, c::text FROM %s ORDER BY 1, 2, 3, 4";
        assertThat(warehouse.rows(rows.formatted("bronze.tags"))).as(added.toString()).isEqualTo(source.rows(rows.formatted("tags")));
        assertThat(added.out()).doesNotContain("to reload it");

        // numeric(10, 2) cannot hold every numeric(10, 1): the values land in a variant column, and the old rows, which the
        // type change rewrote at the source (1.5 became 1.50) without a change to send, no longer match.
        source.execute("ALTER TABLE tags ALTER COLUMN n TYPE numeric(10, 2)", "UPDATE tags SET b = 'q' WHERE a = 2");
        var retyped = ok("--table", "tags", "--apply", "--json");
        // The rewrite also wrote c's default into the rows, which the catalog kept for them until then (attmissingval): the
        // fingerprint of c changes though its values do not, so c is named too.
        var warnings = new com.fasterxml.jackson.databind.ObjectMapper().readTree(retyped.out()).path("warnings");
        assertThat(warnings).extracting(com.fasterxml.jackson.databind.JsonNode::asText).containsExactly("bronze.tags (kept without a key) "
            + "can no longer match exactly the old rows that updates and deletes of public.tags send: the values of n land in "
            + "n__v_numeric_10_2 from now on, and the rows it holds from before keep theirs in n; run once with --resnapshot public.tags to "
            + "reload it", "1 updates and deletes of public.tags could not be applied to bronze.tags (1 found no equal row to remove), so "
            + "it differs from the source; run once with --resnapshot public.tags to reload it", "bronze.tags (kept without a key): the values "
            + "of n, c in public.tags changed at the source without rows being written (an enum label renamed, a column dropped and "
            + "added again, a type changed), and rows without a key cannot be matched to give them the new values: the rows no change "
            + "touched keep the old ones; run once with --resnapshot public.tags to reload it", "bronze.tags__changes: n went from "
            + "numeric(10,1) to numeric(10,2), which it cannot hold: its values land in n__v_numeric_10_2 from now on", "bronze.tags: n "
            + "went from numeric(10,1) to numeric(10,2), which it cannot hold: its values land in n__v_numeric_10_2 from now on");
        ok("--table", "tags", "--apply", "--resnapshot", "tags");
        assertThat(warehouse.rows("SELECT a::text, b, n::numeric::text, c::text FROM bronze.tags ORDER BY 1, 2, 3, 4"))
            .isEqualTo(source.rows(rows.formatted("tags")));
    }

    @Test
    void anUpdateThatCameWithoutItsWholeOldRowIsCountedAsNotAppliedToAKeylessTable() {
        source.execute("CREATE TABLE public.marks (id int PRIMARY KEY, v text)", "INSERT INTO marks VALUES (1, 'a')");
        ok("--table", "marks");
        // Sent under the primary key (no old row), applied after the table lost its key.
        source.execute("UPDATE marks SET v = 'b' WHERE id = 1", "ALTER TABLE marks DROP CONSTRAINT marks_pkey",
            "ALTER TABLE marks REPLICA IDENTITY FULL");
        var run = ok("--table", "marks", "--apply");
        assertThat(run.err()).contains("WARNING: 1 updates and deletes of public.marks could not be applied to bronze.marks (1 came "
            + "without the whole old row), so it differs from the source; run once with --resnapshot public.marks to reload it");
    }

    /** The source columns of a change table and their types, in order. */
    List<List<String>> changeColumns(String table) {
        return warehouse.rows("SELECT attname::text, format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = '" + table
            + "'::regclass AND attnum > 0 AND NOT attisdropped AND attname::text !~ '^_(cdc|bronze)_' ORDER BY attnum");
    }

    @Test
    void everyTableOfTheStreamHasItsChangeTableFromTheFirstRunWithTheSourceTypes() {
        source.execute("CREATE TYPE mood AS ENUM ('ok', 'meh')",
            "CREATE TABLE public.quiet (id int PRIMARY KEY, price numeric(10, 2), at timestamptz, code varchar(5), m mood)");
        var expected = List.of(List.of("id", "integer"), List.of("price", "numeric(10,2)"), List.of("at", "timestamp with time zone"),
            List.of("code", "character varying(5)"), List.of("m", "text"));
        ok("--table", "items", "--table", "quiet");
        assertThat(changeColumns("bronze.quiet__changes")).isEqualTo(expected);
        assertThat(changeColumns("bronze.items__changes")).hasSize(4);

        source.execute("INSERT INTO items VALUES (6, 'six', 60, NULL)");
        ok("--table", "items", "--table", "quiet");
        assertThat(warehouse.value("SELECT count(*) FROM bronze.quiet__changes")).isEqualTo("0");
        assertThat(warehouse.value("SELECT count(*) FROM bronze.items__changes")).isEqualTo("1");

        // A table added to the stream later gets its change table at that run.
        source.execute("CREATE TABLE public.later (id bigint PRIMARY KEY, day date)");
        ok("--table", "items", "--table", "quiet", "--table", "later");
        assertThat(changeColumns("bronze.later__changes")).isEqualTo(List.of(List.of("id", "bigint"), List.of("day", "date")));

        // Without a snapshot too, from the first run on.
        ok("--drop-slot");
        ok("--table", "items", "--table", "quiet", "--snapshot", "never", "--target-schema", "nosnap");
        assertThat(changeColumns("nosnap.quiet__changes")).isEqualTo(expected);
        assertThat(warehouse.value("SELECT count(*) FROM nosnap.quiet__changes")).isEqualTo("0");
    }

    @Test
    void dropSlotDropsThePublicationThisStreamCreatedByNameAndKeepsOneItDidNot() {
        ok("--table", "items");
        var dropped = ok("--drop-slot");
        assertThat(dropped.out()).contains("dropped " + slot, "publication: dropped " + slot + " (this stream created it)");
        assertThat(source.value("SELECT count(*) FROM pg_publication")).isEqualTo("0");

        // The stream switches to a publication it did not create: only the one it created goes.
        ok("--table", "items");
        source.execute("CREATE PUBLICATION given FOR TABLE items", "INSERT INTO items VALUES (70, 'switched', 0, NULL)");
        ok("--table", "items", "--publication", "given");
        var switched = ok("--drop-slot", "--publication", "given");
        assertThat(switched.out()).contains("publication: dropped " + slot + " (this stream created it; it streams through given since, "
            + "which it did not create and keeps)");
        assertThat(source.rows("SELECT pubname::text FROM pg_publication")).containsExactly(List.of("given"));

        ok("--table", "items", "--publication", "given");
        assertThat(ok("--drop-slot", "--publication", "given").out()).contains("publication: kept given (this stream did not create it)");
        assertThat(source.rows("SELECT pubname::text FROM pg_publication")).containsExactly(List.of("given"));
    }

    @Test
    void dropSlotKeepsAPublicationThatAnotherSlotOfTheDatabaseMayRead() {
        String other = slot + "_other";
        try {
            ok("--table", "items", "--publication", "p");
            var otherSchema = new String[] {"--slot", other, "--table", "items", "--publication", "p", "--target-schema", "other"};
            assertThat(Datakits.run("PostgresCdc", env(), otherSchema).exitCode()).isZero();
            var dropped = ok("--drop-slot", "--publication", "p");
            assertThat(dropped.out()).contains("publication: kept p (this stream created it, but slot " + other + " of this database may "
                + "read it too (a stream of another bronze schema, or a subscription), which would fail for good without it; drop it once "
                + "none does)");
            source.execute("INSERT INTO items VALUES (80, 'other', 0, NULL)");
            var read = Datakits.run("PostgresCdc", env(), otherSchema);
            assertThat(read.exitCode()).as(read.toString()).isZero();
            assertThat(warehouse.rows("SELECT id::text FROM other.items__changes")).containsExactly(List.of("80"));
        } finally {
            source.execute("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '" + other + "'");
        }
    }

    @Test
    void aSlotWhosePublicationIsGoneStopsWithWhatToDoInsteadOfMakingItAgain() {
        ok("--table", "items");
        source.execute("DROP PUBLICATION " + slot, "INSERT INTO items VALUES (90, 'lost', 0, NULL)");
        Datakits.assertFailsWithOneLine(cdc("--table", "items"), 3, "Publication " + slot + " does not exist, and slot " + slot + " cannot "
            + "stream through one made now: the slot reads each change with the catalog as it was then, where that publication is missing "
            + "(was it dropped, or is --publication new to this stream?). Run once with --snapshot always to start over with a new slot and "
            + "snapshot.");
        assertThat(source.value("SELECT count(*) FROM pg_publication")).isEqualTo("0");
        ok("--table", "items", "--snapshot", "always");
        assertThat(warehouse.rows(ITEMS.formatted("bronze.items"))).isEqualTo(source.rows(ITEMS.formatted("items")));
    }

    /**
     * The slot confirmed a position past the warehouse's checkpoint (advanced by hand, read by another
     * client, or a warehouse restored from an older backup): the changes in between are in neither, so the
     * run, and its dry run, stop with the gap and the way out instead of passing over them.
     */
    @Test
    void aSlotAheadOfTheWarehouseCheckpointStopsTheRunWithTheGapAndTheWayOut() {
        ok("--table", "items");
        String checkpoint = warehouse.value("SELECT lsn::text FROM bronze.extraction_checkpoints WHERE stream = 'cdc:" + slot + "'");
        source.execute("INSERT INTO items VALUES (70, 'skipped by the advance', 0, NULL)", "CHECKPOINT");
        String advanced = source.value("SELECT end_lsn::text FROM pg_replication_slot_advance('" + slot + "', pg_current_wal_flush_lsn())");
        String gap = source.value("SELECT to_char(pg_wal_lsn_diff('" + advanced + "', '" + checkpoint + "'), 'FM999,999,999,999')");

        var run = cdc("--table", "items");
        var dry = cdc("--table", "items", "--dry-run");

        Datakits.assertFailsWithOneLine(run, 3, "Replication slot " + slot + " has confirmed " + advanced + ", past the checkpoint bronze holds "
            + "for it, " + checkpoint + ": the changes committed in the " + gap + " bytes of WAL between them are gone from the slot and not "
            + "in bronze (was the slot advanced, or read by another client, or the warehouse restored from an older backup?). Run once with "
            + "--snapshot always to reload the tables from a new slot, or --drop-slot to start over.");
        assertThat(dry.err()).isEqualTo(run.err());
        assertThat(dry.exitCode()).isEqualTo(3);
        ok("--table", "items", "--snapshot", "always");
        assertThat(warehouse.rows(ITEMS.formatted("bronze.items"))).isEqualTo(source.rows(ITEMS.formatted("items")));
    }

    @Test
    void dropSlotWorksOnAWarehouseWhoseBronzeSchemaWasNeverMigrated() {
        source.execute("SELECT pg_create_logical_replication_slot('" + slot + "', 'pgoutput')");
        var dropped = ok("--drop-slot");
        assertThat(dropped.out()).contains("dropped " + slot);
        assertThat(source.value("SELECT count(*) FROM pg_replication_slots WHERE slot_name = '" + slot + "'")).isEqualTo("0");
        assertThat(warehouse.value("SELECT count(*) FROM pg_namespace WHERE nspname = 'bronze'")).isEqualTo("0");
    }

    @Test
    void dryRunWithJsonPrintsOneJsonDocumentAndMakesNothing() throws Exception {
        var run = ok("--table", "items", "--dry-run", "--json");
        assertThat(run.out().strip()).startsWith("{").endsWith("}").doesNotContain("\n");
        var plan = new com.fasterxml.jackson.databind.ObjectMapper().readTree(run.out());
        assertThat(plan.path("status").asText()).isEqualTo("dry-run");
        assertThat(plan.path("datakit").asText()).isEqualTo("postgres-cdc");
        assertThat(plan.path("tables").toString()).isEqualTo("[\"public.items\"]");
        assertThat(plan.path("publication").path("action").asText()).isEqualTo("create");
        assertThat(plan.path("slot").path("action").asText()).isEqualTo("create");
        assertThat(plan.path("change_tables").toString()).isEqualTo("[\"bronze.items__changes\"]");
        assertThat(source.value("SELECT count(*) FROM pg_publication")).isEqualTo("0");

        assertThat(ok("--table", "items", "--dry-run").out()).contains("postgres-cdc --dry-run: nothing was written",
            "publication " + slot + " (would be created)", "changes     bronze.items__changes", "V1 create bookkeeping tables");

        // After a run: the slot is resumed, and no change table is left to create.
        ok("--table", "items");
        var again = new com.fasterxml.jackson.databind.ObjectMapper().readTree(ok("--table", "items", "--dry-run", "--json").out());
        assertThat(again.path("slot").path("action").asText()).isEqualTo("resume");
        assertThat(again.path("change_tables").toString()).isEqualTo("[]");

        var drop = ok("--drop-slot", "--dry-run", "--json");
        assertThat(drop.out().strip()).startsWith("{").endsWith("}").doesNotContain("\n");
        var dropPlan = new com.fasterxml.jackson.databind.ObjectMapper().readTree(drop.out());
        assertThat(dropPlan.path("status").asText()).isEqualTo("dry-run");
        assertThat(dropPlan.path("publication").toString())
            .isEqualTo("{\"name\":\"" + slot + "\",\"action\":\"drop\",\"reason\":\"this stream created it\"}");
    }

    @Test
    void aDryRunFailsWhereTheRunWould() {
        source.execute("SELECT pg_create_logical_replication_slot('" + slot + "', 'pgoutput')");
        var real = cdc("--table", "items");
        var dry = cdc("--table", "items", "--dry-run", "--json");
        Datakits.assertFailsWithOneLine(dry, 2, "Replication slot " + slot + " exists, but bronze has no checkpoint for it");
        assertThat(dry.err()).isEqualTo(real.err());
        assertThat(real.exitCode()).isEqualTo(2);
    }

    @Test
    void aTableInBronzesPlaceIsRefusedBeforeTheSlotIsMadeAndByTheDryRunAlike() {
        warehouse.execute("CREATE SCHEMA bronze", "CREATE TABLE bronze.items (id int)");
        var dry = cdc("--table", "items", "--dry-run");
        var real = cdc("--table", "items");
        Datakits.assertFailsWithOneLine(real, 3, "bronze.items exists in the warehouse but is not a bronze table");
        assertThat(dry.err()).isEqualTo(real.err());
        assertThat(dry.exitCode()).isEqualTo(3);
        assertThat(source.value("SELECT count(*) FROM pg_replication_slots WHERE slot_name = '" + slot + "'")).isEqualTo("0");
    }

    /** Starts the datakit in its own JVM, as a scheduler would. */
    Process start(Map<String, String> env, String... args) throws Exception {
        Process process = Datakits.start("PostgresCdc", env, args);
        started.add(process);
        return process;
    }
}
