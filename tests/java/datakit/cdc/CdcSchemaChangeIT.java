package datakit.cdc;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import datakit.testing.Datakits;
import datakit.testing.SourceAndWarehouse;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * postgres-cdc follows the source's schema changes by the batch modes' one rule (bronze.SchemaEvolution): widenings in
 * place, other type changes in a variant column, dropped columns kept and said, added ones backfilled with --apply, every
 * change recorded once in schema_changes, --on-schema-change fail and freeze honoured, and a renamed table followed by
 * its identity. Bronze is compared with the source by reading both back.
 */
class CdcSchemaChangeIT {
    /** shop.orders as text, for comparing the source with its --apply table. */
    static final String ORDERS = "SELECT id::text, qty::text, label, price::text, code::text FROM %s ORDER BY id";

    SourceAndWarehouse db;
    String slot;

    @BeforeEach
    void createDatabases() {
        db = SourceAndWarehouse.create("cdcsc", "CREATE SCHEMA shop",
            "CREATE TABLE shop.orders (id int PRIMARY KEY, qty int, label varchar(10), price numeric(10, 2), code text)",
            "INSERT INTO shop.orders SELECT g, g * 10, 'l' || g, g + 0.5, g::text FROM generate_series(1, 3) g");
        slot = "s_" + db.source().name();
    }

    /** Datakits started in their own JVM, stopped before the slot is dropped whatever happened. */
    final List<Process> started = new ArrayList<>();

    /** A slot keeps WAL, and its database cannot be dropped, for as long as it exists. */
    @AfterEach
    void dropSlot() throws InterruptedException {
        for (Process process : started) {
            process.destroyForcibly();
            process.waitFor(30, TimeUnit.SECONDS);
        }
        db.source().dropReplicationSlots(slot);
    }

    Datakits.Run cdc(String... args) {
        var all = new ArrayList<>(List.of("--slot", slot));
        all.addAll(List.of(args));
        return Datakits.run("PostgresCdc", db.env(), all.toArray(String[]::new));
    }

    Datakits.Run ok(String... args) {
        var run = cdc(args);
        assertThat(run.exitCode()).as(run.toString()).isZero();
        return run;
    }

    /** The source columns of a bronze table and their types, in order. */
    List<List<String>> columns(String table) {
        return db.warehouse().rows("SELECT attname::text, format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = '" + table
            + "'::regclass AND attnum > 0 AND NOT attisdropped AND attname::text !~ '^_(cdc|bronze)_' ORDER BY attnum");
    }

    List<List<String>> changes(String table, String columns) {
        return db.warehouse().rows("SELECT " + columns + " FROM " + table + " ORDER BY _cdc_lsn, _cdc_seq");
    }

    /** What schema_changes holds: stream, column, change, old type, new type, where the values land. */
    List<List<String>> recorded() {
        return db.warehouse().rows("SELECT stream, column_name, change, coalesce(old_type, ''), coalesce(new_type, ''), "
            + "coalesce(lands_in, '') FROM bronze.schema_changes ORDER BY change_id");
    }

    String checkpoint() {
        return db.warehouse().value("SELECT lsn::text FROM bronze.extraction_checkpoints WHERE stream = 'cdc:" + slot + "'");
    }

    /** The source's WAL position now: a transaction begun after it commits after it. */
    String walNow() {
        return db.source().value("SELECT pg_current_wal_insert_lsn()::text");
    }

    /**
     * A stopped run wrote nothing from {@code lsn} on (a transaction before it may have been committed, in a batch of its
     * own), and the slot heard of nothing the warehouse does not hold.
     */
    void assertNothingCommittedFrom(String lsn) {
        assertThat(db.source().value("SELECT '" + checkpoint() + "'::pg_lsn <= '" + lsn + "'::pg_lsn")).as("checkpoint").isEqualTo("t");
        assertThat(db.source().value("SELECT confirmed_flush_lsn <= '" + checkpoint() + "'::pg_lsn FROM pg_replication_slots "
            + "WHERE slot_name = '" + slot + "'")).as("slot confirmed").isEqualTo("t");
    }

    static List<String> row(String... values) {
        return Arrays.asList(values);
    }

    @Test
    void widenedTypesAreAppliedInPlaceInTheChangeTableAndTheApplyTableAndRecordedOnce() throws Exception {
        ok("--table", "shop.orders", "--apply");
        db.source().execute("INSERT INTO shop.orders VALUES (4, 40, 'l4', 4.5, '4')",
            "ALTER TABLE shop.orders ALTER COLUMN id TYPE bigint, ALTER COLUMN qty TYPE bigint, ALTER COLUMN label TYPE varchar(50), "
                + "ALTER COLUMN price TYPE numeric(12, 4)",
            "INSERT INTO shop.orders VALUES (5000000000, 6000000000, repeat('x', 40), 12345678.1234, '5')",
            "UPDATE shop.orders SET qty = 7000000000 WHERE id = 1");
        var run = ok("--table", "shop.orders", "--apply", "--json");

        var widened = List.of(row("id", "bigint"), row("qty", "bigint"), row("label", "character varying(50)"),
            row("price", "numeric(12,4)"), row("code", "text"));
        assertThat(columns("bronze.orders__changes")).isEqualTo(widened);
        assertThat(columns("bronze.orders")).isEqualTo(widened);
        assertThat(db.warehouse().rows(ORDERS.formatted("bronze.orders"))).isEqualTo(db.source().rows(ORDERS.formatted("shop.orders")));
        assertThat(changes("bronze.orders__changes", "_cdc_op, id::text, qty::text, label, price::text")).containsExactly(
            row("insert", "4", "40", "l4", "4.5000"),
            row("insert", "5000000000", "6000000000", "x".repeat(40), "12345678.1234"),
            row("update", "1", "7000000000", "l1", "1.5000"));
        var expected = new ArrayList<List<String>>();
        for (String stream : List.of("bronze.orders__changes", "bronze.orders")) {
            expected.add(row(stream, "id", "widened", "integer", "bigint", "id"));
            expected.add(row(stream, "qty", "widened", "integer", "bigint", "qty"));
            expected.add(row(stream, "label", "widened", "character varying(10)", "character varying(50)", "label"));
            expected.add(row(stream, "price", "widened", "numeric(10,2)", "numeric(12,4)", "price"));
        }
        assertThat(recorded()).isEqualTo(expected);
        var json = new ObjectMapper().readTree(run.out());
        assertThat(json.path("schema_changes").toString()).contains("{\"table\":\"bronze.orders__changes\",\"column\":\"qty\","
            + "\"change\":\"widened\",\"old_type\":\"integer\",\"new_type\":\"bigint\"}");
        assertThat(json.path("warnings").toString()).contains("bronze.orders: widened qty from integer to bigint in place");
        // A widened key keeps its values: every row still matches by it, and nothing is said to be stale.
        assertThat(run.err()).doesNotContain("to reload it");

        // The next run hears the same shape again: nothing new is recorded or said.
        db.source().execute("UPDATE shop.orders SET label = 'again' WHERE id = 2");
        var again = ok("--table", "shop.orders", "--apply");
        assertThat(recorded()).hasSize(8);
        assertThat(again.err()).doesNotContain("WARN");
        assertThat(db.warehouse().rows(ORDERS.formatted("bronze.orders"))).isEqualTo(db.source().rows(ORDERS.formatted("shop.orders")));
    }

    @Test
    void aTypeItsColumnCannotHoldLandsInAVariantColumnBesideTheOldValuesInTheChangeTable() throws Exception {
        ok("--table", "shop.orders", "--apply");
        db.source().execute("INSERT INTO shop.orders VALUES (4, 40, 'l4', 4.5, '4')",
            "ALTER TABLE shop.orders ALTER COLUMN code TYPE integer USING code::integer",
            "INSERT INTO shop.orders VALUES (5, 50, 'l5', 5.5, 5)",
            "UPDATE shop.orders SET code = 11 WHERE id = 1");
        var run = ok("--table", "shop.orders", "--apply", "--json");

        var withVariant = List.of(row("id", "integer"), row("qty", "integer"), row("label", "character varying(10)"),
            row("price", "numeric(10,2)"), row("code", "text"), row("code__v_integer", "integer"));
        assertThat(columns("bronze.orders__changes")).isEqualTo(withVariant);
        assertThat(columns("bronze.orders")).isEqualTo(withVariant);
        // Never text by accident: the old values stay in code, the new ones land in the variant column.
        assertThat(changes("bronze.orders__changes", "_cdc_op, id::text, code, code__v_integer::text")).containsExactly(
            row("insert", "4", "4", null), row("insert", "5", null, "5"), row("update", "1", null, "11"));
        // The --apply table is kept equal to the source, whose USING rewrote every row: each row's value is in the variant column.
        assertThat(db.warehouse().rows("SELECT id::text, code, code__v_integer::text FROM bronze.orders ORDER BY id")).containsExactly(
            row("1", null, "11"), row("2", null, "2"), row("3", null, "3"), row("4", null, "4"), row("5", null, "5"));
        assertThat(db.warehouse().rows("SELECT id::text, coalesce(code__v_integer::text, code) FROM bronze.orders ORDER BY id"))
            .isEqualTo(db.source().rows("SELECT id::text, code::text FROM shop.orders ORDER BY id"));
        assertThat(recorded()).containsExactly(
            row("bronze.orders__changes", "code", "variant", "text", "integer", "code__v_integer"),
            row("bronze.orders", "code", "variant", "text", "integer", "code__v_integer"));
        assertThat(new ObjectMapper().readTree(run.out()).path("warnings").toString()).contains("bronze.orders__changes: code went from "
            + "text to integer, which it cannot hold: its values land in code__v_integer from now on");
    }

    @Test
    void aKeyColumnTheApplyTableCannotFollowStopsTheRunUntilASnapshotReloadsIt() {
        ok("--table", "shop.orders", "--apply");
        db.source().execute("ALTER TABLE shop.orders ALTER COLUMN id TYPE text");
        String changed = walNow();
        db.source().execute("INSERT INTO shop.orders VALUES ('x4', 40, 'l4', 4.5, '4')");
        Datakits.assertFailsWithOneLine(cdc("--table", "shop.orders", "--apply"), 3, "Key column id of shop.orders changed at the source (id "
            + "went from integer to text) so that bronze.orders can no longer match its rows by it. Run once with --snapshot always to "
            + "reload bronze.orders with the new type.");
        assertNothingCommittedFrom(changed);
        assertThat(db.warehouse().count("bronze.orders__changes")).isZero();

        ok("--table", "shop.orders", "--apply", "--snapshot", "always");
        db.source().execute("UPDATE shop.orders SET qty = 0 WHERE id = 'x4'");
        ok("--table", "shop.orders", "--apply");
        assertThat(db.warehouse().rows(ORDERS.formatted("bronze.orders"))).isEqualTo(db.source().rows(ORDERS.formatted("shop.orders")));
    }

    @Test
    void aChangeLandsTheSameWhetherItsChangeTableWasMadeBeforeOrAfterTheDdl() {
        // Without --table: a publication of all tables, so a table made later joins the stream at the next run; without a
        // snapshot, so its changes land from its first (with one, the snapshot holds them: CdcTableSnapshotIT).
        ok("--snapshot", "never");
        db.source().execute("CREATE TABLE shop.later (id int PRIMARY KEY, qty int, label varchar(10), price numeric(10, 2), code text)");
        for (String table : List.of("shop.orders", "shop.later")) {
            // A change of the old shape is still in the slot when the DDL comes.
            db.source().execute("INSERT INTO " + table + " VALUES (4, 40, 'l4', 4.5, '4')",
                "ALTER TABLE " + table + " ALTER COLUMN qty TYPE bigint, ALTER COLUMN code TYPE integer USING code::integer",
                "INSERT INTO " + table + " VALUES (5, 5000000000, 'l5', 5.5, 5)");
        }
        // shop.orders's change table was made before the DDL; shop.later's is made now, from the catalog's new types.
        ok("--snapshot", "never");
        assertThat(columns("bronze.later__changes")).isEqualTo(columns("bronze.orders__changes")).isEqualTo(List.of(row("id", "integer"),
            row("qty", "bigint"), row("label", "character varying(10)"), row("price", "numeric(10,2)"), row("code", "text"),
            row("code__v_integer", "integer")));
        String landed = "id::text, qty::text, code, code__v_integer::text";
        assertThat(changes("bronze.later__changes", landed)).isEqualTo(changes("bronze.orders__changes", landed))
            .containsExactly(row("4", "40", "4", null), row("5", "5000000000", null, "5"));
    }

    @Test
    void aDroppedColumnIsKeptSaidOnceAndRecordedAndApplyClearsItInTheRowsItWrites() {
        ok("--table", "shop.orders", "--apply");
        db.source().execute("ALTER TABLE shop.orders DROP COLUMN label", "UPDATE shop.orders SET qty = 99 WHERE id = 1",
            "INSERT INTO shop.orders VALUES (4, 40, 4.5, '4')");
        var run = ok("--table", "shop.orders", "--apply");

        assertThat(run.err()).contains("WARNING: bronze.orders__changes: label is no longer in the source (dropped or renamed): kept, NULL "
            + "in the rows loaded from now on");
        assertThat(recorded()).containsExactly(row("bronze.orders__changes", "label", "dropped", "character varying(10)", "", ""),
            row("bronze.orders", "label", "dropped", "character varying(10)", "", ""));
        assertThat(changes("bronze.orders__changes", "id::text, qty::text, label")).containsExactly(row("1", "99", null), row("4", "40", null));
        // The rows --apply writes from now on have NULL there, as a merge does; untouched rows keep what the snapshot had.
        assertThat(db.warehouse().rows("SELECT id::text, qty::text, label FROM bronze.orders ORDER BY id")).containsExactly(
            row("1", "99", null), row("2", "20", "l2"), row("3", "30", "l3"), row("4", "40", null));

        // A column bronze keeps after its drop is no change to refuse any more.
        db.source().execute("UPDATE shop.orders SET qty = 98 WHERE id = 1");
        var again = ok("--table", "shop.orders", "--apply", "--on-schema-change", "fail");
        assertThat(again.err()).doesNotContain("label");
        assertThat(recorded()).hasSize(2);
    }

    @Test
    void aColumnAddedWithADefaultGivesTheRowsAKeyedApplyTableHoldsTheSourcesValue() {
        ok("--table", "shop.orders", "--apply");
        // A change of the old shape in the same batch, then the new column, then a row that sets it.
        db.source().execute("INSERT INTO shop.orders VALUES (4, 40, 'l4', 4.5, '4')",
            "ALTER TABLE shop.orders ADD COLUMN tag text DEFAULT 'x'",
            "UPDATE shop.orders SET tag = 'y' WHERE id = 2");
        var added = ok("--table", "shop.orders", "--apply");
        String tags = "SELECT id::text, tag FROM %s ORDER BY id";
        assertThat(db.warehouse().rows(tags.formatted("bronze.orders"))).as(added.toString())
            .isEqualTo(db.source().rows(tags.formatted("shop.orders")));
        assertThat(db.warehouse().rows(ORDERS.formatted("bronze.orders"))).isEqualTo(db.source().rows(ORDERS.formatted("shop.orders")));
        assertThat(recorded()).containsExactly(row("bronze.orders__changes", "tag", "added", "", "text", "tag"),
            row("bronze.orders", "tag", "added", "", "text", "tag"));
        assertThat(added.err()).doesNotContain("to reload it");

        // A volatile default rewrote the table: the rows no change touched get the source's values once the run has applied its
        // changes (the column is new to the hashes the stream keeps).
        db.source().execute("ALTER TABLE shop.orders ADD COLUMN made timestamptz DEFAULT clock_timestamp()",
            "UPDATE shop.orders SET qty = 0 WHERE id = 1");
        var volatileDefault = ok("--table", "shop.orders", "--apply", "--json");
        assertThat(volatileDefault.err()).doesNotContain("to reload it");
        assertThat(volatileDefault.out()).contains("\"values_changed_without_writes\"");
        String made = "SELECT id::text, made::text FROM %s ORDER BY id";
        assertThat(db.warehouse().rows(made.formatted("bronze.orders"))).isEqualTo(db.source().rows(made.formatted("shop.orders")));
    }

    @Test
    void onSchemaChangeFailStopsBeforeTheChangeIsWrittenAndEvolveGoesOnFromThereWithEveryChangeOnce() {
        ok("--table", "shop.orders", "--apply");
        db.source().execute("INSERT INTO shop.orders VALUES (4, 40, 'l4', 4.5, '4')", "ALTER TABLE shop.orders ADD COLUMN tag text");
        String changed = walNow();
        db.source().execute("INSERT INTO shop.orders VALUES (5, 50, 'l5', 5.5, '5', 'z')");

        var failed = cdc("--table", "shop.orders", "--apply", "--on-schema-change", "fail");
        Datakits.assertFailsWithOneLine(failed, 3, "The columns of shop.orders changed: tag is new (text); --on-schema-change fail stops "
            + "the stream before anything is written. Rerun with --on-schema-change evolve to follow the change, or freeze to keep loading "
            + "the columns bronze has.");
        // The insert before the change may have been committed in a batch of its own; nothing from the change on was.
        assertNothingCommittedFrom(changed);
        assertThat(db.warehouse().rows("SELECT id::text FROM bronze.orders__changes")).isSubsetOf(List.of(List.of("4")));
        assertThat(columns("bronze.orders")).extracting(c -> c.get(0)).doesNotContain("tag");
        assertThat(db.warehouse().value("SELECT details -> 'schema_changes_refused' ->> 0 FROM bronze.extraction_runs "
            + "ORDER BY started_at DESC LIMIT 1")).isEqualTo("{\"change\": \"added\", \"column\": \"tag\", \"new_type\": \"text\"}");

        ok("--table", "shop.orders", "--apply", "--on-schema-change", "evolve");
        assertThat(changes("bronze.orders__changes", "_cdc_op, id::text, tag")).containsExactly(row("insert", "4", null),
            row("insert", "5", "z"));
        String withTag = "SELECT id::text, qty::text, label, price::text, code, tag FROM %s ORDER BY id";
        assertThat(db.warehouse().rows(withTag.formatted("bronze.orders"))).isEqualTo(db.source().rows(withTag.formatted("shop.orders")));
        // The shape bronze followed is no change to refuse any more.
        db.source().execute("UPDATE shop.orders SET tag = 'w' WHERE id = 1");
        ok("--table", "shop.orders", "--apply", "--on-schema-change", "fail");
        assertThat(db.warehouse().rows(withTag.formatted("bronze.orders"))).isEqualTo(db.source().rows(withTag.formatted("shop.orders")));
    }

    @Test
    void onSchemaChangeFreezeLoadsTheKnownColumnsAndStopsOnATypeTheyCannotHold() {
        ok("--table", "shop.orders", "--apply");
        db.source().execute("ALTER TABLE shop.orders ADD COLUMN extra int", "INSERT INTO shop.orders VALUES (4, 40, 'l4', 4.5, '4', 1)");
        var frozen = ok("--table", "shop.orders", "--apply", "--on-schema-change", "freeze");
        assertThat(frozen.err()).contains("WARNING: bronze.orders__changes: extra is new (integer) and not loaded (--on-schema-change freeze)");
        assertThat(columns("bronze.orders__changes")).extracting(c -> c.get(0)).doesNotContain("extra");
        assertThat(columns("bronze.orders")).extracting(c -> c.get(0)).doesNotContain("extra");
        assertThat(db.warehouse().rows(ORDERS.formatted("bronze.orders"))).isEqualTo(db.source().rows(ORDERS.formatted("shop.orders")));
        assertThat(recorded()).containsExactly(row("bronze.orders__changes", "extra", "ignored", "", "integer", ""),
            row("bronze.orders", "extra", "ignored", "", "integer", ""));

        db.source().execute("ALTER TABLE shop.orders ALTER COLUMN qty TYPE text");
        String changed = walNow();
        db.source().execute("INSERT INTO shop.orders VALUES (5, 'many', 'l5', 5.5, '5', 2)");
        var stopped = cdc("--table", "shop.orders", "--apply", "--on-schema-change", "freeze");
        Datakits.assertFailsWithOneLine(stopped, 3, "The columns of shop.orders changed: qty went from integer to text; --on-schema-change "
            + "freeze stops the stream before anything is written.");
        assertNothingCommittedFrom(changed);
        assertThat(db.warehouse().rows("SELECT id::text FROM bronze.orders__changes ORDER BY 1")).containsExactly(List.of("4"));
    }

    @Test
    void aRenamedTableIsFollowedByItsIdentityIntoTheSameBronzeTables() throws Exception {
        // Without --table, as a scheduled stream runs.
        ok("--apply");
        db.source().execute("INSERT INTO shop.orders VALUES (4, 40, 'l4', 4.5, '4')", "ALTER TABLE shop.orders RENAME TO orders_v2",
            "INSERT INTO shop.orders_v2 VALUES (5, 50, 'l5', 5.5, '5')", "UPDATE shop.orders_v2 SET qty = 0 WHERE id = 1");
        var renamed = ok("--apply", "--json");

        String made = "SELECT string_agg(tablename, ',' ORDER BY tablename) FROM pg_tables WHERE schemaname = 'bronze' AND tablename ~ '^orders'";
        assertThat(db.warehouse().value(made)).isEqualTo("orders,orders__changes");
        assertThat(changes("bronze.orders__changes", "_cdc_op, id::text, _bronze_table")).containsExactly(row("insert", "4", "orders"),
            row("insert", "5", "orders_v2"), row("update", "1", "orders_v2"));
        assertThat(db.warehouse().rows(ORDERS.formatted("bronze.orders"))).isEqualTo(db.source().rows(ORDERS.formatted("shop.orders_v2")));
        assertThat(db.warehouse().rows("SELECT id::text, _bronze_table FROM bronze.orders WHERE id IN (1, 5) ORDER BY id"))
            .containsExactly(row("1", "orders_v2"), row("5", "orders_v2"));
        var warnings = new ObjectMapper().readTree(renamed.out()).path("warnings");
        assertThat(warnings).extracting(com.fasterxml.jackson.databind.JsonNode::asText).containsExactly("bronze.orders__changes: "
            + "shop.orders was renamed to shop.orders_v2 on the source; the stream follows it by its identity, so it keeps landing here");
        assertThat(recorded()).containsExactly(row("bronze.orders__changes", "", "renamed", "shop.orders", "shop.orders_v2", ""),
            row("bronze.orders", "", "renamed", "shop.orders", "shop.orders_v2", ""));

        // Renamed while no run was going: the next run's first message of the table still finds its bronze tables.
        db.source().execute("ALTER TABLE shop.orders_v2 RENAME TO orders_v3", "INSERT INTO shop.orders_v3 VALUES (6, 60, 'l6', 6.5, '6')");
        ok("--apply");
        assertThat(db.warehouse().value(made)).isEqualTo("orders,orders__changes");
        assertThat(db.warehouse().rows(ORDERS.formatted("bronze.orders"))).isEqualTo(db.source().rows(ORDERS.formatted("shop.orders_v3")));
        assertThat(db.warehouse().count("bronze.orders__changes")).isEqualTo(4);

        // The old name no longer names a table: one line says which does.
        var oldName = cdc("--table", "shop.orders", "--apply");
        Datakits.assertFailsWithOneLine(oldName, 2, "shop.orders was renamed to shop.orders_v3 on the source",
            "Pass --table shop.orders_v3");
        db.source().execute("INSERT INTO shop.orders_v3 VALUES (7, 70, 'l7', 7.5, '7')");
        ok("--table", "shop.orders_v3", "--apply");
        assertThat(db.warehouse().value(made)).isEqualTo("orders,orders__changes");
        assertThat(db.warehouse().rows(ORDERS.formatted("bronze.orders"))).isEqualTo(db.source().rows(ORDERS.formatted("shop.orders_v3")));

        // A new table under the old name would land in the same bronze tables.
        db.source().execute("CREATE TABLE shop.orders (id int PRIMARY KEY)");
        Datakits.assertFailsWithOneLine(cdc("--apply"), 2, "would both land in bronze.orders");
    }

    /** shop.moods: a keyed table with an enum column, whose labels can be renamed without a row written. */
    static final String MOODS = "SELECT id::text, mood::text, note FROM %s ORDER BY id";

    void createMoods() {
        db.source().execute("CREATE TYPE shop.mood AS ENUM ('happy', 'sad')",
            "CREATE TABLE shop.moods (id int PRIMARY KEY, mood shop.mood, note text)",
            "INSERT INTO shop.moods VALUES (1, 'happy', 'a'), (2, 'happy', 'b'), (3, 'sad', 'c'), (4, 'sad', 'd')");
    }

    /** The last run's details in extraction_runs, as JSON text: {@code key}'s value, or null. */
    String lastDetail(String key) {
        return db.warehouse().value("SELECT details -> '" + key + "' FROM bronze.extraction_runs ORDER BY started_at DESC LIMIT 1");
    }

    @Test
    void anEnumLabelRenamedReachesEveryRowOfTheApplyTableOnceAndTheChangeTableKeepsTheLabelsAsTheyCame() throws Exception {
        createMoods();
        ok("--table", "shop.moods", "--apply");
        // Row 1 changes before the rename (its change carries 'happy'), row 3 after it; no change touches rows 2 and 4.
        db.source().execute("UPDATE shop.moods SET note = 'a2' WHERE id = 1", "ALTER TYPE shop.mood RENAME VALUE 'happy' TO 'glad'",
            "UPDATE shop.moods SET mood = 'glad', note = 'c2' WHERE id = 3");
        assertThat(ok("--table", "shop.moods", "--apply", "--dry-run").out()).contains("  values      bronze.moods would be given the "
            + "source's values of mood (changed at the source without rows being written)");
        var run = ok("--table", "shop.moods", "--apply", "--json");

        assertThat(db.warehouse().rows(MOODS.formatted("bronze.moods"))).as(run.toString())
            .isEqualTo(db.source().rows(MOODS.formatted("shop.moods")))
            .containsExactly(row("1", "glad", "a2"), row("2", "glad", "b"), row("3", "glad", "c2"), row("4", "sad", "d"));
        // The change table is a history: each change keeps the label it carried.
        assertThat(changes("bronze.moods__changes", "id::text, mood")).containsExactly(row("1", "happy"), row("3", "glad"));
        var json = new ObjectMapper().readTree(run.out());
        assertThat(json.path("values_changed_without_writes").toString()).isEqualTo("{\"bronze.moods\":[\"mood\"]}");
        assertThat(json.path("backfilled").toString()).isEqualTo("{\"bronze.moods\":{\"columns\":[\"mood\"],\"rows\":4}}");
        assertThat(lastDetail("values_changed_without_writes")).isEqualTo("{\"bronze.moods\": [\"mood\"]}");

        // The refresh is done once: the next run finds nothing changed.
        db.source().execute("UPDATE shop.moods SET note = 'b2' WHERE id = 2");
        var again = ok("--table", "shop.moods", "--apply", "--json");
        assertThat(again.out()).doesNotContain("values_changed_without_writes").doesNotContain("backfilled");
        assertThat(again.err()).doesNotContain("WARN");
        assertThat(db.warehouse().rows(MOODS.formatted("bronze.moods"))).isEqualTo(db.source().rows(MOODS.formatted("shop.moods")));

        // A checkpoint that kept no fingerprint (written before they were kept): the run takes one, and says once what it cannot find.
        db.warehouse().execute("UPDATE bronze.extraction_checkpoints SET state = jsonb_set(state, '{tables}', (SELECT "
            + "jsonb_object_agg(key, value - 'columns') FROM jsonb_each(state -> 'tables'))) WHERE stream = 'cdc:" + slot + "'");
        var baseline = ok("--table", "shop.moods", "--apply");
        assertThat(baseline.err()).contains("WARNING: bronze.moods: the stream's checkpoint keeps no fingerprint of the columns of "
            + "shop.moods yet (it was written before checkpoints kept them): values DDL changed without writing rows before this run (an "
            + "enum label renamed, a column dropped and added again with a DEFAULT) cannot be found; this run takes the fingerprint, and "
            + "--snapshot always reloads the table if there were such changes");
        assertThat(lastDetail("schema_baseline")).contains("bronze.moods");
        assertThat(ok("--table", "shop.moods", "--apply").err()).doesNotContain("WARN");
    }

    @Test
    void aColumnDroppedAndAddedAgainWithADefaultGivesEveryRowOfTheApplyTableTheSourcesValue() throws Exception {
        ok("--table", "shop.orders", "--apply");
        // The same name and type: the Relation message that comes with the next change announces no new column.
        db.source().execute("ALTER TABLE shop.orders DROP COLUMN code, ADD COLUMN code text DEFAULT 'new'",
            "UPDATE shop.orders SET qty = 0 WHERE id = 1");
        var run = ok("--table", "shop.orders", "--apply", "--json");

        assertThat(db.warehouse().rows(ORDERS.formatted("bronze.orders"))).as(run.toString())
            .isEqualTo(db.source().rows(ORDERS.formatted("shop.orders")));
        assertThat(db.warehouse().rows("SELECT code FROM bronze.orders")).containsOnly(row("new"));
        assertThat(new ObjectMapper().readTree(run.out()).path("values_changed_without_writes").toString())
            .isEqualTo("{\"bronze.orders\":[\"code\"]}");
        // The change table keeps the values the changes carried, and the old rows' values as they came.
        assertThat(changes("bronze.orders__changes", "id::text, code")).containsExactly(row("1", "new"));
    }

    @Test
    void aTypeChangedWithUsingGivesEveryRowOfTheApplyTableTheRewrittenValueWhereTheRuleLandsIt() {
        ok("--table", "shop.orders", "--apply");
        // A widening whose USING rewrote every value, and no change after it: no Relation message comes at all.
        db.source().execute("ALTER TABLE shop.orders ALTER COLUMN price TYPE numeric(12, 2) USING price * 100");
        var widened = ok("--table", "shop.orders", "--apply");
        assertThat(columns("bronze.orders")).contains(row("price", "numeric(12,2)"));
        assertThat(db.warehouse().rows(ORDERS.formatted("bronze.orders"))).as(widened.toString())
            .isEqualTo(db.source().rows(ORDERS.formatted("shop.orders")));

        // A type the column cannot hold, with USING, then a change: every row's value lands in the variant column, one column each.
        db.source().execute("ALTER TABLE shop.orders ALTER COLUMN code TYPE integer USING code::integer * 7",
            "UPDATE shop.orders SET qty = 1 WHERE id = 1");
        var variant = ok("--table", "shop.orders", "--apply");
        assertThat(db.warehouse().rows("SELECT id::text, code, code__v_integer::text FROM bronze.orders ORDER BY id")).as(variant.toString())
            .containsExactly(row("1", null, "7"), row("2", null, "14"), row("3", null, "21"));
        assertThat(db.warehouse().rows("SELECT id::text, qty::text, price::text, code__v_integer::text FROM bronze.orders ORDER BY id"))
            .isEqualTo(db.source().rows("SELECT id::text, qty::text, price::text, code::text FROM shop.orders ORDER BY id"));
        assertThat(ok("--table", "shop.orders", "--apply", "--json").out()).doesNotContain("values_changed_without_writes");
    }

    @Test
    void applyTablesThatCannotMatchRowsByTheirValuesSayOnceWhichChangedWithoutWritesAndHowToReloadThem() throws Exception {
        // One kept without a key, one whose key is the enum.
        db.source().execute("CREATE TYPE shop.mood AS ENUM ('happy', 'sad')", "CREATE TABLE shop.tags (n int, mood shop.mood)",
            "ALTER TABLE shop.tags REPLICA IDENTITY FULL", "INSERT INTO shop.tags VALUES (1, 'happy'), (2, 'sad')",
            "CREATE TABLE shop.keyed (mood shop.mood PRIMARY KEY, n int)", "INSERT INTO shop.keyed VALUES ('happy', 1), ('sad', 2)");
        ok("--table", "shop.tags,shop.keyed", "--apply");
        db.source().execute("ALTER TYPE shop.mood RENAME VALUE 'happy' TO 'glad'");
        var run = ok("--table", "shop.tags,shop.keyed", "--apply", "--json");

        assertThat(run.err()).contains("WARNING: bronze.tags (kept without a key): the values of mood in shop.tags changed at the source "
            + "without rows being written (an enum label renamed, a column dropped and added again, a type changed), and rows without a "
            + "key cannot be matched to give them the new values: the rows no change touched keep the old ones; run once with --resnapshot "
            + "shop.tags to reload it");
        assertThat(run.err()).contains("WARNING: bronze.keyed: the values of key column mood of shop.keyed changed at the source "
            + "without rows being written (an enum label renamed, a column dropped and added again, a type changed), so 1 of its rows no "
            + "longer match a row of the source by key: they keep their old values; run once with --resnapshot shop.keyed to reload it");
        assertThat(new ObjectMapper().readTree(run.out()).path("values_changed_without_writes").toString())
            .isEqualTo("{\"bronze.tags\":[\"mood\"],\"bronze.keyed\":[\"mood\"]}");
        assertThat(lastDetail("values_changed_without_writes")).isEqualTo("{\"bronze.tags\": [\"mood\"], \"bronze.keyed\": [\"mood\"]}");
        assertThat(ok("--table", "shop.tags,shop.keyed", "--apply").err()).doesNotContain("WARN");
        // What the warnings advise makes both tables equal to the source again, without a new slot.
        ok("--table", "shop.tags,shop.keyed", "--apply", "--resnapshot", "shop.tags,shop.keyed");
        for (String table : List.of("tags", "keyed")) {
            String rows = "SELECT n, mood::text FROM %s ORDER BY 1, 2";
            assertThat(db.warehouse().rows(rows.formatted("bronze." + table))).isEqualTo(db.source().rows(rows.formatted("shop." + table)));
        }
    }

    @Test
    void aFollowingRunRefreshesValuesChangedWithoutWritesOnceItHasAppliedTheChangesBeforeThem() throws Exception {
        createMoods();
        ok("--table", "shop.moods", "--apply");
        Process follower = Datakits.start("PostgresCdc", db.env(), "--slot", slot, "--table", "shop.moods", "--apply", "--follow");
        started.add(follower);
        db.source().execute("UPDATE shop.moods SET note = 'a2' WHERE id = 1", "ALTER TYPE shop.mood RENAME VALUE 'happy' TO 'glad'");
        String moods = MOODS.formatted("bronze.moods");
        for (int i = 0; i < 300 && !db.warehouse().rows(moods).equals(db.source().rows(MOODS.formatted("shop.moods"))); i++) {
            Thread.sleep(100);
        }
        assertThat(db.warehouse().rows(moods)).isEqualTo(db.source().rows(MOODS.formatted("shop.moods")))
            .contains(row("1", "glad", "a2"), row("2", "glad", "b"));
        follower.destroy(); // SIGTERM
        assertThat(follower.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(lastDetail("values_changed_without_writes")).isEqualTo("{\"bronze.moods\": [\"mood\"]}");
    }
}
