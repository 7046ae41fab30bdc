package datakit.cdc;

import datakit.bronze.BronzeMetadata;
import datakit.bronze.BronzeTable;
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
 * the last thing that happened to it wins: a row set by an insert or update, or removed by a delete or
 * by an update that moved the row to another key. A truncate empties the table first, and only what
 * came after it counts.
 */
final class StateApply {
    private StateApply() {
    }

    /**
     * Creates the bronze table when missing (no snapshot was loaded), and gives it the columns the change
     * table has, with the same types; returns what it changed, in words.
     */
    static List<String> follow(DSLContext db, ChangeTable table, List<String> key) {
        Map<String, String> types = BronzeTable.inspect(db, table.ref()).orElseThrow().columns();
        Optional<BronzeTable> state = BronzeTable.inspect(db, table.state());
        var changes = new ArrayList<String>();
        var done = new ArrayList<String>();
        if (state.isEmpty()) {
            done.add("created " + table.state());
            changes.add("CREATE TABLE " + table.state().sql() + " (" + table.columns().stream().map(c -> Sql.quote(c) + " " + types.get(c))
                .collect(Collectors.joining(", ")) + ", " + BronzeMetadata.commonDefinitions() + ")");
            changes.add("CREATE UNIQUE INDEX " + Sql.quote(table.state().table() + "_bronze_key") + " ON " + table.state().sql() + " ("
                + quoted(key) + ")");
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
        }
        changes.forEach(db::execute);
        return done;
    }

    /** Applies the changes from {@code fromLsn} on; returns the rows the bronze table holds for the keys touched. */
    static int apply(DSLContext db, ChangeTable table, List<String> key, String fromLsn, BronzeMetadata metadata) {
        Map<String, String> types = BronzeTable.inspect(db, table.ref()).orElseThrow().columns();
        String changes = table.ref().sql();
        String since = "_cdc_lsn >= " + Sql.literal(fromLsn) + "::pg_lsn";
        String lastTruncate = db.resultQuery("SELECT _cdc_lsn::text || ' ' || _cdc_seq FROM " + changes + " WHERE " + since
            + " AND _cdc_op = 'truncate' ORDER BY _cdc_lsn DESC, _cdc_seq DESC LIMIT 1").fetchOptional(0, String.class).orElse(null);
        if (lastTruncate != null) {
            db.execute("TRUNCATE " + table.state().sql());
            String[] at = lastTruncate.split(" ");
            since += " AND (_cdc_lsn, _cdc_seq) > (" + Sql.literal(at[0]) + "::pg_lsn, " + Integer.parseInt(at[1]) + ")";
        }
        List<String> columns = table.columns();
        String keys = quoted(key);
        String oldKeys = key.stream().map(k -> "(_cdc_old ->> " + Sql.literal(k) + ")::" + types.get(k) + " AS " + Sql.quote(k))
            .collect(Collectors.joining(", "));
        String nulls = columns.stream().filter(c -> !key.contains(c)).map(c -> "NULL::" + types.get(c) + " AS " + Sql.quote(c))
            .collect(Collectors.joining(", "));
        String others = columns.stream().filter(c -> !key.contains(c)).map(Sql::quote).collect(Collectors.joining(", "));
        String events = "SELECT _cdc_lsn, _cdc_seq, true AS sets, " + keys + (others.isEmpty() ? "" : ", " + others) + " FROM " + changes
            + " WHERE " + since + " AND _cdc_op IN ('insert', 'update') UNION ALL SELECT _cdc_lsn, _cdc_seq, false, " + oldKeys
            + (nulls.isEmpty() ? "" : ", " + nulls) + " FROM " + changes + " WHERE " + since
            + " AND _cdc_old IS NOT NULL AND _cdc_op IN ('update', 'delete')";
        String touched = "SELECT DISTINCT " + keys + " FROM (" + events + ") e";
        db.execute("DELETE FROM " + table.state().sql() + " s USING (" + touched + ") t WHERE "
            + key.stream().map(k -> "s." + Sql.quote(k) + " = t." + Sql.quote(k)).collect(Collectors.joining(" AND ")));
        String all = columns.stream().map(Sql::quote).collect(Collectors.joining(", "));
        List<String> metadataNames = metadata.columns().stream().map(c -> Sql.quote(c.name())).toList();
        return db.execute("INSERT INTO " + table.state().sql() + " (" + all + ", " + String.join(", ", metadataNames) + ") SELECT " + all + ", "
            + String.join(", ", metadata.valueExpressions()) + " FROM (SELECT DISTINCT ON (" + keys + ") * FROM (" + events + ") e ORDER BY "
            + keys + ", _cdc_lsn DESC, _cdc_seq DESC, sets DESC) last WHERE sets");
    }

    private static String quoted(List<String> names) {
        return names.stream().map(Sql::quote).collect(Collectors.joining(", "));
    }
}
