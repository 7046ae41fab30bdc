package datakit.bronze;

import datakit.sql.Sql;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import org.jooq.impl.DSL;

/**
 * The {@code _bronze_*} columns every bronze row carries: when it landed, which run wrote it, and
 * where it came from (host and database only, never credentials).
 *
 * @param runId          the run that wrote the row
 * @param source         host:port/database of the source
 * @param sourceSchema   the source table's schema, empty for a query
 * @param sourceTable    the source table's name, empty for a query
 * @param extractionType full, incremental, partitioned, jsonb or cdc
 */
public record BronzeMetadata(UUID runId, String source, Optional<String> sourceSchema, Optional<String> sourceTable,
                             String extractionType) {

    /** A metadata column: its name and type. */
    public record Column(String name, String type) {
    }

    public static final List<Column> COLUMNS = List.of(
        new Column("_bronze_loaded_at", "timestamp with time zone"),
        new Column("_bronze_run_id", "uuid"),
        new Column("_bronze_source", "text"),
        new Column("_bronze_schema", "text"),
        new Column("_bronze_table", "text"),
        new Column("_bronze_extraction_type", "text"));

    /** The column that marks a table as written by the datakits. */
    public static final String MARKER = "_bronze_run_id";

    public static boolean isMetadata(String column) {
        return COLUMNS.stream().anyMatch(c -> c.name().equals(column));
    }

    /**
     * The value of each column as an SQL expression, in {@link #COLUMNS} order. The load time is the
     * warehouse transaction's {@code now()}, the same for every row of a load.
     */
    public List<String> valueExpressions() {
        return List.of(
            "now()",
            Sql.inline(DSL.inline(runId.toString())) + "::uuid",
            Sql.inline(DSL.inline(source)),
            literalOrNull(sourceSchema),
            literalOrNull(sourceTable),
            Sql.inline(DSL.inline(extractionType)));
    }

    private static String literalOrNull(Optional<String> value) {
        return value.map(v -> Sql.inline(DSL.inline(v))).orElse("NULL::text");
    }
}
