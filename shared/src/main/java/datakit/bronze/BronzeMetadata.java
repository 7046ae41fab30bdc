package datakit.bronze;

import datakit.sql.Sql;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import datakit.sql.TableRef;
import org.jooq.DSLContext;
import org.jooq.impl.DSL;

/**
 * The {@code _bronze_*} columns every bronze row carries: when it landed, which run wrote it, and
 * where it came from (host and database only, never credentials). Incremental loads add the checkpoint
 * each row was read after, and the time its key vanished from the source, if it did.
 *
 * @param runId          the run that wrote the row
 * @param source         host:port/database of the source
 * @param sourceSchema   the source table's schema, empty for a query
 * @param sourceTable    the source table's name, empty for a query
 * @param extractionType full, incremental, partitioned, jsonb or cdc
 * @param checkpoint     incremental loads: the checkpoint the rows were read after ("" on a first load)
 */
public record BronzeMetadata(UUID runId, String source, Optional<String> sourceSchema, Optional<String> sourceTable,
                             String extractionType, Optional<String> checkpoint) {

    /** A metadata column: its name and type. */
    public record Column(String name, String type) {
    }

    private static final List<Column> COMMON = List.of(
        new Column("_bronze_loaded_at", "timestamp with time zone"),
        new Column("_bronze_run_id", "uuid"),
        new Column("_bronze_source", "text"),
        new Column("_bronze_schema", "text"),
        new Column("_bronze_table", "text"),
        new Column("_bronze_extraction_type", "text"));
    public static final Column CHECKPOINT = new Column("_bronze_checkpoint", "text");
    public static final Column DELETED_AT = new Column("_bronze_deleted_at", "timestamp with time zone");
    /** Partitioned loads: the source part a row was read from ({@code sales.events_2026_01}). */
    public static final Column PARTITION = new Column("_bronze_partition", "text");

    /** The column that marks a table as written by the datakits. */
    public static final String MARKER = "_bronze_run_id";

    /** The definitions of the columns every bronze table has, for a CREATE TABLE. */
    public static String commonDefinitions() {
        return COMMON.stream().map(c -> Sql.quote(c.name()) + " " + c.type()).collect(java.util.stream.Collectors.joining(", "));
    }

    /** Metadata for a load that has no checkpoint (full extracts). */
    public static BronzeMetadata of(UUID runId, String source, Optional<String> sourceSchema, Optional<String> sourceTable,
                                    String extractionType) {
        return new BronzeMetadata(runId, source, sourceSchema, sourceTable, extractionType, Optional.empty());
    }

    public static boolean isMetadata(String column) {
        return column.startsWith("_bronze_");
    }

    /** The metadata columns of this load's rows, in table order. */
    public List<Column> columns() {
        var columns = new ArrayList<>(COMMON);
        if (checkpoint.isPresent()) {
            columns.add(CHECKPOINT);
            columns.add(DELETED_AT);
        }
        return columns;
    }

    /**
     * The value of each column as an SQL expression, in {@link #columns()} order. The load time is the
     * warehouse transaction's {@code now()}, the same for every row of a load.
     */
    public List<String> valueExpressions() {
        var values = new ArrayList<>(List.of(
            "now()",
            Sql.inline(DSL.inline(runId.toString())) + "::uuid",
            Sql.inline(DSL.inline(source)),
            literalOrNull(sourceSchema),
            literalOrNull(sourceTable),
            Sql.inline(DSL.inline(extractionType))));
        checkpoint.ifPresent(c -> {
            values.add(Sql.inline(DSL.inline(c)));
            values.add("NULL::timestamp with time zone");
        });
        return values;
    }

    /**
     * Adds the metadata columns to a table just filled, with this load's values. A constant default
     * fills existing rows from the catalog, without rewriting the table; dropping it afterwards keeps
     * those values and leaves no default behind.
     */
    void addColumnsTo(DSLContext db, TableRef table) {
        var values = valueExpressions();
        var columns = columns();
        var add = new ArrayList<String>();
        var dropDefault = new ArrayList<String>();
        for (int i = 0; i < columns.size(); i++) {
            var column = columns.get(i);
            add.add("ADD COLUMN " + Sql.quote(column.name()) + " " + column.type() + " DEFAULT " + values.get(i));
            dropDefault.add("ALTER COLUMN " + Sql.quote(column.name()) + " DROP DEFAULT");
        }
        db.execute("ALTER TABLE " + table.sql() + " " + String.join(", ", add));
        db.execute("ALTER TABLE " + table.sql() + " " + String.join(", ", dropDefault));
    }

    private static String literalOrNull(Optional<String> value) {
        return value.map(v -> Sql.inline(DSL.inline(v))).orElse("NULL::text");
    }
}
