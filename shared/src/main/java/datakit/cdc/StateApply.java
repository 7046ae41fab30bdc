package datakit.cdc;

import datakit.bronze.BronzeMetadata;
import datakit.bronze.BronzeTable;
import datakit.bronze.SchemaChange;
import datakit.bronze.SchemaEvolution;
import datakit.bronze.SchemaPolicy;
import datakit.bronze.WriteMode;
import datakit.error.DatakitException;
import datakit.sql.Identifiers;
import datakit.sql.Sql;
import datakit.sql.TableRef;
import datakit.wal.Lsn;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.function.Function;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.jooq.DSLContext;
import org.jooq.Record;

/**
 * {@code --apply}: keeps a source table's bronze table (loaded from the snapshot) equal to the source,
 * by its row key, from the change table, in the batch's transaction. For each key the batch touched,
 * the last thing that happened to it wins: a row set by an insert or update (upserted, so columns the
 * stream does not carry, such as generated ones, keep their values), or removed by a delete or by an
 * update that moved the row to another key. A truncate empties the table first, and only what came
 * after it counts.
 * <p>
 * A table without a key (REPLICA IDENTITY FULL, whose changes carry the whole old row) is kept as a
 * multiset, as PostgreSQL's own logical replication applies it: every change removes exactly one row
 * equal to its old row (NULLs equal NULLs) and adds its new row. Rows are compared on the text form
 * of every column, read back through the column's type in the warehouse, so types without an equality
 * operator (json, point, xml) compare too, and two rows match only when they print the same.
 */
final class StateApply {
    private StateApply() {
    }

    /** Where a batch's changes of a table were applied through: the change's commit LSN and its {@code _cdc_seq}. */
    record After(Lsn lsn, int seq) {
        /** Every change of the transactions that commit at {@code lsn} or later. */
        static After start(Lsn lsn) {
            return new After(lsn, 0);
        }

        String sql() {
            return sql("");
        }

        /** The condition on the change rows of {@code alias} ({@code "w."}, or none). */
        String sql(String alias) {
            String at = Sql.literal(lsn.toString()) + "::pg_lsn";
            return alias + "_cdc_lsn >= " + at + " AND (" + alias + "_cdc_lsn, " + alias + "_cdc_seq) > (" + at + ", " + seq + ")";
        }
    }

    /** What following a Relation message did to the bronze table: tables made, in words; what it could not keep exact; the changes it recorded. */
    record Followed(List<String> done, List<String> warnings, List<SchemaChange> recorded) {
    }

    /** Of a batch's updates and deletes of a keyless table: those that found no equal row, and those that came without a whole old row. */
    record Unmatched(long noEqualRow, long noOldRow) {
        static final Unmatched NONE = new Unmatched(0, 0);

        Unmatched plus(Unmatched other) {
            return new Unmatched(noEqualRow + other.noEqualRow, noOldRow + other.noOldRow);
        }
    }

    /**
     * Creates the bronze table when missing (no snapshot was loaded; it then also gets {@code _cdc_unknown}
     * for values no change has shown yet) and the unique index on the key, or brings it to the shape of the
     * change table's last Relation message by the rule every mode follows ({@link TableShape}): a column added
     * to the source gets, in the rows the table holds, the value the source's older rows have in it
     * ({@code olderRows}, from the source catalog; see {@link CdcSource#olderRowValues}), so the table stays
     * equal to the source; the run is warned where that value is not known. A key column whose values move to a
     * variant column stops the run: rows could no longer be matched by it.
     */
    static Followed follow(DSLContext db, ChangeTable table, List<String> key,
                           Function<List<String>, Map<String, Optional<String>>> olderRows, SchemaPolicy policy, UUID runId) {
        Map<String, String> changeColumns = BronzeTable.inspect(db, table.ref()).orElseThrow().columns();
        Optional<BronzeTable> state = BronzeTable.inspect(db, table.state());
        String index = "CREATE UNIQUE INDEX " + Sql.quote(Identifiers.fit(table.state().table() + "_bronze_key")) + " ON "
            + table.state().sql() + " (" + quoted(key) + ")";
        if (state.isEmpty()) {
            List<String> columns = table.columns().stream().filter(table::lands).toList();
            db.execute("CREATE TABLE " + table.state().sql() + " (" + columns.stream().map(c -> Sql.quote(c) + " "
                + changeColumns.get(table.column(c))).collect(Collectors.joining(", ")) + ", _cdc_unknown text[], "
                + BronzeMetadata.commonDefinitions() + ")");
            if (!key.isEmpty()) {
                db.execute(index);
            }
            table.stateShape(columns.stream().collect(Collectors.toMap(c -> c, c -> c)), List.of());
            return new Followed(List.of("created " + table.state()), List.of(), List.of());
        }
        // Columns neither table takes from the stream (generated ones, those outside the publication's column list) are
        // the snapshot's: no change of the stream's.
        var followed = new LinkedHashMap<>(ChangeTable.sourceColumns(state.get().columns()));
        followed.keySet().removeIf(c -> !changeColumns.containsKey(c) && !table.columns().contains(c));
        var shape = TableShape.of(db, table.state(), followed, table.landing(), WriteMode.MERGE, policy, runId);
        refuseAKeyThatMoved(table.source(), table.state(), key, shape.evolution());
        List<String> added = shape.added();
        Map<String, Optional<String>> older = added.isEmpty() ? Map.of() : olderRows.apply(added);
        List<SchemaChange> recorded = shape.alter(db, older);
        table.stateShape(shape.evolution().landsIn(), shape.evolution().cleared());
        var done = new ArrayList<String>();
        var warnings = new ArrayList<String>();
        // A keyed table gets the source's values of an added column in every row once the run has applied its changes
        // (ValueRefresh: the column is new to the hashes the stream keeps); a keyless one cannot match rows by key.
        for (String column : added) {
            if (!older.containsKey(column) && key.isEmpty()) {
                warnings.add(inexact(table, "the values its rows from before have in the new column " + TableRef.display(column)
                    + " are not known here (a volatile default, or the table was rewritten since)"));
            }
        }
        if (key.isEmpty()) {
            shape.evolution().changes().stream().filter(c -> c.kind() == SchemaChange.Kind.VARIANT).forEach(c -> warnings.add(inexact(table,
                "the values of " + TableRef.display(c.column()) + " land in " + TableRef.display(c.landsIn().orElseThrow())
                    + " from now on, and the rows it holds from before keep theirs in " + TableRef.display(c.column()))));
        }
        if (!key.isEmpty() && !state.get().hasUniqueKey(key.stream().map(table::stateColumn).toList())) {
            db.execute(index);
            done.add(table.state() + " was not kept by --apply until now: rows no change touched since its snapshot may be out of "
                + "date (run once with --resnapshot " + table.source() + " to reload it)");
        }
        return new Followed(done, warnings, recorded);
    }

    /** A keyed bronze table is matched by its key columns: one whose values would move to a variant column cannot be followed. */
    static void refuseAKeyThatMoved(TableRef source, TableRef state, List<String> key, SchemaEvolution evolution) {
        for (SchemaChange change : evolution.changes()) {
            if (key.contains(change.column()) && evolution.cleared().contains(change.column())) {
                throw DatakitException.notReady(("Key column %s of %s changed at the source (%s) so that %s can no longer match its rows "
                    + "by it. Run once with --snapshot always to reload %s with the new type.").formatted(TableRef.display(change.column()),
                    source, change.what(), state, state));
            }
        }
    }

    private static String inexact(ChangeTable table, String why) {
        return "%s (kept without a key) can no longer match exactly the old rows that updates and deletes of %s send: %s; run once with "
            .formatted(table.state(), table.source(), why) + "--resnapshot " + table.source() + " to reload it";
    }

    /**
     * Applies the changes after {@code from}; {@code key} empty for a table kept as a multiset. Returns the
     * updates and deletes of a keyless table it could not apply: 0 unless the bronze table no longer equals
     * the source (changed by hand, not kept by --apply all along, or after a schema change it warned of).
     */
    static Unmatched apply(DSLContext db, ChangeTable table, List<String> key, After from, BronzeMetadata metadata) {
        Map<String, String> types = BronzeTable.inspect(db, table.ref()).orElseThrow().columns();
        Map<String, String> stateColumns = BronzeTable.inspect(db, table.state()).orElseThrow().columns();
        String changes = table.ref().sql();
        String since = from.sql();
        Optional<String> lastTruncate = db.resultQuery("SELECT _cdc_lsn::text || ' ' || _cdc_seq FROM " + changes + " WHERE " + since
            + " AND _cdc_op = 'truncate' ORDER BY _cdc_lsn DESC, _cdc_seq DESC LIMIT 1").fetchOptional(0, String.class);
        if (lastTruncate.isPresent()) {
            db.execute("TRUNCATE " + table.state().sql());
            String[] at = lastTruncate.get().split(" ");
            since = new After(Lsn.parse(at[0]), Integer.parseInt(at[1])).sql();
        }
        boolean unknown = stateColumns.containsKey("_cdc_unknown");
        if (key.isEmpty()) {
            return applyWholeRows(db, table, since, types, unknown, metadata);
        }
        // The change table's columns, named as the bronze table's columns that take them.
        List<String> others = table.applied().stream().filter(c -> !key.contains(c)).toList();
        List<String> keyColumns = key.stream().map(k -> Sql.quote(table.stateColumn(k))).toList();
        String keys = String.join(", ", keyColumns);
        String newKeys = key.stream().map(k -> Sql.quote(table.column(k)) + " AS " + Sql.quote(table.stateColumn(k)))
            .collect(Collectors.joining(", "));
        String oldKeys = key.stream().map(k -> "(_cdc_old ->> " + Sql.literal(k) + ")::" + types.get(table.column(k)) + " AS "
            + Sql.quote(table.stateColumn(k))).collect(Collectors.joining(", "));
        String sets = others.stream().map(c -> ", " + Sql.quote(table.column(c)) + " AS " + Sql.quote(table.stateColumn(c)))
            .collect(Collectors.joining());
        String nulls = others.stream().map(c -> ", NULL::" + types.get(table.column(c)) + " AS " + Sql.quote(table.stateColumn(c)))
            .collect(Collectors.joining());
        String events = "SELECT _cdc_lsn, _cdc_seq, true AS sets, _cdc_unknown, " + newKeys + sets + " FROM " + changes
            + " WHERE " + since + " AND _cdc_op IN ('insert', 'update') UNION ALL SELECT _cdc_lsn, _cdc_seq, false, NULL::text[], " + oldKeys
            + nulls + " FROM " + changes + " WHERE " + since + " AND _cdc_old IS NOT NULL AND _cdc_op IN ('update', 'delete')";
        String last = "SELECT DISTINCT ON (" + keys + ") * FROM (" + events + ") e ORDER BY " + keys + ", _cdc_lsn DESC, _cdc_seq DESC, sets DESC";
        db.execute("DELETE FROM " + table.state().sql() + " s USING (" + last + ") l WHERE NOT l.sets AND "
            + keyColumns.stream().map(k -> "s." + k + " = l." + k).collect(Collectors.joining(" AND ")));
        List<String> set = Stream.concat(keyColumns.stream(), others.stream().map(c -> Sql.quote(table.stateColumn(c)))).toList();
        Insert insert = Insert.of(set, set, unknown, metadata);
        var updates = new ArrayList<String>();
        insert.columns().stream().filter(c -> !keyColumns.contains(c)).forEach(c -> updates.add(c + " = excluded." + c));
        // A column the source no longer has, or whose values moved to a variant column, is NULL in every row written from now on.
        table.stateCleared().stream().map(Sql::quote).filter(c -> !insert.columns().contains(c)).forEach(c -> updates.add(c + " = NULL"));
        db.execute("INSERT INTO " + table.state().sql() + " (" + String.join(", ", insert.columns()) + ") SELECT "
            + String.join(", ", insert.values()) + " FROM (" + last + ") l WHERE sets ON CONFLICT (" + keys + ") DO UPDATE SET "
            + String.join(", ", updates));
        return Unmatched.NONE;
    }

    /**
     * A table without a key, as a multiset: adds the new row of every insert and update, then removes, for
     * each distinct old row of the updates and deletes, as many equal rows as there were such changes. Set
     * arithmetic gives what applying them one by one in commit order gives, since every old row existed when
     * its change was made; a row added and removed within the batch cancels out. An update or delete that did
     * not carry the whole old row (the table's replica identity changed) removes nothing, and is counted.
     */
    private static Unmatched applyWholeRows(DSLContext db, ChangeTable table, String since, Map<String, String> types, boolean unknown,
                                            BronzeMetadata metadata) {
        String changes = table.ref().sql();
        List<String> applied = table.applied();
        Insert insert = Insert.of(applied.stream().map(c -> Sql.quote(table.stateColumn(c))).toList(),
            applied.stream().map(c -> Sql.quote(table.column(c))).toList(), unknown, metadata);
        db.execute("INSERT INTO " + table.state().sql() + " (" + String.join(", ", insert.columns()) + ") SELECT "
            + String.join(", ", insert.values())
            + " FROM " + changes + " WHERE " + since + " AND _cdc_op IN ('insert', 'update') ORDER BY _cdc_lsn, _cdc_seq");
        // -> is SQL NULL for a key the old row lacks, and JSON null for a NULL it carries.
        String whole = applied.stream().map(c -> "_cdc_old -> " + Sql.literal(c) + " IS NOT NULL")
            .collect(Collectors.joining(" AND ", "coalesce(", ", false)"));
        String oldRow = applied.stream().map(c -> "((_cdc_old ->> " + Sql.literal(c) + ")::" + types.get(table.column(c)) + ")::text")
            .collect(Collectors.joining(", ", "jsonb_build_array(", ")"));
        String bronzeRow = applied.stream().map(c -> "s." + Sql.quote(table.stateColumn(c)) + "::text")
            .collect(Collectors.joining(", ", "jsonb_build_array(", ")"));
        Record counts = db.resultQuery("WITH changed AS (SELECT _cdc_old, " + whole + " AS whole FROM " + changes + " WHERE " + since
                + " AND _cdc_op IN ('update', 'delete')), "
                + "gone AS (SELECT " + oldRow + " AS row, count(*) AS n FROM changed WHERE whole GROUP BY 1), "
                + "equal AS (SELECT s.ctid AS row_id, g.n, row_number() OVER (PARTITION BY g.row ORDER BY s.ctid) AS copy FROM "
                + table.state().sql() + " s JOIN gone g ON " + bronzeRow + " = g.row), "
                + "removed AS (DELETE FROM " + table.state().sql() + " s USING equal e WHERE s.ctid = e.row_id AND e.copy <= e.n RETURNING 1) "
                + "SELECT (SELECT coalesce(sum(n), 0) FROM gone) - (SELECT count(*) FROM removed), "
                + "(SELECT count(*) FROM changed WHERE NOT whole)").fetchOne();
        return new Unmatched(counts.get(0, Long.class), counts.get(1, Long.class));
    }

    /**
     * The bronze table's columns a change row sets ({@code set}, quoted), and the values from the change table's row
     * ({@code from}, in the same order), then {@code _cdc_unknown} and the run's metadata.
     */
    private record Insert(List<String> columns, List<String> values) {
        static Insert of(List<String> set, List<String> from, boolean unknown, BronzeMetadata metadata) {
            var columns = new ArrayList<>(set);
            var values = new ArrayList<>(from);
            if (unknown) {
                columns.add("_cdc_unknown");
                values.add("_cdc_unknown");
            }
            metadata.columns().forEach(c -> columns.add(Sql.quote(c.name())));
            values.addAll(metadata.valueExpressions());
            return new Insert(columns, values);
        }
    }

    private static String quoted(List<String> names) {
        return names.stream().map(Sql::quote).collect(Collectors.joining(", "));
    }
}
