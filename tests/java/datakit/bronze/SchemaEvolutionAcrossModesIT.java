package datakit.bronze;

import static org.assertj.core.api.Assertions.assertThat;

import datakit.testing.Datakits;
import datakit.testing.SourceAndWarehouse;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Schema evolution across postgres-cdc, --renamed-from and postgres-jsonb at its edges (found by a review that tried to
 * break it): each test states what the docs promise and asserts it on data read back from both databases.
 */
class SchemaEvolutionAcrossModesIT {
    static final String ORDERS_SQL = "CREATE TABLE shop.orders (id int PRIMARY KEY, qty int, label text)";
    static final String ORDERS_ROWS = "INSERT INTO shop.orders SELECT g, g * 10, 'l' || g FROM generate_series(1, 3) g";

    SourceAndWarehouse db;
    String slot;

    @AfterEach
    void dropSlot() {
        if (db != null && slot != null) {
            db.source().dropReplicationSlots(slot);
        }
    }

    void cdcDb(String prefix, String... sql) {
        db = SourceAndWarehouse.create(prefix, sql);
        slot = "s_" + db.source().name();
    }

    Datakits.Run cdc(String... args) {
        var all = new ArrayList<>(List.of("--slot", slot));
        all.addAll(List.of(args));
        return Datakits.run("PostgresCdc", db.env(), all.toArray(String[]::new));
    }

    static Datakits.Run ok(Datakits.Run run) {
        assertThat(run.exitCode()).as(run.toString()).isZero();
        return run;
    }

    Datakits.Run run(String datakit, String... args) {
        return Datakits.run(datakit, db.env(), args);
    }

    List<List<String>> recorded() {
        return db.warehouse().rows("SELECT stream, column_name, change, coalesce(old_type, ''), coalesce(new_type, ''), "
            + "coalesce(lands_in, '') FROM bronze.schema_changes ORDER BY change_id");
    }

    static List<String> row(String... values) {
        return Arrays.asList(values);
    }

    // ---------------------------------------------------------------- postgres-cdc

    /**
     * docs/postgres-cdc.md: freeze leaves a new column out; evolve then adds it and "the rows the bronze table holds get the
     * value the source's older rows have in it ... so the table stays equal to the source". A row written while frozen holds
     * another value at the source than the catalog's missing value.
     */
    @Test
    void cdcFreezeThenEvolveKeepsTheApplyTableEqualToTheSource() {
        cdcDb("rv2frz", "CREATE SCHEMA shop", ORDERS_SQL, ORDERS_ROWS);
        ok(cdc("--table", "shop.orders", "--apply"));
        db.source().execute("ALTER TABLE shop.orders ADD COLUMN tag text", "UPDATE shop.orders SET tag = 'set-while-frozen' WHERE id = 1",
            "INSERT INTO shop.orders VALUES (4, 40, 'l4', 'new-while-frozen')");
        ok(cdc("--table", "shop.orders", "--apply", "--on-schema-change", "freeze"));
        db.source().execute("UPDATE shop.orders SET qty = 0 WHERE id = 2");
        var evolved = ok(cdc("--table", "shop.orders", "--apply", "--on-schema-change", "evolve"));
        String q = "SELECT id::text, qty::text, label, tag FROM %s ORDER BY id";
        assertThat(db.warehouse().rows(q.formatted("bronze.orders"))).as(evolved.toString())
            .isEqualTo(db.source().rows(q.formatted("shop.orders")));
    }

    /**
     * A column dropped and added again with another type (and a DEFAULT) between two runs, with --apply: the rows no
     * change touched hold the DEFAULT at the source. The docs' read of a variant column is coalesce(new, old).
     */
    @Test
    void cdcDroppedAndReAddedWithAnotherTypeKeepsTheApplyTableEqualOrSaysWhy() {
        cdcDb("rv2dra", "CREATE SCHEMA shop", ORDERS_SQL, ORDERS_ROWS);
        ok(cdc("--table", "shop.orders", "--apply"));
        db.source().execute("UPDATE shop.orders SET label = 'before' WHERE id = 3", "ALTER TABLE shop.orders DROP COLUMN qty",
            "UPDATE shop.orders SET label = 'between' WHERE id = 3",
            "ALTER TABLE shop.orders ADD COLUMN qty text DEFAULT 'd'", "UPDATE shop.orders SET label = 'after' WHERE id = 2");
        var run = ok(cdc("--table", "shop.orders", "--apply", "--json"));
        assertThat(db.warehouse().rows("SELECT stream, column_name, change FROM bronze.schema_changes ORDER BY change_id"))
            .as("each change once").doesNotHaveDuplicates();
        var bronze = db.warehouse().rows("SELECT id::text, label, coalesce(qty__v_text, qty::text) FROM bronze.orders ORDER BY id");
        var source = db.source().rows("SELECT id::text, label, qty FROM shop.orders ORDER BY id");
        if (!bronze.equals(source)) {
            assertThat(run.err()).as("bronze %s differs from the source %s: the run must say so", bronze, source)
                .containsIgnoringCase("snapshot always");
        }
    }

    /** A column dropped and added again with the same type and a DEFAULT, no change between the two DDLs, --apply. */
    @Test
    void cdcDroppedAndReAddedWithTheSameTypeKeepsTheApplyTableEqualOrSaysWhy() {
        cdcDb("rv2dsame", "CREATE SCHEMA shop", ORDERS_SQL, ORDERS_ROWS);
        ok(cdc("--table", "shop.orders", "--apply"));
        db.source().execute("ALTER TABLE shop.orders DROP COLUMN qty", "ALTER TABLE shop.orders ADD COLUMN qty int DEFAULT 0",
            "UPDATE shop.orders SET label = 'after' WHERE id = 2");
        var run = ok(cdc("--table", "shop.orders", "--apply", "--json"));
        var bronze = db.warehouse().rows("SELECT id::text, label, qty::text FROM bronze.orders ORDER BY id");
        var source = db.source().rows("SELECT id::text, label, qty::text FROM shop.orders ORDER BY id");
        if (!bronze.equals(source)) {
            assertThat(run.all()).as("bronze %s differs from the source %s: the run must say so", bronze, source)
                .containsIgnoringCase("snapshot always");
        }
    }

    /** fail, then evolve, with a key widening and an added column pending: each change once, the change table exact. */
    @Test
    void cdcFailThenEvolveWithAKeyWideningPendingRecordsEachChangeOnce() {
        cdcDb("rv2fk", "CREATE SCHEMA shop", ORDERS_SQL, ORDERS_ROWS);
        ok(cdc("--table", "shop.orders", "--apply"));
        db.source().execute("UPDATE shop.orders SET qty = 1 WHERE id = 1", "ALTER TABLE shop.orders ALTER COLUMN id TYPE bigint",
            "UPDATE shop.orders SET id = 5000000000 WHERE id = 2", "ALTER TABLE shop.orders ADD COLUMN tag text DEFAULT 't'",
            "DELETE FROM shop.orders WHERE id = 3", "INSERT INTO shop.orders VALUES (6000000000, 6, 'l6', 'u')");
        assertThat(cdc("--table", "shop.orders", "--apply", "--on-schema-change", "fail").exitCode()).isEqualTo(3);
        assertThat(cdc("--table", "shop.orders", "--apply", "--on-schema-change", "fail").exitCode()).isEqualTo(3);
        var run = ok(cdc("--table", "shop.orders", "--apply"));
        String q = "SELECT id::text, qty::text, label, tag FROM %s ORDER BY id";
        assertThat(db.warehouse().rows(q.formatted("bronze.orders"))).as(run.toString()).isEqualTo(db.source().rows(q.formatted("shop.orders")));
        assertThat(db.warehouse().rows("SELECT _cdc_op, id::text FROM bronze.orders__changes ORDER BY _cdc_lsn, _cdc_seq")).containsExactly(
            row("update", "1"), row("update", "5000000000"), row("delete", "3"), row("insert", "6000000000"));
        assertThat(db.warehouse().rows("SELECT stream, column_name, change FROM bronze.schema_changes ORDER BY change_id")).containsExactly(
            row("bronze.orders__changes", "id", "widened"), row("bronze.orders", "id", "widened"),
            row("bronze.orders__changes", "tag", "added"), row("bronze.orders", "tag", "added"));
    }

    /** int -> text -> int with changes of every shape pending in one run, --apply keyed: coalesce equals the source. */
    @Test
    void cdcVariantThenBackWithPendingOldShapeChangesRecordsEachOnceAndStaysEqual() {
        cdcDb("rv2back", "CREATE SCHEMA shop", ORDERS_SQL, ORDERS_ROWS);
        ok(cdc("--table", "shop.orders", "--apply"));
        db.source().execute("INSERT INTO shop.orders VALUES (4, 40, 'l4')",
            "ALTER TABLE shop.orders ALTER COLUMN qty TYPE text",
            "INSERT INTO shop.orders VALUES (5, 'many', 'l5')", "UPDATE shop.orders SET qty = 'lots' WHERE id = 1",
            "UPDATE shop.orders SET qty = '77' WHERE id = 5",
            "ALTER TABLE shop.orders ALTER COLUMN qty TYPE int USING CASE WHEN qty ~ '^[0-9]+$' THEN qty::int END",
            "INSERT INTO shop.orders VALUES (6, 60, 'l6')", "UPDATE shop.orders SET qty = 11 WHERE id = 1");
        ok(cdc("--table", "shop.orders", "--apply"));
        String coalesced = "SELECT id::text, coalesce(qty::text, qty__v_text) FROM %s ORDER BY id";
        assertThat(db.warehouse().rows(coalesced.formatted("bronze.orders")))
            .isEqualTo(db.source().rows("SELECT id::text, qty::text FROM shop.orders ORDER BY id"));
        assertThat(db.warehouse().rows("SELECT id::text, qty::text, qty__v_text FROM bronze.orders__changes ORDER BY _cdc_lsn, _cdc_seq"))
            .containsExactly(row("4", "40", null), row("5", null, "many"), row("1", null, "lots"), row("5", null, "77"),
                row("6", "60", null), row("1", "11", null));
        var first = recorded();
        db.source().execute("UPDATE shop.orders SET label = 'x' WHERE id = 2");
        var again = ok(cdc("--table", "shop.orders", "--apply", "--on-schema-change", "fail"));
        assertThat(recorded()).as(again.toString()).isEqualTo(first);
    }

    /** REPLICA IDENTITY FULL without a key, --apply, ADD COLUMN ... DEFAULT; then old rows updated and deleted. */
    @Test
    void cdcKeylessApplyWithAddDefaultStillMatchesOldRows() {
        cdcDb("rv2kl", "CREATE SCHEMA shop", "CREATE TABLE shop.logs (n int, v text)", "ALTER TABLE shop.logs REPLICA IDENTITY FULL",
            "INSERT INTO shop.logs SELECT g % 3, 'v' || g FROM generate_series(1, 5) g");
        ok(cdc("--table", "shop.logs", "--apply"));
        db.source().execute("ALTER TABLE shop.logs ADD COLUMN tag text DEFAULT 'x', ADD COLUMN m numeric(6,2) DEFAULT 1.5",
            "UPDATE shop.logs SET v = 'upd' WHERE v = 'v1'", "DELETE FROM shop.logs WHERE v = 'v2'",
            "UPDATE shop.logs SET v = 'upd3' WHERE v = 'v3'",
            "DELETE FROM shop.logs WHERE v = 'v4'");
        var run = ok(cdc("--table", "shop.logs", "--apply"));
        String q = "SELECT n::text, v, tag, m::text FROM %s ORDER BY 1, 2, 3, 4";
        assertThat(db.warehouse().rows(q.formatted("bronze.logs"))).as(run.toString()).isEqualTo(db.source().rows(q.formatted("shop.logs")));
        assertThat(run.err()).doesNotContain("could not be applied");
    }

    /** A partitioned table (publish_via_partition_root), --apply, ADD COLUMN ... DEFAULT on the partitioned table. */
    @Test
    void cdcPartitionedTableAddColumnWithDefaultGivesHeldRowsTheDefault() {
        cdcDb("rv2part", "CREATE TABLE public.events (id int, at int, v text, PRIMARY KEY (id, at)) PARTITION BY RANGE (at)",
            "CREATE TABLE public.events_a PARTITION OF events FOR VALUES FROM (0) TO (10)",
            "CREATE TABLE public.events_b PARTITION OF events FOR VALUES FROM (10) TO (20)",
            "INSERT INTO events VALUES (1, 1, 'one'), (2, 12, 'two'), (3, 3, 'three')");
        ok(cdc("--table", "events", "--apply"));
        db.source().execute("ALTER TABLE events ADD COLUMN tag text DEFAULT 'x'",
            "UPDATE events SET v = 'uno' WHERE id = 1");
        var run = ok(cdc("--table", "events", "--apply"));
        String q = "SELECT id::text, at::text, v, tag FROM %s ORDER BY id";
        assertThat(db.warehouse().rows(q.formatted("bronze.events"))).as(run.toString()).isEqualTo(db.source().rows(q.formatted("events")));
    }

    /** Renamed into another schema between runs, without --table: the same bronze tables, equal to the source. */
    @Test
    void cdcTableMovedToAnotherSchemaBetweenRunsKeepsItsBronzeTables() {
        cdcDb("rv2mv", "CREATE SCHEMA shop", "CREATE SCHEMA archive", ORDERS_SQL, ORDERS_ROWS);
        ok(cdc("--apply"));
        db.source().execute("ALTER TABLE shop.orders SET SCHEMA archive", "INSERT INTO archive.orders VALUES (4, 40, 'l4')",
            "ALTER TABLE archive.orders RENAME TO orders2", "UPDATE archive.orders2 SET qty = 0 WHERE id = 1");
        var run = ok(cdc("--apply"));
        String q = "SELECT id::text, qty::text, label FROM %s ORDER BY id";
        assertThat(db.warehouse().rows(q.formatted("bronze.orders"))).as(run.toString()).isEqualTo(db.source().rows(q.formatted("archive.orders2")));
        assertThat(db.warehouse().value("SELECT string_agg(tablename, ',' ORDER BY tablename) FROM pg_tables WHERE schemaname = 'bronze' "
            + "AND tablename ~ '^orders'")).isEqualTo("orders,orders__changes");
        assertThat(recorded()).extracting(r -> r.get(2) + ":" + r.get(3) + "->" + r.get(4)).containsExactly(
            "renamed:shop.orders->archive.orders", "renamed:shop.orders->archive.orders",
            "renamed:archive.orders->archive.orders2", "renamed:archive.orders->archive.orders2");
    }

    /**
     * The swap every team does: the table renamed away, a new one created under its name from most of its rows, the old one
     * dropped, all between two runs. The stream follows tables by identity; bronze.orders now takes another table's
     * changes. It must equal the new table, or say why not.
     */
    @Test
    void cdcTableSwappedUnderItsNameBetweenRunsIsEqualOrSaid() {
        cdcDb("rv2swap", "CREATE SCHEMA shop", ORDERS_SQL, ORDERS_ROWS);
        ok(cdc("--apply"));
        db.source().execute("ALTER TABLE shop.orders RENAME TO orders_old", "CREATE TABLE shop.orders (LIKE shop.orders_old INCLUDING ALL)",
            "INSERT INTO shop.orders SELECT * FROM shop.orders_old WHERE id <> 2", "DROP TABLE shop.orders_old");
        var run = ok(cdc("--apply"));
        String q = "SELECT id::text, qty::text, label FROM %s ORDER BY id";
        var bronze = db.warehouse().rows(q.formatted("bronze.orders"));
        var source = db.source().rows(q.formatted("shop.orders"));
        if (!bronze.equals(source)) {
            assertThat(run.err()).as("bronze %s differs from the source %s: the run must say so", bronze, source).contains("WARNING");
        }
    }

    // ---------------------------------------------------------------- --renamed-from

    static final String SALES = """
        CREATE SCHEMA sales;
        CREATE TABLE sales.a (id int PRIMARY KEY, status text, updated_at timestamptz NOT NULL);
        INSERT INTO sales.a SELECT g, 'new', timestamptz '2026-01-01' + g * interval '1 minute' FROM generate_series(1, 3) g;
        """;

    /** A rename plus column changes in the same run, incremental merge: dry run and run agree; bronze equals the source. */
    @Test
    void renamedFromWithColumnChangesInTheSameRunIncrementalMerge() {
        db = SourceAndWarehouse.create("rv2rfc", SALES);
        ok(run("PostgresIncremental", "--table", "sales.a", "--cursor-field", "updated_at"));
        db.source().execute("ALTER TABLE sales.a RENAME TO b", "ALTER TABLE sales.b ADD COLUMN note text DEFAULT 'n'",
            "ALTER TABLE sales.b RENAME COLUMN status TO state", "ALTER TABLE sales.b ALTER COLUMN id TYPE bigint",
            "UPDATE sales.b SET state = 'paid', updated_at = updated_at + interval '1 day' WHERE id = 2");
        String[] args = {"--table", "sales.b", "--renamed-from", "sales.a", "--cursor-field", "updated_at", "--json"};
        var dry = ok(run("PostgresIncremental", concat(args, "--dry-run")));
        var real = ok(run("PostgresIncremental", args));
        String q = "SELECT id::text, state, note, updated_at::text FROM %s ORDER BY id";
        assertThat(db.warehouse().rows(q.formatted("bronze.a"))).as(real.toString()).isEqualTo(db.source().rows(q.formatted("sales.b")));
        var changes = db.warehouse().rows("SELECT column_name, change FROM bronze.schema_changes ORDER BY change_id");
        assertThat(changes).as(real.toString()).containsExactlyInAnyOrder(row("note", "added"), row("state", "added"),
            row("status", "dropped"), row("id", "widened"), row("", "renamed"));
        for (String column : List.of("note", "state", "status", "id")) {
            assertThat(dry.out()).as("dry run names %s: %s", column, dry).contains("\"" + column + "\"");
        }
    }

    static String[] concat(String[] a, String... b) {
        var all = new ArrayList<>(List.of(a));
        all.addAll(List.of(b));
        return all.toArray(String[]::new);
    }

    // ---------------------------------------------------------------- postgres-jsonb --flatten

    static final String EVENTS = """
        CREATE TABLE public.ev (id int PRIMARY KEY, payload jsonb, updated_at timestamptz NOT NULL);
        INSERT INTO ev SELECT g, jsonb_build_object('n', g, 'k', 'keep'), timestamptz '2026-01-01' + g * interval '1 minute'
        FROM generate_series(1, 4) g;
        """;

    Datakits.Run jsonbMerge() {
        return run("PostgresJsonb", "--table", "ev", "--cursor-field", "updated_at", "--flatten", "payload");
    }

    /** Merge: a key's type changes on every row (number to string), then back (string to number). */
    @Test
    void jsonbMergeKeyTypeChangesAndComesBack() {
        db = SourceAndWarehouse.create("rv2jmb", EVENTS);
        ok(jsonbMerge());
        db.source().execute("UPDATE ev SET payload = jsonb_set(payload, '{n}', to_jsonb('s' || id)), updated_at = updated_at + interval '1 day'");
        var toText = ok(jsonbMerge());
        db.source().execute("UPDATE ev SET payload = jsonb_set(payload, '{n}', to_jsonb(id * 100)), updated_at = updated_at + interval '2 day' "
            + "WHERE id <= 2");
        var back = ok(jsonbMerge());
        String coalesced = "SELECT id::text, coalesce(payload__n::text, payload__n__v_text, payload__n__v_jsonb #>> '{}') FROM bronze.ev ORDER BY id";
        assertThat(db.warehouse().rows(coalesced)).as(toText + "\n" + back)
            .isEqualTo(db.source().rows("SELECT id::text, payload ->> 'n' FROM ev ORDER BY id"));
        db.source().execute("UPDATE ev SET payload = jsonb_set(payload, '{n}', to_jsonb(id * 100)), updated_at = updated_at + interval '3 day' "
            + "WHERE id > 2");
        back = ok(jsonbMerge());
        assertThat(db.warehouse().rows(coalesced)).as(back.toString())
            .isEqualTo(db.source().rows("SELECT id::text, payload ->> 'n' FROM ev ORDER BY id"));
        assertThat(db.warehouse().rows(coalesced)).as(toText + "\n" + back)
            .isEqualTo(db.source().rows("SELECT id::text, payload ->> 'n' FROM ev ORDER BY id"));
        assertThat(db.warehouse().rows("SELECT count(*)::text FROM bronze.ev WHERE num_nonnulls(payload__n, payload__n__v_text, payload__n__v_jsonb) > 1"))
            .containsExactly(row("0"));
    }

    /** --explode into a child table, --mode append: an element key whose type changes. */
    @Test
    void jsonbExplodeAppendElementKeyTypeChanges() {
        db = SourceAndWarehouse.create("rv2jex", """
            CREATE TABLE public.od (id int PRIMARY KEY, payload jsonb);
            INSERT INTO od VALUES (1, '{"items": [{"qty": 1}, {"qty": 2}]}'), (2, '{"items": [{"qty": 3}]}');
            """);
        ok(run("PostgresJsonb", "--table", "od", "--explode", "payload.items", "--mode", "append"));
        db.source().execute("UPDATE od SET payload = '{\"items\": [{\"qty\": \"many\"}]}' WHERE id = 1",
            "UPDATE od SET payload = '{\"items\": [{\"qty\": \"few\"}]}' WHERE id = 2");
        var changed = ok(run("PostgresJsonb", "--table", "od", "--explode", "payload.items", "--mode", "append"));
        var children = db.warehouse().rows("SELECT string_agg(attname::text || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attnum) "
            + "FROM pg_attribute WHERE attrelid = 'bronze.od__payload__items'::regclass AND attnum > 0 AND NOT attisdropped");
        var qty = db.warehouse().rows("SELECT c.id::text, (SELECT string_agg(v, '') FROM jsonb_each_text(to_jsonb(c)) e(k, v) "
            + "WHERE k LIKE 'value\\_\\_qty%') FROM bronze.od__payload__items c ORDER BY 1, 2");
        assertThat(qty).as(changed + "\ncolumns: " + children).contains(row("1", "many"), row("2", "few"));
    }
}
