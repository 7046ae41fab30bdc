package datakit.bronze;

import datakit.error.DatakitException;
import datakit.sql.TableRef;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.jooq.DSLContext;
import org.jooq.Record;

/**
 * A bronze table as it stands in the warehouse, and the checks a load makes before touching it: it
 * must be a table the datakits wrote (so a user's own table is never replaced), and a replace must not
 * have views depending on it (PostgreSQL would refuse to drop the old table, or drop the views).
 *
 * @param columns    column name to type, in column order
 * @param dependents views and other relations that depend on the table
 * @param uniqueKeys the column lists of its unique indexes
 */
public record BronzeTable(TableRef ref, long oid, char kind, Map<String, String> columns, List<String> dependents,
                          List<List<String>> uniqueKeys) {

    /** Bookkeeping tables live in the bronze schema too; no stream may take their names. */
    private static final Set<String> BOOKKEEPING = Set.of("extraction_runs", "extraction_checkpoints", "extraction_latest_runs",
        "extraction_json_keys", "schema_changes", "table_set_runs", "flyway_schema_history");
    /** The prefix of the datakits' own tables: staging and part tables, the rejects. */
    private static final String OWN_PREFIX = "_bronze_";

    /**
     * Whether a name is taken by the bronze schema's own tables, those the migrations make (a test keeps
     * the two in step) and those the loads make for themselves.
     */
    public static boolean isReserved(String name) {
        return BOOKKEEPING.contains(name) || name.startsWith(OWN_PREFIX);
    }

    /** The table as it stands now, or empty when it does not exist yet. */
    public static Optional<BronzeTable> inspect(DSLContext db, TableRef ref) {
        Record r = db.resultQuery("""
            SELECT c.oid::bigint, c.relkind::text
            FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = ? AND c.relname = ?""", ref.schema(), ref.table()).fetchOne();
        if (r == null) {
            return Optional.empty();
        }
        long oid = r.get(0, Long.class);
        var columns = new LinkedHashMap<String, String>();
        db.resultQuery("""
                SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod) FROM pg_catalog.pg_attribute a
                WHERE a.attrelid = ?::oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum""", oid)
            .forEach(c -> columns.put(c.get(0, String.class), c.get(1, String.class)));
        List<String> dependents = db.resultQuery("""
                SELECT DISTINCT n.nspname, c.relname
                FROM pg_catalog.pg_depend d
                JOIN pg_catalog.pg_rewrite w ON d.classid = 'pg_catalog.pg_rewrite'::regclass AND w.oid = d.objid
                JOIN pg_catalog.pg_class c ON c.oid = w.ev_class
                JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                WHERE d.refclassid = 'pg_catalog.pg_class'::regclass AND d.refobjid = ?::oid AND c.oid <> ?::oid
                ORDER BY 1, 2""", oid, oid)
            .fetch(d -> TableRef.of(d.get(0, String.class), d.get(1, String.class)).toString());
        List<List<String>> uniqueKeys = db.resultQuery("""
                SELECT array_agg(a.attname::text ORDER BY k.ord)
                FROM pg_catalog.pg_index i
                CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
                JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                WHERE i.indrelid = ?::oid AND i.indisunique AND i.indpred IS NULL
                GROUP BY i.indexrelid""", oid)
            .fetch(k -> List.of(k.get(0, String[].class)));
        return Optional.of(new BronzeTable(ref, oid, r.get(1, String.class).charAt(0), columns, dependents, uniqueKeys));
    }

    /** Fails unless this is a table the datakits wrote: a plain table, or one partitioned by part (postgres-partitioned). */
    public BronzeTable requireBronze() {
        if (!(kind == 'r' || partitioned()) || !columns.containsKey(BronzeMetadata.MARKER)) {
            throw DatakitException.notReady(("%s exists in the warehouse but is not a bronze table (%s). "
                + "The datakits only write tables they created. Choose another --target-table, or rename or drop %s yourself.")
                .formatted(ref, kind != 'r' && kind != 'p' ? "it is not a table" : "it has no " + BronzeMetadata.MARKER + " column", ref));
        }
        return this;
    }

    /** Whether the table is partitioned by {@code _bronze_partition}, as postgres-partitioned writes it. */
    public boolean partitioned() {
        return kind == 'p' && columns.containsKey(BronzeMetadata.PARTITION.name());
    }

    /** Whether a unique index covers exactly these columns, as a merge's ON CONFLICT needs. */
    public boolean hasUniqueKey(List<String> keys) {
        return uniqueKeys.stream().anyMatch(k -> k.equals(keys));
    }

    /** Fails if views depend on the table, since a replace swaps in a new table. */
    public BronzeTable requireNoDependents() {
        if (!dependents.isEmpty()) {
            throw DatakitException.notReady(("Cannot replace %s: %s depend%s on it, and a replace swaps in a new table, "
                + "which PostgreSQL refuses while views use the old one. Use --mode append, or drop the views and create them again after the load.")
                .formatted(ref, String.join(", ", dependents), dependents.size() == 1 ? "s" : ""));
        }
        return this;
    }
}
