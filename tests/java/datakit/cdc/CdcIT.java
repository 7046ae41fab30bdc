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
        ok("--table", "items");
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
        assertThat(second.out()).contains("commits    3").contains("created bronze.items__changes");
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

        assertThat(run.out()).contains("qty of bronze.items__changes is now text: its type changed from integer to numeric(10,2)");
        assertThat(warehouse.value("SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
            + "WHERE attrelid = 'bronze.items__changes'::regclass AND attname = 'qty'")).isEqualTo("text");
        assertThat(changes("id::text, qty, note")).containsExactly(List.of("7", "70", "x"), List.of("8", "80.50", "y"),
            Arrays.asList("9", "9.25", null));
        // The ALTER rewrote the source's old values (70 became 70.00) without a change to send: bronze keeps what was sent.
        assertThat(warehouse.rows("SELECT id::text, qty FROM bronze.items WHERE id >= 7 ORDER BY id"))
            .containsExactly(List.of("7", "70"), List.of("8", "80.50"), List.of("9", "9.25"));
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

        source.execute("CREATE TABLE public.fullonly (a int, b text)", "ALTER TABLE fullonly REPLICA IDENTITY FULL");
        var applyNoKey = cdc("--table", "fullonly", "--apply");
        assertThat(applyNoKey.exitCode()).as(applyNoKey.toString()).isEqualTo(2);
        assertThat(applyNoKey.err()).contains("--apply keeps rows by key");

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
        follower.destroy();
        follower.waitFor(60, TimeUnit.SECONDS);
        assertThat(second.exitCode()).as(second.toString()).isIn(2, 3);
        assertThat(second.err()).containsAnyOf("in use by another process", "Another run of cdc:" + slot + " is in progress");
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

    /** Starts the datakit in its own JVM, as a scheduler would. */
    Process start(Map<String, String> env, String... args) throws Exception {
        Process process = Datakits.start("PostgresCdc", env, args);
        started.add(process);
        return process;
    }
}
