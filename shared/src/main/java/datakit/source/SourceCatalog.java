package datakit.source;

import datakit.error.DatakitException;
import datakit.sql.TableRef;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.jooq.DSLContext;
import org.jooq.Record;

/**
 * Looks tables and columns up in the source's catalog (names bound as values, never spliced into
 * SQL), and explains a miss: the near name the user probably meant, or what does exist.
 */
final class SourceCatalog {
    private static final String READABLE_KINDS = "rpvmf";

    private final DSLContext db;
    private final String where;

    SourceCatalog(DSLContext db, String databaseDescription) {
        this.db = db;
        this.where = databaseDescription;
    }

    /**
     * A table, view or materialized view found in the catalog.
     *
     * @param hasChildren whether inheritance children exist, whose rows a SELECT includes and COPY table omits
     * @param user        the role that reads it ({@code current_user}), for the GRANTs of hints
     */
    record Relation(TableRef ref, long oid, char kind, boolean rowSecurity, boolean hasChildren, String user) {
        /** Whether {@code COPY table TO} returns the same rows as a SELECT of it. */
        boolean copiesLikeSelect() {
            return kind == 'r' && !rowSecurity && !hasChildren;
        }
    }

    /**
     * A column with its type as stored; {@code generated} columns cannot be named in COPY table TO.
     * {@code baseTypeOid} is the type itself, or a domain's base type.
     */
    record Column(String name, long typeOid, int typmod, String type, boolean generated, boolean notNull, long baseTypeOid) {
    }

    Relation find(TableRef ref) {
        Record r = db.resultQuery("""
            SELECT c.oid::bigint, c.relkind::text, c.relrowsecurity, pg_catalog.has_any_column_privilege(c.oid, 'SELECT'),
                   c.relhassubclass, current_user::text
            FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = ? AND c.relname = ?""", ref.schema(), ref.table()).fetchOne();
        if (r == null) {
            throw DatakitException.badInput("Table %s does not exist on the source %s. %s", ref, where, hint(ref));
        }
        // The privilege is asked of the current catalog, the row read in the snapshot: NULL when the table was dropped since.
        DatakitException.check(r.get(3, Boolean.class) != null, "Table %s was dropped or replaced on the source %s after this run's "
            + "snapshot was taken, so it cannot be read as the snapshot holds it. The next run reads it as it is then.", ref, where);
        char kind = r.get(1, String.class).charAt(0);
        DatakitException.check(READABLE_KINDS.indexOf(kind) >= 0,
            "%s on the source is %s, not a table or view. Give a table, view or materialized view in --table.", ref, kindName(kind));
        if (!r.get(3, Boolean.class)) {
            String user = r.get(5, String.class);
            throw DatakitException.badInput("The source user %s may not read %s (no SELECT privilege). "
                + "Grant it on the source: GRANT SELECT ON %s TO %s;", user, ref, ref.sql(), TableRef.display(user));
        }
        return new Relation(ref, r.get(0, Long.class), kind, r.get(2, Boolean.class), r.get(4, Boolean.class), r.get(5, String.class));
    }

    /**
     * Refuses a {@code --renamed-from} that the source still has: the table read is then not its new name, and following it
     * would move a stream away from a table that is still there.
     */
    void checkRenamedFrom(Selection selection) {
        selection.renamedFrom().ifPresent(before -> {
            boolean exists = db.resultQuery("""
                SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname = ? AND c.relname = ? AND c.relkind::text = ANY(?)""", before.schema(), before.table(), kinds())
                .fetchOne() != null;
            String read = selection.describe();
            DatakitException.check(!exists, "Table %s (--renamed-from) still exists on the source %s: %s is not its new name. Drop "
                + "--renamed-from, or give the name %s had before it was renamed.", before, where, read, read);
        });
    }

    List<Column> columns(Relation relation) {
        return db.resultQuery("""
                SELECT a.attname, a.atttypid::bigint, a.atttypmod, pg_catalog.format_type(a.atttypid, a.atttypmod),
                       a.attgenerated <> '', a.attnotnull,
                       (CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END)::bigint
                FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
                WHERE a.attrelid = ?::oid AND a.attnum > 0 AND NOT a.attisdropped
                ORDER BY a.attnum""", relation.oid())
            .fetch(r -> new Column(r.get(0, String.class), r.get(1, Long.class), r.get(2, Integer.class), r.get(3, String.class),
                r.get(4, Boolean.class), r.get(5, Boolean.class), r.get(6, Long.class)));
    }

    /** The primary key's columns in key order, or none (views and tables without one). */
    List<String> primaryKey(Relation relation) {
        return db.resultQuery("""
                SELECT a.attname FROM pg_catalog.pg_index i
                CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
                JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                WHERE i.indrelid = ?::oid AND i.indisprimary ORDER BY k.ord""", relation.oid())
            .fetch(0, String.class);
    }

    /** The named columns in the order given; an unknown name lists the columns that exist. */
    static List<Column> pick(List<Column> all, List<String> names, String owner) {
        if (names.isEmpty()) {
            return all;
        }
        var byName = new LinkedHashMap<String, Column>();
        all.forEach(c -> byName.put(c.name(), c));
        var picked = new ArrayList<Column>();
        for (String name : names) {
            Column column = byName.get(name);
            if (column == null) {
                throw DatakitException.badInput("Column %s does not exist in %s. Columns are: %s. Check --columns.",
                    TableRef.display(name), owner, String.join(", ", all.stream().map(c -> TableRef.display(c.name())).toList()));
            }
            DatakitException.check(!picked.contains(column), "Column %s is listed twice in --columns. List it once.", TableRef.display(name));
            picked.add(column);
        }
        return picked;
    }

    private String hint(TableRef ref) {
        var sameIgnoringCase = db.resultQuery("""
                SELECT n.nspname, c.relname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                WHERE lower(n.nspname) = lower(?) AND lower(c.relname) = lower(?) AND c.relkind::text = ANY(?)""",
                ref.schema(), ref.table(), kinds())
            .fetch(r -> TableRef.of(r.get(0, String.class), r.get(1, String.class)).toString());
        if (!sameIgnoringCase.isEmpty()) {
            return "Did you mean " + String.join(" or ", sameIgnoringCase) + "? Quote mixed-case names: --table '"
                + sameIgnoringCase.get(0) + "'. Check --table.";
        }
        return whatExists(ref) + " Check --table; if the table was renamed, give its new name there and this one in --renamed-from.";
    }

    /** The tables of the schema, or why there are none. */
    private String whatExists(TableRef ref) {
        List<String> tables = db.resultQuery("""
                SELECT c.relname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname = ? AND c.relkind::text = ANY(?) AND NOT c.relispartition ORDER BY c.relname COLLATE "C" LIMIT 21""",
                ref.schema(), kinds())
            .fetch(r -> TableRef.display(r.get(0, String.class)));
        if (!tables.isEmpty()) {
            String list = String.join(", ", tables.subList(0, Math.min(20, tables.size())));
            return "Tables in schema " + TableRef.display(ref.schema()) + ": " + list + (tables.size() > 20 ? ", ..." : "") + ".";
        }
        boolean schemaExists = db.resultQuery("SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = ?", ref.schema()).fetchOne() != null;
        return schemaExists
            ? "Schema " + TableRef.display(ref.schema()) + " has no tables the source user can see."
            : "Schema " + TableRef.display(ref.schema()) + " does not exist either.";
    }

    private static String[] kinds() {
        return READABLE_KINDS.chars().mapToObj(c -> String.valueOf((char) c)).toArray(String[]::new);
    }

    private static String kindName(char kind) {
        return Map.of('i', "an index", 'S', "a sequence", 'c', "a composite type", 't', "a TOAST table", 'I', "a partitioned index")
            .getOrDefault(kind, "relation kind '" + kind + "'");
    }
}
