package datakit.bronze;

import datakit.source.ReadPlan;
import datakit.sql.Sql;
import datakit.sql.TableRef;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.UUID;
import java.util.stream.Collectors;
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
     * Converts the declared columns of {@code staged} and returns how many values of each were rejected.
     *
     * @param stream the bronze table the rows are for, as the rejects name it
     */
    static Map<String, Long> parse(DSLContext db, TableRef staged, ReadPlan plan, String schema, String stream, UUID run) {
        var rejected = new LinkedHashMap<String, Long>();
        for (String column : plan.jsonText().columns()) {
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
            String key = plan.jsonText().key().isEmpty() ? "NULL"
                : "pg_catalog.jsonb_build_object(" + plan.jsonText().key().stream().map(k -> Sql.literal(k) + ", t." + Sql.quote(k))
                    .collect(Collectors.joining(", ")) + ")";
            long count = db.execute("INSERT INTO " + TableRef.of(schema, "_bronze_rejects").sql()
                + " (run_id, stream, source_table, row_key, column_name, raw_value, error) SELECT " + Sql.literal(run.toString()) + "::uuid, "
                + Sql.literal(stream) + ", " + plan.table().map(t -> Sql.literal(t.toString())).orElse("NULL") + ", " + key + ", "
                + Sql.literal(column) + ", t." + name + ", e.error FROM " + staged.sql() + " AS t, LATERAL (SELECT " + error
                + " AS error) AS e WHERE e.error IS NOT NULL");
            db.execute("ALTER TABLE " + staged.sql() + " ALTER COLUMN " + name + " TYPE jsonb USING CASE WHEN "
                + TableRef.of(schema, "_bronze_jsonb_error").sql() + "(" + name + ") IS NULL THEN " + name + "::jsonb END");
            rejected.put(column, count);
        }
        return rejected;
    }
}
