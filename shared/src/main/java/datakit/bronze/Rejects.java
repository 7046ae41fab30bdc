package datakit.bronze;

import datakit.sql.Sql;
import datakit.sql.TableRef;
import java.util.UUID;
import java.util.stream.Collectors;
import org.jooq.DSLContext;

/**
 * Sets aside values of staged rows that cannot land as they are, in the bronze schema's
 * {@code _bronze_rejects}, with the run, the row's key, the raw value and the reason.
 *
 * @param stream the bronze table the rows are for
 */
record Rejects(DSLContext db, TableRef staged, Landing landing, String schema, String stream, UUID run) {

    /**
     * Records, for each staged row (alias {@code t}) where {@code condition} holds, the value
     * {@code rawValue} of {@code column} and the reason {@code error} (SQL over {@code t}, computed once
     * per row; {@code condition} may name it {@code e.error}); returns how many.
     */
    long record(String column, String rawValue, String error, String condition) {
        String key = landing.checks().key().isEmpty() ? "NULL"
            : "pg_catalog.jsonb_build_object(" + landing.checks().key().stream().map(k -> Sql.literal(k) + ", t." + Sql.quote(k))
                .collect(Collectors.joining(", ")) + ")";
        return db.execute("INSERT INTO " + TableRef.of(schema, "_bronze_rejects").sql()
            + " (run_id, stream, source_table, row_key, column_name, raw_value, error) SELECT " + Sql.literal(run.toString()) + "::uuid, "
            + Sql.literal(stream) + ", " + landing.sourceTable().map(t -> Sql.literal(t.toString())).orElse("NULL") + ", " + key + ", "
            + Sql.literal(column) + ", " + rawValue + ", e.error FROM " + staged.sql() + " AS t, LATERAL (SELECT " + error + " AS error) AS e "
            + "WHERE " + condition);
    }
}
