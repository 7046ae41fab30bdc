package datakit.bronze;

import datakit.sql.Sql;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Checks the content of large objects in freshly copied rows: a large object that no longer exists, or
 * holds more than the cap, leaves its content NULL and is set aside in {@code _bronze_rejects}; the row
 * loads either way. (The source sends at most the cap and one byte, so an object over it is seen
 * without being read whole.)
 */
final class LargeObjectColumns {
    private LargeObjectColumns() {
    }

    /** Checks each large-object column of the staged rows and returns how many of each were rejected. */
    static Map<String, Long> check(Rejects rejects) {
        Landing.Checks checks = rejects.landing().checks();
        var rejected = new LinkedHashMap<String, Long>();
        for (Landing.LargeObject object : checks.largeObjects()) {
            String column = object.column();
            String oid = "t." + Sql.quote(column);
            String content = Sql.quote(object.content());
            long cap = checks.largeObjectCapBytes();
            long count = rejects.record(column, oid + "::text", "CASE WHEN t." + content + " IS NULL THEN 'large object ' || " + oid
                    + " || ' does not exist' ELSE 'large object ' || " + oid + " || ' holds more than the cap of " + cap
                    + " bytes (--large-object-cap)' END",
                oid + " IS NOT NULL AND (t." + content + " IS NULL OR pg_catalog.octet_length(t." + content + ") > " + cap + ")");
            if (count > 0) {
                rejects.db().execute("UPDATE " + rejects.staged().sql() + " SET " + content + " = NULL WHERE pg_catalog.octet_length("
                    + content + ") > " + cap);
            }
            rejected.put(column, count);
        }
        return rejected;
    }
}
