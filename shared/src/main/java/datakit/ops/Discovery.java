package datakit.ops;

import datakit.db.Database;
import datakit.db.SqlErrors;
import datakit.report.RunSummary;
import datakit.report.Sizes;
import datakit.sql.Sql;
import datakit.sql.TableRef;
import java.io.PrintWriter;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.jooq.DSLContext;
import org.jooq.exception.DataAccessException;

/**
 * What {@code postgres-discover} finds in a source database, from its catalog only (no table is read):
 * per schema, its tables, views and materialized views with their columns and types, primary key,
 * replica identity, row and size estimates, partitioning (a partitioned table with its strategy, key
 * and number of partitions; its partitions are not listed again), and the columns a cursor could follow
 * (timestamp, date and integer columns that lead an index, or identity columns).
 */
public final class Discovery {
    private static final String KINDS = """
        CASE c.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'partitioned table' WHEN 'v' THEN 'view'
                       WHEN 'm' THEN 'materialized view' WHEN 'f' THEN 'foreign table' END""";

    private Discovery() {
    }

    /** Everything found in {@code schemas} (all schemas but the system ones when empty), by table. */
    public static List<Map<String, Object>> tables(Database source, List<String> schemas) {
        String[] names = schemas.toArray(String[]::new);
        return read(source, """
            c.relkind IN ('r', 'p', 'v', 'm', 'f') AND NOT c.relispartition
              AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
              AND (cardinality(?::text[]) = 0 OR n.nspname = ANY (?::text[]))""", names, names);
    }

    /**
     * The same of {@code tables} only (a set of tables a datakit loads; a partition chosen on its own included), in one
     * transaction; a table not found is left out.
     */
    public static List<Map<String, Object>> selected(Database source, Collection<TableRef> tables) {
        return read(source, "(n.nspname, c.relname) IN (SELECT s, t FROM unnest(?::text[], ?::text[]) AS u(s, t))",
            tables.stream().map(TableRef::schema).toArray(String[]::new), tables.stream().map(TableRef::table).toArray(String[]::new));
    }

    private static List<Map<String, Object>> read(Database source, String where, Object... binds) {
        try {
            return source.inTransaction(connection -> tables(Sql.using(connection), where, binds));
        } catch (SQLException | DataAccessException e) {
            throw SqlErrors.failure("Reading the catalog of the source " + source.settings().describe(), e, source);
        }
    }

    private static List<Map<String, Object>> tables(DSLContext db, String where, Object... binds) {
        var tables = new ArrayList<Map<String, Object>>();
        db.resultQuery("""
                SELECT c.oid::bigint, n.nspname::text, c.relname::text, %s,
                       CASE WHEN c.reltuples < 0 THEN NULL ELSE c.reltuples::bigint END,
                       CASE WHEN c.relkind IN ('r', 'p', 'm') THEN pg_catalog.pg_total_relation_size(c.oid) END,
                       CASE c.relreplident WHEN 'd' THEN 'default' WHEN 'f' THEN 'full' WHEN 'i' THEN 'index' WHEN 'n' THEN 'nothing' END,
                       pt.partstrat::text, CASE WHEN pt.partrelid IS NOT NULL THEN pg_catalog.pg_get_partkeydef(c.oid) END,
                       (SELECT count(*) FROM pg_catalog.pg_partition_tree(c.oid) t WHERE t.isleaf),
                       (SELECT coalesce(sum(pg_catalog.pg_total_relation_size(t.relid)), 0) FROM pg_catalog.pg_partition_tree(c.oid) t),
                       (SELECT coalesce(sum(greatest(k.reltuples, 0)), 0)::bigint FROM pg_catalog.pg_partition_tree(c.oid) t
                        JOIN pg_catalog.pg_class k ON k.oid = t.relid WHERE t.isleaf)
                FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                LEFT JOIN pg_catalog.pg_partitioned_table pt ON pt.partrelid = c.oid
                WHERE %s
                ORDER BY 2, 3""".formatted(KINDS, where), binds)
            .forEach(r -> {
                long oid = r.get(0, Long.class);
                var table = new LinkedHashMap<String, Object>();
                table.put("schema", r.get(1, String.class));
                table.put("table", r.get(2, String.class));
                table.put("kind", r.get(3, String.class));
                boolean partitioned = r.get(7, String.class) != null;
                table.put("estimated_rows", partitioned ? r.get(11, Long.class) : r.get(4, Long.class));
                table.put("size_bytes", partitioned ? r.get(10, Long.class) : r.get(5, Long.class));
                table.put("primary_key", primaryKey(db, oid));
                table.put("replica_identity", r.get(6, String.class));
                if (partitioned) {
                    table.put("partitioning", Map.of("strategy", switch (r.get(7, String.class)) {
                        case "r" -> "range";
                        case "l" -> "list";
                        default -> "hash";
                    }, "key", r.get(8, String.class), "partitions", r.get(9, Long.class)));
                }
                table.put("columns", columns(db, oid));
                table.put("cursor_candidates", cursorCandidates(db, oid));
                tables.add(table);
            });
        return tables;
    }

    private static List<String> primaryKey(DSLContext db, long oid) {
        return db.resultQuery("""
                SELECT a.attname::text FROM pg_catalog.pg_index i CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY k(attnum, position)
                JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                WHERE i.indrelid = ?::oid AND i.indisprimary ORDER BY k.position""", oid).fetch(0, String.class);
    }

    private static List<Map<String, Object>> columns(DSLContext db, long oid) {
        return db.resultQuery("""
                SELECT a.attname::text, pg_catalog.format_type(a.atttypid, a.atttypmod), NOT a.attnotnull
                FROM pg_catalog.pg_attribute a WHERE a.attrelid = ?::oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum""", oid)
            .fetch(r -> {
                var column = new LinkedHashMap<String, Object>();
                column.put("name", r.get(0, String.class));
                column.put("type", r.get(1, String.class));
                column.put("nullable", r.get(2, Boolean.class));
                return column;
            });
    }

    /**
     * Columns an incremental load could follow: a timestamp, date or integer column that leads a btree
     * index (so the delta query is an index range scan), or an identity column, with why.
     */
    private static List<Map<String, Object>> cursorCandidates(DSLContext db, long oid) {
        return db.resultQuery("""
                SELECT a.attname::text, pg_catalog.format_type(a.atttypid, a.atttypmod),
                       CASE WHEN a.attidentity <> '' THEN 'identity' ELSE 'leads an index' END
                FROM pg_catalog.pg_attribute a
                WHERE a.attrelid = ?::oid AND a.attnum > 0 AND NOT a.attisdropped
                  AND a.atttypid IN ('timestamptz'::regtype, 'timestamp'::regtype, 'date'::regtype, 'int4'::regtype, 'int8'::regtype,
                                     'numeric'::regtype)
                  AND (a.attidentity <> '' OR EXISTS (
                        SELECT 1 FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
                        JOIN pg_catalog.pg_am am ON am.oid = ic.relam
                        WHERE i.indrelid = a.attrelid AND am.amname = 'btree' AND i.indkey[0] = a.attnum))
                ORDER BY a.atttypid IN ('timestamptz'::regtype, 'timestamp'::regtype, 'date'::regtype) DESC, a.attnum""", oid)
            .fetch(r -> {
                var column = new LinkedHashMap<String, Object>();
                column.put("column", r.get(0, String.class));
                column.put("type", r.get(1, String.class));
                column.put("why", r.get(2, String.class));
                return column;
            });
    }

    /** Prints what was found in {@code source}: one JSON object, or a block per table for people. */
    @SuppressWarnings("unchecked")
    public static void print(PrintWriter out, boolean json, Database source, List<Map<String, Object>> tables) {
        String database = source.settings().describe();
        if (json) {
            out.println(RunSummary.toJson(Map.of("database", database, "tables", tables)));
            out.flush();
            return;
        }
        out.println("postgres-discover: " + tables.size() + " tables and views in " + database);
        for (Map<String, Object> t : tables) {
            out.println();
            Object rows = t.get("estimated_rows");
            Object size = t.get("size_bytes");
            out.println(TableRef.of((String) t.get("schema"), (String) t.get("table")) + "  (" + t.get("kind")
                + (rows == null ? "" : ", ~%,d rows".formatted((Long) rows)) + (size == null ? "" : ", " + Sizes.bytes((Long) size)) + ")");
            List<String> key = (List<String>) t.get("primary_key");
            out.println("  primary key   " + (key.isEmpty() ? "none" : String.join(", ", key)) + "; replica identity " + t.get("replica_identity"));
            if (t.get("partitioning") instanceof Map<?, ?> p) {
                out.println("  partitioned   by " + p.get("strategy") + " " + p.get("key") + ", " + p.get("partitions") + " partitions");
            }
            List<Map<String, Object>> cursors = (List<Map<String, Object>>) t.get("cursor_candidates");
            out.println("  cursor        " + (cursors.isEmpty() ? "none found" : String.join(", ",
                cursors.stream().map(c -> c.get("column") + " (" + c.get("type") + ", " + c.get("why") + ")").toList())));
            for (Map<String, Object> c : (List<Map<String, Object>>) t.get("columns")) {
                out.println("    %-28s %s%s".formatted(TableRef.display((String) c.get("name")), c.get("type"),
                    Boolean.TRUE.equals(c.get("nullable")) ? "" : " not null"));
            }
        }
        out.flush();
    }
}
