package datakit.cdc;

import datakit.error.DatakitException;
import datakit.sql.TableRef;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.jooq.DSLContext;

/**
 * How the source's tables identify the rows their updates and deletes change (REPLICA IDENTITY): checked
 * for every table of a stream before anything is made, and read as the key {@code --apply} keeps a bronze
 * table by.
 */
final class ReplicaIdentities {
    /**
     * The columns that key the rows of {@code pg_class c}, in order: its replica identity index under REPLICA
     * IDENTITY USING INDEX, else its primary key; none when it has neither.
     */
    private static final String KEY_COLUMNS = """
        ARRAY(SELECT a.attname::text FROM pg_catalog.pg_index i
              CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, position)
              JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
              WHERE i.indrelid = c.oid AND CASE c.relreplident WHEN 'i' THEN i.indisreplident ELSE i.indisprimary END
              ORDER BY k.position)
        """;

    private ReplicaIdentities() {
    }

    /**
     * Fails unless every table can key its updates and deletes: a primary key, or a replica identity
     * (USING INDEX, FULL). A table with neither has its deletes and updates refused by the server itself
     * once it is published. A partitioned table's partitions are checked too, since the server keys a change
     * by the replica identity of the partition it happened in, and sends it under the partitioned table's
     * name: under a FULL partitioned table every partition must be FULL (or its changes come without the
     * whole old row), and otherwise each partition's identity must be FULL or hold the partitioned table's key
     * (or its changes cannot be matched to the rows they change). One query for all the tables.
     */
    static void check(DSLContext db, String where, List<TableRef> tables) {
        Map<Integer, List<Identity>> byTable = db.resultQuery("""
                WITH given AS (SELECT t.n, pg_catalog.to_regclass(t.name) AS relid FROM unnest(?::text[]) WITH ORDINALITY AS t(name, n)),
                rels AS (SELECT g.n, g.relid, 0 AS level FROM given g
                         UNION ALL SELECT g.n, p.relid, p.level FROM given g CROSS JOIN LATERAL pg_catalog.pg_partition_tree(g.relid) p
                         WHERE p.isleaf AND p.level > 0)
                SELECT r.n::int, n.nspname::text, c.relname::text, c.relkind::text, c.relreplident::text, """ + KEY_COLUMNS + """
                FROM rels r LEFT JOIN pg_catalog.pg_class c ON c.oid = r.relid LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                ORDER BY r.n, r.level, 2, 3""", (Object) tables.stream().map(TableRef::sql).toArray(String[]::new))
            .stream().collect(Collectors.groupingBy(r -> r.get(0, Integer.class), LinkedHashMap::new, Collectors.mapping(r ->
                new Identity(r.get(1, String.class) == null ? null : TableRef.of(r.get(1, String.class), r.get(2, String.class)),
                    r.get(3, String.class), r.get(4, String.class), List.of(r.get(5, String[].class))), Collectors.toList())));
        for (int n = 1; n <= tables.size(); n++) {
            checkIdentities(where, tables.get(n - 1), byTable.get(n));
        }
    }

    /** How a table (or a partition) identifies a changed row: its REPLICA IDENTITY and the columns that key it. */
    private record Identity(TableRef table, String relkind, String replident, List<String> key) {
        boolean full() {
            return replident.equals("f");
        }

        boolean identifies() {
            return full() || (!replident.equals("n") && !key.isEmpty());
        }
    }

    /** {@code identities}: the table's own first, then its leaf partitions. */
    private static void checkIdentities(String where, TableRef table, List<Identity> identities) {
        Identity root = identities.get(0);
        if (root.table() == null) {
            throw DatakitException.badInput("Table %s does not exist on the source %s. Check --table.", table, where);
        }
        DatakitException.check("rp".contains(root.relkind()), "%s on the source is not a table; only tables have changes to capture. "
            + "Check --table.", table);
        for (Identity checked : identities) {
            DatakitException.check(checked.identifies(), "%s%s has no primary key and no replica identity, so its updates and deletes "
                + "cannot be keyed. Add a primary key, or run ALTER TABLE %s REPLICA IDENTITY FULL (or USING INDEX a unique index).",
                checked.table(), checked == root ? "" : " (a partition of " + table + ")", checked.table().sql());
        }
        for (Identity partition : identities.subList(1, identities.size())) {
            TableRef leaf = partition.table();
            DatakitException.check(!root.full() || partition.full(), "%s is REPLICA IDENTITY FULL, but its partition %s is not, so the "
                + "updates and deletes made in that partition would come without the whole old row (the server keys a change by the "
                + "partition it happened in). Run ALTER TABLE %s REPLICA IDENTITY FULL.", table, leaf, leaf.sql());
            DatakitException.check(partition.full() || partition.key().containsAll(root.key()), "The partition %s of %s keys its updates "
                + "and deletes by (%s), which does not hold the key of %s (%s), so they could not be matched to its rows (the server keys a "
                + "change by the partition it happened in). Run ALTER TABLE %s REPLICA IDENTITY FULL, or USING INDEX a unique index of it "
                + "whose columns include (%s).", leaf, table, String.join(", ", partition.key()), table, String.join(", ", root.key()),
                leaf.sql(), String.join(", ", root.key()));
        }
    }

    /**
     * The columns that identify a row of {@code table}, for keeping a copy of it by key: those of the
     * replica identity index under REPLICA IDENTITY USING INDEX (what updates and deletes send as the old
     * key), else the primary key; empty when there is none (REPLICA IDENTITY FULL without a primary key).
     */
    static List<String> rowKey(DSLContext db, TableRef table) {
        return db.resultQuery("SELECT " + KEY_COLUMNS + " FROM pg_catalog.pg_class c WHERE c.oid = pg_catalog.to_regclass(?)", table.sql())
            .fetchOptional(0, String[].class).map(List::of).orElse(List.of());
    }

    /** As {@link #rowKey(DSLContext, TableRef)}, of the table {@code oid}, whatever its name now. */
    static List<String> rowKey(DSLContext db, long oid) {
        return db.resultQuery("SELECT " + KEY_COLUMNS + " FROM pg_catalog.pg_class c WHERE c.oid = ?::oid", oid)
            .fetchOptional(0, String[].class).map(List::of).orElse(List.of());
    }
}
