package datakit.cdc;

import datakit.bronze.BronzeMetadata;
import datakit.bronze.BronzeTable;
import datakit.sql.Identifiers;
import datakit.sql.Sql;
import datakit.sql.TableRef;
import datakit.wal.Lsn;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import java.util.stream.Collectors;
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
            String at = Sql.literal(lsn.toString()) + "::pg_lsn";
            return "_cdc_lsn >= " + at + " AND (_cdc_lsn, _cdc_seq) > (" + at + ", " + seq + ")";
        }
    }

    /** What following a change table's shape did to the bronze table, in words, and what it could not keep exact. */
    record Followed(List<String> done, List<String> warnings) {
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
     * for values no change has shown yet), gives it the columns the change table has, with the same types,
     * and the unique index on the key. A table kept without a key matches old rows whole, so a column added
     * to it gets, in the rows it holds, the value the source's older rows have in it ({@code olderRows}, from
     * the source catalog; see {@link CdcSource#olderRowValues}), and the run is warned where that value is not
     * known, or where a column's type changed (rows from before print as the old type did).
     */
    static Followed follow(DSLContext db, ChangeTable table, List<String> key,
                           Function<List<String>, Map<String, Optional<String>>> olderRows) {
        Map<String, String> types = BronzeTable.inspect(db, table.ref()).orElseThrow().columns();
        Optional<BronzeTable> state = BronzeTable.inspect(db, table.state());
        String index = "CREATE UNIQUE INDEX " + Sql.quote(Identifiers.fit(table.state().table() + "_bronze_key")) + " ON "
            + table.state().sql() + " (" + quoted(key) + ")";
        var changes = new ArrayList<String>();
        var done = new ArrayList<String>();
        var warnings = new ArrayList<String>();
        if (state.isEmpty()) {
            done.add("created " + table.state());
            changes.add("CREATE TABLE " + table.state().sql() + " (" + table.columns().stream().map(c -> Sql.quote(c) + " " + types.get(c))
                .collect(Collectors.joining(", ")) + ", _cdc_unknown text[], " + BronzeMetadata.commonDefinitions() + ")");
            if (!key.isEmpty()) {
                changes.add(index);
            }
        } else {
            Map<String, String> now = state.get().columns();
            List<String> added = table.columns().stream().filter(c -> !now.containsKey(c)).toList();
            Map<String, Optional<String>> older = key.isEmpty() && !added.isEmpty() ? olderRows.apply(added) : Map.of();
            for (String column : table.columns()) {
                String type = types.get(column);
                if (!now.containsKey(column)) {
                    Optional<String> value = older.getOrDefault(column, Optional.empty());
                    // A constant default gives the rows the table holds their value without rewriting it; then it goes again.
                    changes.add("ALTER TABLE " + table.state().sql() + " ADD COLUMN " + Sql.quote(column) + " " + type
                        + value.map(v -> " DEFAULT " + Sql.literal(v) + "::" + type).orElse(""));
                    value.ifPresent(v -> changes.add("ALTER TABLE " + table.state().sql() + " ALTER COLUMN " + Sql.quote(column) + " DROP DEFAULT"));
                    done.add("added " + TableRef.display(column) + " " + type + " to " + table.state()
                        + (value.isPresent() ? " (its rows from before get the value the source gives them)" : ""));
                    if (key.isEmpty() && !older.containsKey(column)) {
                        warnings.add(inexact(table, "the values its rows from before have in the new column " + TableRef.display(column)
                            + " are not known here (a volatile default, or the table was rewritten since)"));
                    }
                } else if (!now.get(column).equals(type)) {
                    changes.add("ALTER TABLE " + table.state().sql() + " ALTER COLUMN " + Sql.quote(column) + " TYPE " + type + " USING "
                        + Sql.quote(column) + "::text::" + type);
                    done.add(TableRef.display(column) + " of " + table.state() + " is now " + type);
                    if (key.isEmpty()) {
                        warnings.add(inexact(table, "the type of " + TableRef.display(column) + " changed, and the rows it holds from before "
                            + "print their values as the old type did"));
                    }
                }
            }
            if (!key.isEmpty() && !state.get().hasUniqueKey(key)) {
                changes.add(index);
                done.add(table.state() + " was not kept by --apply until now: rows no change touched since its snapshot may be out of "
                    + "date (run once with --snapshot always to reload it)");
            }
        }
        changes.forEach(db::execute);
        return new Followed(done, warnings);
    }

    private static String inexact(ChangeTable table, String why) {
        return "%s (kept without a key) can no longer match exactly the old rows that updates and deletes of %s send: %s; run once with "
            .formatted(table.state(), table.source(), why) + "--snapshot always to reload it";
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
        List<String> others = table.columns().stream().filter(c -> !key.contains(c)).toList();
        String keys = quoted(key);
        String oldKeys = key.stream().map(k -> "(_cdc_old ->> " + Sql.literal(k) + ")::" + types.get(k) + " AS " + Sql.quote(k))
            .collect(Collectors.joining(", "));
        String sets = others.stream().map(c -> ", " + Sql.quote(c)).collect(Collectors.joining());
        String nulls = others.stream().map(c -> ", NULL::" + types.get(c) + " AS " + Sql.quote(c)).collect(Collectors.joining());
        String events = "SELECT _cdc_lsn, _cdc_seq, true AS sets, _cdc_unknown, " + keys + sets + " FROM " + changes
            + " WHERE " + since + " AND _cdc_op IN ('insert', 'update') UNION ALL SELECT _cdc_lsn, _cdc_seq, false, NULL::text[], " + oldKeys
            + nulls + " FROM " + changes + " WHERE " + since + " AND _cdc_old IS NOT NULL AND _cdc_op IN ('update', 'delete')";
        String last = "SELECT DISTINCT ON (" + keys + ") * FROM (" + events + ") e ORDER BY " + keys + ", _cdc_lsn DESC, _cdc_seq DESC, sets DESC";
        db.execute("DELETE FROM " + table.state().sql() + " s USING (" + last + ") l WHERE NOT l.sets AND "
            + key.stream().map(k -> "s." + Sql.quote(k) + " = l." + Sql.quote(k)).collect(Collectors.joining(" AND ")));
        Insert insert = Insert.of(table, unknown, metadata);
        List<String> columns = insert.columns();
        List<String> values = insert.values();
        var updates = columns.stream().filter(c -> !key.stream().map(Sql::quote).toList().contains(c)).map(c -> c + " = excluded." + c)
            .collect(Collectors.joining(", "));
        db.execute("INSERT INTO " + table.state().sql() + " (" + String.join(", ", columns) + ") SELECT " + String.join(", ", values)
            + " FROM (" + last + ") l WHERE sets ON CONFLICT (" + keys + ") DO UPDATE SET " + updates);
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
        Insert insert = Insert.of(table, unknown, metadata);
        db.execute("INSERT INTO " + table.state().sql() + " (" + String.join(", ", insert.columns()) + ") SELECT "
            + String.join(", ", insert.values())
            + " FROM " + changes + " WHERE " + since + " AND _cdc_op IN ('insert', 'update') ORDER BY _cdc_lsn, _cdc_seq");
        // -> is SQL NULL for a key the old row lacks, and JSON null for a NULL it carries.
        String whole = table.columns().stream().map(c -> "_cdc_old -> " + Sql.literal(c) + " IS NOT NULL")
            .collect(Collectors.joining(" AND ", "coalesce(", ", false)"));
        String oldRow = table.columns().stream().map(c -> "((_cdc_old ->> " + Sql.literal(c) + ")::" + types.get(c) + ")::text")
            .collect(Collectors.joining(", ", "jsonb_build_array(", ")"));
        String bronzeRow = table.columns().stream().map(c -> "s." + Sql.quote(c) + "::text")
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

    /** The bronze table's columns a change row sets, and the values from the change table's row (and the run's metadata). */
    private record Insert(List<String> columns, List<String> values) {
        static Insert of(ChangeTable table, boolean unknown, BronzeMetadata metadata) {
            var columns = new ArrayList<>(table.columns().stream().map(Sql::quote).toList());
            var values = new ArrayList<>(columns);
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
