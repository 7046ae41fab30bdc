package datakit.cdc;

import datakit.bronze.BronzeTable;
import datakit.sql.Sql;
import datakit.wal.Lsn;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Collectors;
import org.jooq.DSLContext;

/**
 * Fills the values an update did not carry (unchanged TOAST under REPLICA IDENTITY DEFAULT or USING
 * INDEX) from the last image bronze knows of the same row, in the batch's transaction:
 * <ol>
 *   <li>the latest earlier insert or update of the row's key in the change table that has the value,
 *       searched from {@code searchFrom} on: the batch with --apply, else the slot's beginning (older
 *       changes may be older than the snapshot);</li>
 *   <li>if there is none, the row in the bronze table (the snapshot, or with --apply the state before
 *       the batch).</li>
 * </ol>
 * A value found nowhere stays NULL, and its column stays named in {@code _cdc_unknown}: NULL there means
 * "not known", never a NULL the source had. An update that changed the key is looked up by its old key.
 * The fill runs again while it finds values, so a chain of updates within one batch is filled link by link.
 */
final class UnknownValues {
    private static final int MAX_ROUNDS = 16;

    private UnknownValues() {
    }

    /**
     * Fills source column {@code column} in the changes after {@code from}. Each column is looked up where its values land
     * now (its variant column, after a type change bronze could not follow in place).
     */
    static void fill(DSLContext db, ChangeTable table, String column, StateApply.After from, Lsn searchFrom) {
        List<String> keys = table.keyColumns();
        if (keys.isEmpty()) {
            return;
        }
        Map<String, String> types = BronzeTable.inspect(db, table.ref()).orElseThrow().columns();
        Optional<Map<String, String>> state = BronzeTable.inspect(db, table.state()).map(BronzeTable::columns)
            .filter(s -> s.containsKey(table.stateColumn(column)) && keys.stream().map(table::stateColumn).allMatch(s::containsKey));
        String sql = fillSql(table, column, types, state, from, searchFrom);
        for (int round = 0; round < MAX_ROUNDS && db.execute(sql) > 0; round++) {
            // Each round may give the next link of a chain its value.
        }
    }

    private static String fillSql(ChangeTable table, String column, Map<String, String> types, Optional<Map<String, String>> state,
                                  StateApply.After from, Lsn searchFrom) {
        List<String> keys = table.keyColumns();
        String c = Sql.quote(table.column(column));
        String name = Sql.literal(column);
        String type = types.get(table.column(column));
        String inState = table.stateColumn(column);
        String earlier = keys.stream().map(k -> "p." + Sql.quote(table.column(k)) + " = " + lookupKey(table, k) + "::"
            + types.get(table.column(k))).collect(Collectors.joining(" AND "));
        String stateJoin = state.map(s -> "LEFT JOIN LATERAL (SELECT true AS found, s." + Sql.quote(inState)
                + (s.get(inState).equals(type) ? "" : "::text") + "::" + type + " AS v FROM " + table.state().sql() + " s WHERE "
                + keys.stream().map(k -> "s." + Sql.quote(table.stateColumn(k)) + " = " + lookupKey(table, k) + "::"
                    + s.get(table.stateColumn(k))).collect(Collectors.joining(" AND "))
                + " LIMIT 1) s ON p.found IS NULL")
            .orElse("LEFT JOIN LATERAL (SELECT NULL::boolean AS found, NULL::" + type + " AS v) s ON true");
        return "UPDATE " + table.ref().sql() + " x SET " + c + " = f.v, _cdc_unknown = nullif(array_remove(x._cdc_unknown, " + name
            + "), '{}') FROM (SELECT w.ctid AS tid, CASE WHEN p.found THEN p.v ELSE s.v END AS v, coalesce(p.found, s.found, false) AS found "
            + "FROM " + table.ref().sql() + " w "
            + "LEFT JOIN LATERAL (SELECT true AS found, p." + c + " AS v FROM " + table.ref().sql() + " p WHERE " + earlier
            + " AND p._cdc_lsn >= " + Sql.literal(searchFrom.toString()) + "::pg_lsn AND p._cdc_op IN ('insert', 'update')"
            + " AND NOT coalesce(" + name + " = ANY (p._cdc_unknown), false)"
            + " AND (p._cdc_lsn, p._cdc_seq) < (w._cdc_lsn, w._cdc_seq) ORDER BY p._cdc_lsn DESC, p._cdc_seq DESC LIMIT 1) p ON true "
            + stateJoin
            + " WHERE " + from.sql("w.") + " AND " + name + " = ANY (w._cdc_unknown)) f "
            + "WHERE x.ctid = f.tid AND f.found";
    }

    /** The key value, as text, to look a change's row up by: its old key when the update changed the key, else its own. */
    private static String lookupKey(ChangeTable table, String key) {
        return "coalesce(w._cdc_old ->> " + Sql.literal(key) + ", w." + Sql.quote(table.column(key)) + "::text)";
    }
}
