package datakit.cdc;

import datakit.bronze.BronzeMetadata;
import datakit.bronze.BronzeTable;
import datakit.sql.Identifiers;
import datakit.sql.Sql;
import datakit.sql.TableRef;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Collectors;
import org.jooq.DSLContext;

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

    /**
     * Creates the bronze table when missing (no snapshot was loaded; it then also gets {@code _cdc_unknown}
     * for values no change has shown yet), gives it the columns the change table has, with the same types,
     * and the unique index on the key; returns what it changed, in words.
     */
    static List<String> follow(DSLContext db, ChangeTable table, List<String> key) {
        Map<String, String> types = BronzeTable.inspect(db, table.ref()).orElseThrow().columns();
        Optional<BronzeTable> state = BronzeTable.inspect(db, table.state());
        String index = "CREATE UNIQUE INDEX " + Sql.quote(Identifiers.fit(table.state().table() + "_bronze_key")) + " ON "
            + table.state().sql() + " (" + quoted(key) + ")";
        var changes = new ArrayList<String>();
        var done = new ArrayList<String>();
        if (state.isEmpty()) {
            done.add("created " + table.state());
            changes.add("CREATE TABLE " + table.state().sql() + " (" + table.columns().stream().map(c -> Sql.quote(c) + " " + types.get(c))
                .collect(Collectors.joining(", ")) + ", _cdc_unknown text[], " + BronzeMetadata.commonDefinitions() + ")");
            if (!key.isEmpty()) {
                changes.add(index);
            }
        } else {
            Map<String, String> now = state.get().columns();
            for (String column : table.columns()) {
                String type = types.get(column);
                if (!now.containsKey(column)) {
                    changes.add("ALTER TABLE " + table.state().sql() + " ADD COLUMN " + Sql.quote(column) + " " + type);
                    done.add("added " + TableRef.display(column) + " " + type + " to " + table.state());
                } else if (!now.get(column).equals(type)) {
                    changes.add("ALTER TABLE " + table.state().sql() + " ALTER COLUMN " + Sql.quote(column) + " TYPE " + type + " USING "
                        + Sql.quote(column) + "::text::" + type);
                    done.add(TableRef.display(column) + " of " + table.state() + " is now " + type);
                }
            }
            if (!key.isEmpty() && !state.get().hasUniqueKey(key)) {
                changes.add(index);
                done.add(table.state() + " was not kept by --apply until now: rows no change touched since its snapshot may be out of "
                    + "date (run once with --snapshot always to reload it)");
            }
        }
        changes.forEach(db::execute);
        return done;
    }

    /**
     * Applies the changes from {@code fromLsn} on; {@code key} empty for a table kept as a multiset. Returns
     * how many changes found no row equal to their old row to remove (0 unless the bronze table no longer
     * equals the source: changed by hand, or not kept by --apply all along).
     */
    static long apply(DSLContext db, ChangeTable table, List<String> key, String fromLsn, BronzeMetadata metadata) {
        Map<String, String> types = BronzeTable.inspect(db, table.ref()).orElseThrow().columns();
        Map<String, String> stateColumns = BronzeTable.inspect(db, table.state()).orElseThrow().columns();
        String changes = table.ref().sql();
        String since = "_cdc_lsn >= " + Sql.literal(fromLsn) + "::pg_lsn";
        Optional<String> lastTruncate = db.resultQuery("SELECT _cdc_lsn::text || ' ' || _cdc_seq FROM " + changes + " WHERE " + since
            + " AND _cdc_op = 'truncate' ORDER BY _cdc_lsn DESC, _cdc_seq DESC LIMIT 1").fetchOptional(0, String.class);
        if (lastTruncate.isPresent()) {
            db.execute("TRUNCATE " + table.state().sql());
            String[] at = lastTruncate.get().split(" ");
            since += " AND (_cdc_lsn, _cdc_seq) > (" + Sql.literal(at[0]) + "::pg_lsn, " + Integer.parseInt(at[1]) + ")";
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
        return 0;
    }

    /**
     * A table without a key, as a multiset: adds the new row of every insert and update, then removes, for
     * each distinct old row of the updates and deletes, as many equal rows as there were such changes. Set
     * arithmetic gives what applying them one by one in commit order gives, since every old row existed when
     * its change was made; a row added and removed within the batch cancels out.
     */
    private static long applyWholeRows(DSLContext db, ChangeTable table, String since, Map<String, String> types, boolean unknown,
                                       BronzeMetadata metadata) {
        String changes = table.ref().sql();
        Insert insert = Insert.of(table, unknown, metadata);
        db.execute("INSERT INTO " + table.state().sql() + " (" + String.join(", ", insert.columns()) + ") SELECT "
            + String.join(", ", insert.values())
            + " FROM " + changes + " WHERE " + since + " AND _cdc_op IN ('insert', 'update') ORDER BY _cdc_lsn, _cdc_seq");
        String oldRow = table.columns().stream().map(c -> "((_cdc_old ->> " + Sql.literal(c) + ")::" + types.get(c) + ")::text")
            .collect(Collectors.joining(", ", "jsonb_build_array(", ")"));
        String bronzeRow = table.columns().stream().map(c -> "s." + Sql.quote(c) + "::text")
            .collect(Collectors.joining(", ", "jsonb_build_array(", ")"));
        return db.resultQuery("WITH gone AS (SELECT " + oldRow + " AS row, count(*) AS n FROM " + changes + " WHERE " + since
                + " AND _cdc_old IS NOT NULL AND _cdc_op IN ('update', 'delete') GROUP BY 1), "
                + "equal AS (SELECT s.ctid AS row_id, g.n, row_number() OVER (PARTITION BY g.row ORDER BY s.ctid) AS copy FROM "
                + table.state().sql() + " s JOIN gone g ON " + bronzeRow + " = g.row), "
                + "removed AS (DELETE FROM " + table.state().sql() + " s USING equal e WHERE s.ctid = e.row_id AND e.copy <= e.n RETURNING 1) "
                + "SELECT (SELECT coalesce(sum(n), 0) FROM gone) - (SELECT count(*) FROM removed)").fetchOne(0, Long.class);
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
