package datakit.bronze;

import datakit.sql.Sql;
import datakit.sql.TableRef;
import java.util.LinkedHashMap;
import java.util.Map;
import org.jooq.DSLContext;
import org.jooq.exception.DataAccessException;

/**
 * Turns the text columns declared JSON of freshly copied rows into jsonb, in the load's transaction.
 * A value that does not parse never fails the load: the row keeps NULL in that column, and the value,
 * the parser's message and the row's key go to the bronze schema's {@code _bronze_rejects}. When every
 * value parses (the usual case) the column is converted in one statement; only otherwise is each value
 * checked on its own.
 */
final class JsonTextColumns {
    private JsonTextColumns() {
    }

    /**
     * Converts the declared columns of the staged rows, and returns how many values of each were rejected.
     */
    static Map<String, Long> parse(Rejects rejects) {
        DSLContext db = rejects.db();
        TableRef staged = rejects.staged();
        String schema = rejects.schema();
        var rejected = new LinkedHashMap<String, Long>();
        for (String column : rejects.landing().checks().jsonText()) {
            String name = Sql.quote(column);
            db.execute("SAVEPOINT bronze_json_text");
            try {
                db.execute("ALTER TABLE " + staged.sql() + " ALTER COLUMN " + name + " TYPE jsonb USING " + name + "::jsonb");
                db.execute("RELEASE SAVEPOINT bronze_json_text");
                rejected.put(column, 0L);
                continue;
            } catch (DataAccessException e) {
                db.execute("ROLLBACK TO SAVEPOINT bronze_json_text");
            }
            String error = TableRef.of(schema, "_bronze_jsonb_error").sql() + "(t." + name + ")";
            long count = rejects.record(column, "t." + name, error, "e.error IS NOT NULL");
            db.execute("ALTER TABLE " + staged.sql() + " ALTER COLUMN " + name + " TYPE jsonb USING CASE WHEN "
                + TableRef.of(schema, "_bronze_jsonb_error").sql() + "(" + name + ") IS NULL THEN " + name + "::jsonb END");
            rejected.put(column, count);
        }
        return rejected;
    }
}
