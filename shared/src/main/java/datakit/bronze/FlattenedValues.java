package datakit.bronze;

import datakit.json.Flattening;
import datakit.sql.Sql;
import datakit.sql.TableRef;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.jooq.Record;

/**
 * Finds, in freshly copied rows, the values of flattened JSON keys that are NULL in their column because they have a JSON
 * type the column does not hold: one the sample of the key's values did not see (a rare string among 10,000 numbers).
 * The raw JSON column keeps each; it is also set aside in {@code _bronze_rejects} with the row's key, and counted, so a
 * run never leaves a value out of its column without saying so.
 */
final class FlattenedValues {
    private FlattenedValues() {
    }

    /** Sets aside the values of the staged rows' flattened columns that their column does not hold; returns how many, per column that has some. */
    static Map<String, Long> check(Rejects rejects) {
        List<Landing.FlatKey> keys = rejects.landing().checks().flatKeys();
        var rejected = new LinkedHashMap<String, Long>();
        if (keys.isEmpty()) {
            return rejected;
        }
        // One pass over the rows counts every column's; only a column that has some reads them again.
        Record counts = rejects.db().fetchOne("SELECT " + keys.stream().map(k -> "count(*) FILTER (WHERE " + unheld(k) + ")")
            .collect(Collectors.joining(", ")) + " FROM " + rejects.staged().sql() + " AS t");
        for (int i = 0; i < keys.size(); i++) {
            Landing.FlatKey key = keys.get(i);
            if (counts.get(i, Long.class) > 0) {
                rejected.put(key.column(), rejects.record(key.column(), value(key) + "::text", error(key, rejects.landing()), unheld(key)));
            }
        }
        return rejected;
    }

    /** The row has a value at the key, not JSON null, and its column is NULL: the column does not hold that value's type. */
    private static String unheld(Landing.FlatKey key) {
        return "t." + Sql.quote(key.column()) + " IS NULL AND pg_catalog.jsonb_typeof(" + value(key) + ") <> 'null'";
    }

    /** The jsonb value at the key, in the staged row's JSON column. */
    private static String value(Landing.FlatKey key) {
        return Flattening.at("t." + Sql.quote(key.document()) + "::jsonb", key.path());
    }

    private static String error(Landing.FlatKey key, Landing landing) {
        String type = landing.columns().stream().filter(c -> c.name().equals(key.column())).findFirst().orElseThrow().bronzeType();
        return "'a JSON ' || pg_catalog.jsonb_typeof(" + value(key) + ") || " + Sql.literal(", which %s (%s) cannot hold: the sample of "
            .formatted(TableRef.display(key.column()), type) + "the key's values did not hold one; the raw column keeps it");
    }
}
