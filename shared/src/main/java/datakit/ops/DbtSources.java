package datakit.ops;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLGenerator;
import datakit.bronze.BronzeMetadata;
import datakit.config.ConnectionSettings;
import datakit.db.Database;
import datakit.db.SqlErrors;
import datakit.sql.Sql;
import datakit.sql.TableRef;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;
import org.jooq.DSLContext;
import org.jooq.exception.DataAccessException;

/**
 * {@code bronze-dbt-sources}: a dbt {@code sources.yml} for the tables of a bronze schema, so the silver
 * layer starts from {@code source('bronze', 'orders')}: every bronze table (those the datakits wrote,
 * not the bookkeeping), its columns with their types, descriptions from the source's comments on the
 * table and its columns (when the source can be read), and a freshness check on {@code _bronze_loaded_at}.
 */
public final class DbtSources {
    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory()
        .disable(YAMLGenerator.Feature.WRITE_DOC_START_MARKER)
        .enable(YAMLGenerator.Feature.MINIMIZE_QUOTES));

    private DbtSources() {
    }

    /** Freshness limits in hours. */
    public record Freshness(int warnHours, int errorHours) {
    }

    /** One bronze table: its name, its columns and types, and the source table it holds, if known. */
    record BronzeTableInfo(String name, List<Map<String, String>> columns, Optional<TableRef> source) {
    }

    /**
     * The YAML text. {@code source} gives the comments; when it is empty or cannot be reached, tables are
     * described by where they came from, and {@code warn} says why.
     */
    public static String yaml(Database warehouse, String bronzeSchema, Optional<ConnectionSettings> source, Freshness freshness,
                              Consumer<String> warn) {
        List<BronzeTableInfo> tables = bronzeTables(warehouse, bronzeSchema);
        Map<TableRef, Comments> comments = source.map(s -> comments(s, tables, warn)).orElse(Map.of());
        var sourceEntry = new LinkedHashMap<String, Object>();
        sourceEntry.put("name", bronzeSchema);
        sourceEntry.put("schema", bronzeSchema);
        sourceEntry.put("description", "Raw tables loaded by the PostgreSQL bronze datakits; see extraction_runs for each load.");
        sourceEntry.put("loaded_at_field", "_bronze_loaded_at");
        sourceEntry.put("freshness", Map.of("warn_after", Map.of("count", freshness.warnHours(), "period", "hour"),
            "error_after", Map.of("count", freshness.errorHours(), "period", "hour")));
        var tableEntries = new ArrayList<Map<String, Object>>();
        for (BronzeTableInfo table : tables) {
            Comments known = table.source().map(comments::get).orElse(null);
            var entry = new LinkedHashMap<String, Object>();
            entry.put("name", table.name());
            entry.put("description", known != null && known.table() != null ? known.table()
                : table.source().map(s -> "Loaded from " + s + ".").orElse("Loaded by the bronze datakits."));
            var columns = new ArrayList<Map<String, Object>>();
            for (Map<String, String> column : table.columns()) {
                var c = new LinkedHashMap<String, Object>();
                c.put("name", column.get("name"));
                c.put("data_type", column.get("type"));
                String description = known == null ? null : known.columns().get(column.get("name"));
                if (description != null) {
                    c.put("description", description);
                } else if (BronzeMetadata.isMetadata(column.get("name")) || column.get("name").startsWith("_cdc_")) {
                    c.put("description", "Bookkeeping column of the bronze datakits.");
                }
                columns.add(c);
            }
            entry.put("columns", columns);
            tableEntries.add(entry);
        }
        sourceEntry.put("tables", tableEntries);
        var document = new LinkedHashMap<String, Object>();
        document.put("version", 2);
        document.put("sources", List.of(sourceEntry));
        try {
            return "# Written by bronze-dbt-sources: the tables of bronze schema " + bronzeSchema + ". Write it again after new loads.\n"
                + YAML.writeValueAsString(document);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Tables of the schema with the datakits' marker column, without bookkeeping, staging or partitions. */
    static List<BronzeTableInfo> bronzeTables(Database warehouse, String bronzeSchema) {
        try {
            return warehouse.inTransaction(connection -> bronzeTables(Sql.using(connection), bronzeSchema));
        } catch (SQLException | DataAccessException e) {
            throw SqlErrors.failure("Listing the bronze tables of " + bronzeSchema, e, warehouse);
        }
    }

    private static List<BronzeTableInfo> bronzeTables(DSLContext db, String bronzeSchema) {
        var tables = new ArrayList<BronzeTableInfo>();
        db.resultQuery("""
                SELECT c.oid::bigint, c.relname::text FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname = ? AND c.relkind IN ('r', 'p') AND NOT c.relispartition AND c.relname NOT LIKE '\\_bronze\\_staging\\_%'
                  AND EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a WHERE a.attrelid = c.oid AND a.attname = ? AND NOT a.attisdropped)
                ORDER BY 2""", bronzeSchema, BronzeMetadata.MARKER)
            .forEach(r -> {
                long oid = r.get(0, Long.class);
                String name = r.get(1, String.class);
                List<Map<String, String>> columns = db.resultQuery("""
                        SELECT a.attname::text, pg_catalog.format_type(a.atttypid, a.atttypmod) FROM pg_catalog.pg_attribute a
                        WHERE a.attrelid = ?::oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum""", oid)
                    .fetch(c -> Map.of("name", c.get(0, String.class), "type", c.get(1, String.class)));
                tables.add(new BronzeTableInfo(name, columns, sourceOf(db, TableRef.of(bronzeSchema, name), columns)));
            });
        return tables;
    }

    /** The source table a bronze table holds, from its metadata columns (one row is enough; an empty table has none). */
    private static Optional<TableRef> sourceOf(DSLContext db, TableRef table, List<Map<String, String>> columns) {
        boolean named = columns.stream().anyMatch(c -> c.get("name").equals("_bronze_schema"))
            && columns.stream().anyMatch(c -> c.get("name").equals("_bronze_table"));
        if (!named) {
            return Optional.empty();
        }
        return db.resultQuery("SELECT _bronze_schema, _bronze_table FROM " + table.sql() + " WHERE _bronze_table IS NOT NULL LIMIT 1")
            .fetchOptional(r -> TableRef.of(r.get(0, String.class), r.get(1, String.class)));
    }

    /** A source table's comment and its columns' comments (absent ones are left out). */
    record Comments(String table, Map<String, String> columns) {
    }

    private static Map<TableRef, Comments> comments(ConnectionSettings source, List<BronzeTableInfo> tables, Consumer<String> warn) {
        var comments = new LinkedHashMap<TableRef, Comments>();
        try (Connection connection = Database.connectOnce(source, Database.Access.READ_ONLY)) {
            DSLContext db = Sql.using(connection);
            for (BronzeTableInfo table : tables) {
                table.source().filter(s -> !comments.containsKey(s)).ifPresent(s -> {
                    String tableComment = db.resultQuery("SELECT obj_description(to_regclass(?), 'pg_class')", s.sql()).fetchOne(0, String.class);
                    var columns = new LinkedHashMap<String, String>();
                    db.resultQuery("""
                            SELECT a.attname::text, col_description(a.attrelid, a.attnum) FROM pg_catalog.pg_attribute a
                            WHERE a.attrelid = to_regclass(?) AND a.attnum > 0 AND NOT a.attisdropped
                              AND col_description(a.attrelid, a.attnum) IS NOT NULL""", s.sql())
                        .forEach(r -> columns.put(r.get(0, String.class), r.get(1, String.class)));
                    comments.put(s, new Comments(tableComment, columns));
                });
            }
        } catch (SQLException | DataAccessException e) {
            warn.accept("could not read the source's comments (" + SqlErrors.serverMessage(e) + "); tables are described by where "
                + "they came from");
        }
        return comments;
    }
}
