package datakit.incremental;

import static org.assertj.core.api.Assertions.assertThat;

import datakit.testing.Datakits;
import datakit.testing.SourceAndWarehouse;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Incremental streams (cursor and xmin, merge and append, postgres-jsonb with a cursor) go on after a column is added,
 * dropped or renamed at the source: the checkpoint still fits, bronze gains the new column and keeps the old one, and the
 * run says what changed. A change of the cursor or of the key still stops the run.
 */
class IncrementalSchemaChangeIT {
    private static final String TABLE = """
        CREATE SCHEMA shop;
        CREATE TABLE shop.orders (id int PRIMARY KEY, status text, payload jsonb, updated_at timestamptz NOT NULL);
        INSERT INTO shop.orders SELECT g, 'new', jsonb_build_object('n', g), timestamptz '2026-01-01' + g * interval '1 minute'
        FROM generate_series(1, 3) g;
        """;

    /** The streams a schema change must not stop. */
    enum Loads {
        MERGE_CURSOR("PostgresIncremental", "--cursor-field", "updated_at", "--mode", "merge"),
        APPEND_CURSOR("PostgresIncremental", "--cursor-field", "updated_at", "--mode", "append"),
        XMIN("PostgresIncremental", "--sync-mode", "xmin"),
        JSONB_CURSOR("PostgresJsonb", "--cursor-field", "updated_at", "--flatten", "payload");

        final String datakit;
        final List<String> args;

        Loads(String datakit, String... args) {
            this.datakit = datakit;
            this.args = List.of(args);
        }
    }

    /** A column change at the source, then a row updated (id 2) and one inserted (id 4) after it. */
    enum Change {
        ADD("ALTER TABLE shop.orders ADD COLUMN note text DEFAULT 'none'", "note", "id, status, note, payload, updated_at", List.of("note"), List.of()),
        DROP("ALTER TABLE shop.orders DROP COLUMN status", null, "id, payload, updated_at", List.of(), List.of("status")),
        RENAME("ALTER TABLE shop.orders RENAME COLUMN status TO state", "state", "id, state, payload, updated_at", List.of("state"),
            List.of("status"));

        final String ddl;
        /** The text column the row updated after the change sets (none after the drop). */
        final String textColumn;
        final String columnsAfter;
        final List<String> added;
        final List<String> noLongerRead;

        Change(String ddl, String textColumn, String columnsAfter, List<String> added, List<String> noLongerRead) {
            this.ddl = ddl;
            this.textColumn = textColumn;
            this.columnsAfter = columnsAfter;
            this.added = added;
            this.noLongerRead = noLongerRead;
        }
    }

    static Stream<Arguments> everyChangeInEveryStream() {
        return Arrays.stream(Loads.values()).flatMap(s -> Arrays.stream(Change.values()).map(c -> Arguments.of(s, c)));
    }

    static Datakits.Run run(SourceAndWarehouse db, Loads stream, String... more) {
        var args = new ArrayList<>(List.of("--table", "shop.orders"));
        args.addAll(stream.args);
        args.addAll(List.of(more));
        return Datakits.run(stream.datakit, db.env(), args.toArray(String[]::new));
    }

    static Datakits.Run ok(SourceAndWarehouse db, Loads stream, String... more) {
        var run = run(db, stream, more);
        assertThat(run.exitCode()).as(run.toString()).isZero();
        return run;
    }

    @ParameterizedTest(name = "{1} COLUMN in {0}")
    @MethodSource("everyChangeInEveryStream")
    void aColumnChangeAtTheSourceIsFollowedWithoutAReloadAndSaidOnce(Loads stream, Change change) {
        var db = SourceAndWarehouse.create("schema_" + change.name().toLowerCase(), TABLE);
        ok(db, stream);
        db.source().execute(change.ddl);
        db.source().execute("UPDATE shop.orders SET updated_at = updated_at + interval '1 day'"
                + (change.textColumn == null ? "" : ", " + change.textColumn + " = 'changed'") + " WHERE id = 2",
            "INSERT INTO shop.orders (" + change.columnsAfter + ") SELECT 4, "
                + (change == Change.ADD ? "'new', 'added', " : change == Change.RENAME ? "'renamed', " : "")
                + "'{\"n\": 4}', timestamptz '2026-02-01'");

        var dryRun = run(db, stream, "--dry-run");
        assertThat(dryRun.exitCode()).as(dryRun.toString()).isZero();
        var after = ok(db, stream, "--json");

        assertBronzeHoldsTheSourceRows(db, stream, change.added, "2, 4");
        List<String> warnings = after.err().lines().filter(l -> l.startsWith("WARNING: ")).toList();
        for (String added : change.added) {
            assertThat(warnings).as(after.toString()).filteredOn(l -> l.contains("bronze.orders: added " + added + " (text)")).hasSize(1);
        }
        for (String gone : change.noLongerRead) {
            assertThat(warnings).as(after.toString())
                .filteredOn(l -> l.contains("bronze.orders: " + gone + " is no longer in the source (dropped or renamed): kept")).hasSize(1);
            assertThat(db.warehouse().rows("SELECT id, " + gone + " FROM bronze.orders "
                + "WHERE _bronze_loaded_at = (SELECT max(_bronze_loaded_at) FROM bronze.orders) ORDER BY id"))
                .as("rows loaded after the change have NULL in " + gone).containsExactly(Arrays.asList("2", null), Arrays.asList("4", null));
            assertThat(db.warehouse().value("SELECT status FROM bronze.orders WHERE id = 1 ORDER BY _bronze_loaded_at LIMIT 1"))
                .as("rows loaded before keep their values").isEqualTo("new");
        }
        var said = new ArrayList<String>();
        change.added.forEach(c -> said.add("{\"table\":\"bronze.orders\",\"column\":\"" + c + "\",\"change\":\"added\",\"new_type\":\"text\"}"));
        change.noLongerRead.forEach(c -> said.add("{\"table\":\"bronze.orders\",\"column\":\"" + c
            + "\",\"change\":\"dropped\",\"old_type\":\"text\"}"));
        assertThat(after.out()).contains("\"schema_changes\":[" + String.join(",", said) + "]");
        assertThat(db.warehouse().rows("SELECT column_name, change FROM bronze.schema_changes ORDER BY change_id")).as("recorded")
            .containsExactlyElementsOf(Stream.concat(change.added.stream().map(c -> List.of(c, "added")),
                change.noLongerRead.stream().map(c -> List.of(c, "dropped"))).toList());

        var next = ok(db, stream);
        assertThat(next.err()).as("said once").doesNotContain("WARNING: bronze.orders:");
        assertThat(next.out()).doesNotContain("schema changes");
    }

    /**
     * Each source row is in bronze (its last version, in append mode) with the same values in every column both have: a merge
     * table gives the rows it held the source's values of a column it gained (the DEFAULT of ADD COLUMN, the values of a
     * renamed column); in append mode the versions loaded before have NULL there.
     */
    private static void assertBronzeHoldsTheSourceRows(SourceAndWarehouse db, Loads stream, List<String> added, String loadedAfter) {
        String columnsOf = "SELECT column_name FROM information_schema.columns WHERE table_schema = '%s' AND table_name = 'orders' "
            + "ORDER BY ordinal_position";
        List<String> bronze = db.warehouse().rows(columnsOf.formatted("bronze")).stream().map(r -> r.get(0)).toList();
        List<String> both = db.source().rows(columnsOf.formatted("shop")).stream().map(r -> r.get(0)).filter(bronze::contains).toList();
        String last = "(SELECT DISTINCT ON (id) * FROM bronze.orders ORDER BY id, _bronze_loaded_at DESC) last";
        String before = both.stream().filter(c -> !added.contains(c)).collect(Collectors.joining(", "));
        assertThat(db.warehouse().rows("SELECT " + before + " FROM " + last + " ORDER BY id"))
            .as(stream + ": bronze holds the source's rows in " + before)
            .isEqualTo(db.source().rows("SELECT " + before + " FROM shop.orders ORDER BY id"));
        String all = String.join(", ", both);
        assertThat(db.warehouse().rows("SELECT " + all + " FROM " + last + " WHERE id IN (" + loadedAfter + ") ORDER BY id"))
            .as(stream + ": the rows loaded after the change hold the source's values in " + all)
            .isEqualTo(db.source().rows("SELECT " + all + " FROM shop.orders WHERE id IN (" + loadedAfter + ") ORDER BY id"));
        if (stream == Loads.APPEND_CURSOR) {
            for (String column : added) {
                assertThat(db.warehouse().value("SELECT count(*) FROM " + last + " WHERE id NOT IN (" + loadedAfter + ") AND " + column
                    + " IS NOT NULL")).as("versions appended before have NULL in " + column).isEqualTo("0");
            }
        } else {
            assertThat(db.warehouse().rows("SELECT " + all + " FROM bronze.orders ORDER BY id")).as(stream + ": every row, backfilled")
                .isEqualTo(db.source().rows("SELECT " + all + " FROM shop.orders ORDER BY id"));
        }
    }

    @ParameterizedTest(name = "{0}")
    @org.junit.jupiter.params.provider.EnumSource(value = Loads.class, names = {"MERGE_CURSOR", "APPEND_CURSOR"})
    void aCursorAndAKeyThatWidenKeepTheCheckpointAndBronzeWidensInPlace(Loads stream) {
        var db = SourceAndWarehouse.create("schema_widen", """
            CREATE SCHEMA shop;
            CREATE TABLE shop.orders (id int PRIMARY KEY, status varchar(10), total numeric(10,2), payload jsonb, updated_at int NOT NULL);
            INSERT INTO shop.orders SELECT g, 'new', g + 0.5, '{}', g FROM generate_series(1, 3) g;
            """);
        ok(db, stream);
        db.source().execute("ALTER TABLE shop.orders ALTER COLUMN id TYPE bigint, ALTER COLUMN updated_at TYPE bigint, "
                + "ALTER COLUMN status TYPE varchar(50), ALTER COLUMN total TYPE numeric(12,4)",
            "INSERT INTO shop.orders VALUES (5000000000, 'a status longer than ten', 1.2345, '{}', 5000000000)",
            "UPDATE shop.orders SET updated_at = 10 WHERE id = 2");

        var after = ok(db, stream, "--json");

        assertThat(after.out()).as("read from the checkpoint, not again from the start").contains("\"rows\":2");
        assertThat(db.warehouse().rows("SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = "
                + "'bronze.orders'::regclass AND attname IN ('id', 'status', 'total', 'updated_at') ORDER BY attnum"))
            .containsExactly(List.of("id", "bigint"), List.of("status", "character varying(50)"), List.of("total", "numeric(12,4)"),
                List.of("updated_at", "bigint"));
        assertThat(db.warehouse().rows("SELECT DISTINCT ON (id) id, status, total, updated_at FROM bronze.orders "
                + "ORDER BY id, _bronze_loaded_at DESC"))
            .isEqualTo(db.source().rows("SELECT id, status, total, updated_at FROM shop.orders ORDER BY id"));
        assertThat(db.warehouse().rows("SELECT column_name, change FROM bronze.schema_changes ORDER BY change_id")).containsExactly(
            List.of("id", "widened"), List.of("status", "widened"), List.of("total", "widened"), List.of("updated_at", "widened"));
    }

    @ParameterizedTest(name = "{0}")
    @org.junit.jupiter.params.provider.EnumSource(value = Loads.class, names = {"MERGE_CURSOR", "XMIN", "APPEND_CURSOR"})
    void valuesDdlChangedWithoutWritingRowsAreRefreshedInAMergeTableAndSaidInAnAppendOne(Loads stream) {
        var db = SourceAndWarehouse.create("schema_values", """
            CREATE SCHEMA shop;
            CREATE TYPE shop.state AS ENUM ('new', 'shipped');
            CREATE TABLE shop.orders (id int PRIMARY KEY, status shop.state, payload jsonb, updated_at timestamptz NOT NULL, note text);
            INSERT INTO shop.orders SELECT g, 'shipped', '{}', timestamptz '2026-01-01' + g * interval '1 minute', 'n' || g
            FROM generate_series(1, 3) g;
            """);
        ok(db, stream);
        db.source().execute("ALTER TYPE shop.state RENAME VALUE 'shipped' TO 'sent'",
            "ALTER TABLE shop.orders DROP COLUMN note", "ALTER TABLE shop.orders ADD COLUMN note text DEFAULT 'none'");

        var after = ok(db, stream, "--json");

        String current = "SELECT id, status::text, note FROM %s ORDER BY id";
        if (stream == Loads.APPEND_CURSOR) {
            assertThat(after.err()).contains("WARNING: the values of status, note in shop.orders changed at the source without rows "
                + "being written");
            assertThat(db.warehouse().rows(current.formatted("bronze.orders"))).as("the history keeps the versions it has")
                .containsExactly(List.of("1", "shipped", "n1"), List.of("2", "shipped", "n2"), List.of("3", "shipped", "n3"));
        } else {
            assertThat(db.warehouse().rows(current.formatted("bronze.orders"))).isEqualTo(db.source().rows(current.formatted("shop.orders")))
                .contains(List.of("1", "sent", "none"));
        }
        assertThat(after.out()).contains("\"values_changed_without_writes\":[\"status\",\"note\"]");
        var again = ok(db, stream, "--json");
        assertThat(again.out()).as("refreshed once").doesNotContain("values_changed_without_writes");
    }

    @Test
    void deleteMarksOutliveAColumnChangeSinceNothingIsReloaded() {
        var db = SourceAndWarehouse.create("schema_marks", TABLE);
        ok(db, Loads.MERGE_CURSOR, "--detect-deletes");
        db.source().execute("DELETE FROM shop.orders WHERE id = 3");
        ok(db, Loads.MERGE_CURSOR, "--detect-deletes");
        db.source().execute("ALTER TABLE shop.orders ADD COLUMN note text DEFAULT 'none', ALTER COLUMN status TYPE varchar(20)");

        var after = ok(db, Loads.MERGE_CURSOR, "--detect-deletes", "--json");

        assertThat(after.out()).doesNotContain("full_refresh");
        assertThat(db.warehouse().rows("SELECT id, note, _bronze_deleted_at IS NOT NULL FROM bronze.orders ORDER BY id"))
            .containsExactly(List.of("1", "none", "f"), List.of("2", "none", "f"), Arrays.asList("3", null, "t"));
    }

    @Test
    void aCheckpointWrittenBeforeTheUpgradeListingEveryColumnFitsARunWithoutColumnsAndIsRewritten() {
        var db = SourceAndWarehouse.create("schema_old", TABLE);
        ok(db, Loads.MERGE_CURSOR);
        db.warehouse().execute("UPDATE bronze.extraction_checkpoints SET cursor_value = cursor_value - 'columns' "
            + "|| '{\"filter\": \"all rows; columns id,status,payload,updated_at\"}'");
        db.source().execute("ALTER TABLE shop.orders ADD COLUMN note text",
            "INSERT INTO shop.orders VALUES (4, 'new', '{}', timestamptz '2026-02-01', 'added')");

        var run = ok(db, Loads.MERGE_CURSOR);

        assertThat(run.err()).contains("WARNING: bronze.orders: added note (text)");
        assertBronzeHoldsTheSourceRows(db, Loads.MERGE_CURSOR, List.of("note"), "4");
        assertThat(db.warehouse().value("SELECT cursor_value->>'filter' FROM bronze.extraction_checkpoints"))
            .isEqualTo("all rows; every column");

        var narrowed = run(db, Loads.MERGE_CURSOR, "--columns", "id,updated_at");
        Datakits.assertFailsWithOneLine(narrowed, 2, "The checkpoint of bronze.orders cannot be used: it was taken for all rows; "
            + "every column, and this run reads all rows; --columns id,updated_at.");
    }

    @Test
    void aChangedCursorOrKeyStillStopsTheRunWithItsReason() {
        var db = SourceAndWarehouse.create("schema_key", TABLE);
        ok(db, Loads.MERGE_CURSOR);

        db.source().execute("ALTER TABLE shop.orders RENAME COLUMN id TO order_id");
        Datakits.assertFailsWithOneLine(run(db, Loads.MERGE_CURSOR), 2, "ERROR: The checkpoint of bronze.orders cannot be used: "
            + "it orders ties by [id], and this run by [order_id]. Reload the table with --full-refresh, or let such runs do it with "
            + "--on-bad-checkpoint full-refresh.");

        db.source().execute("ALTER TABLE shop.orders RENAME COLUMN order_id TO id",
            "ALTER TABLE shop.orders ALTER COLUMN updated_at TYPE timestamp");
        Datakits.assertFailsWithOneLine(run(db, Loads.MERGE_CURSOR), 2, "ERROR: The checkpoint of bronze.orders cannot be used: "
            + "its cursor value has type timestamp with time zone, and the column updated_at is now of type timestamp without time zone.");
        assertThat(db.warehouse().value("SELECT count(*) FROM bronze.orders")).isEqualTo("3");
    }
}
