package datakit.cdc;

import datakit.bronze.BronzeTable;
import datakit.sql.Sql;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.jooq.DSLContext;

/**
 * Fills the values an update did not carry (unchanged TOAST under REPLICA IDENTITY DEFAULT or USING
 * INDEX) from the last image bronze knows of the same row, in the batch's transaction:
 * <ol>
 *   <li>the latest earlier insert or update of the row's key in the change table that has the value;</li>
 *   <li>if the key has no earlier insert or update there, the row in the bronze table (the snapshot, or the
 *       current state with --apply).</li>
 * </ol>
 * A value found nowhere stays NULL, and its column stays named in {@code _cdc_unknown}: NULL there means
 * "not known", never a NULL the source had. An update that changed the key is looked up by its old key.
 */
final class UnknownValues {
    private UnknownValues() {
    }

    /** Fills {@code column} in the changes from {@code fromLsn} on; returns how many were found. */
    static int fill(DSLContext db, ChangeTable table, String column, String fromLsn) {
        Map<String, String> types = BronzeTable.inspect(db, table.ref()).orElseThrow().columns();
        List<String> keys = table.keyColumns();
        if (keys.isEmpty()) {
            return 0;
        }
        String c = Sql.quote(column);
        String name = Sql.literal(column);
        String earlier = keys.stream().map(k -> "p." + Sql.quote(k) + " = " + lookupKey(k, types.get(k))).collect(Collectors.joining(" AND "));
        boolean fromState = BronzeTable.inspect(db, table.state()).filter(s -> s.columns().containsKey(column)
            && keys.stream().allMatch(k -> s.columns().containsKey(k))).isPresent();
        String stateJoin = fromState
            ? "LEFT JOIN LATERAL (SELECT true AS found, s." + c + "::" + types.get(column) + " AS v FROM " + table.state().sql() + " s WHERE "
                + keys.stream().map(k -> "s." + Sql.quote(k) + " = " + lookupKey(k, types.get(k))).collect(Collectors.joining(" AND "))
                + " LIMIT 1) s ON p.found IS NULL"
            : "LEFT JOIN LATERAL (SELECT NULL::boolean AS found, NULL::" + types.get(column) + " AS v) s ON true";
        return db.execute("UPDATE " + table.ref().sql() + " x SET " + c + " = f.v, _cdc_unknown = nullif(array_remove(x._cdc_unknown, "
            + name + "), '{}') FROM (SELECT w.ctid AS tid, CASE WHEN p.found THEN p.v ELSE s.v END AS v, coalesce(p.found, s.found, false) AS found "
            + "FROM " + table.ref().sql() + " w "
            + "LEFT JOIN LATERAL (SELECT true AS found, p." + c + " AS v FROM " + table.ref().sql() + " p WHERE " + earlier
            + " AND p._cdc_op IN ('insert', 'update') AND NOT coalesce(" + name + " = ANY (p._cdc_unknown), false)"
            + " AND (p._cdc_lsn, p._cdc_seq) < (w._cdc_lsn, w._cdc_seq) ORDER BY p._cdc_lsn DESC, p._cdc_seq DESC LIMIT 1) p ON true "
            + stateJoin
            + " WHERE w._cdc_lsn >= " + Sql.literal(fromLsn) + "::pg_lsn AND " + name + " = ANY (w._cdc_unknown)) f "
            + "WHERE x.ctid = f.tid AND f.found");
    }

    /** The key value to look a change's row up by: its old key when the update changed the key, else its own. */
    private static String lookupKey(String key, String type) {
        return "coalesce((w._cdc_old ->> " + Sql.literal(key) + ")::" + type + ", w." + Sql.quote(key) + ")";
    }
}
