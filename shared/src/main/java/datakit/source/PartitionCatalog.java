package datakit.source;

import com.fasterxml.jackson.databind.ObjectMapper;
import datakit.error.DatakitException;
import datakit.sql.TableRef;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;
import org.jooq.DSLContext;
import org.jooq.Record;

/**
 * Splits a big table into parts from the catalog: the leaves of a declarative partition tree (any
 * strategy, any depth, from its root or from a partition that is itself partitioned, via
 * {@code pg_partition_tree} and {@code pg_get_expr(relpartbound)}), the members of a legacy inheritance
 * tree, or ranges of blocks of a plain table. {@code --from}/{@code --to} leave out the partitions whose
 * range bounds lie outside the interval and narrow the others to it where their bounds do not (see
 * {@link KeyInterval}).
 */
final class PartitionCatalog {
    private static final int TID_RANGE_SCANS = 140000;
    private static final ObjectMapper JSON = new ObjectMapper();

    /**
     * A table of the tree at its depth below the table read; a partitioned one with its strategy and, unless its
     * key starts with an expression, what its key's first column compares on.
     */
    private record Node(long oid, long parent, int level, TableRef ref, boolean leaf, char kind, String bound, long rows,
                        boolean readable, boolean rowSecurity, Optional<String> strategy, Optional<KeyInterval.Key> key) {
        boolean byRange() {
            return strategy.filter("r"::equals).isPresent();
        }
    }

    private final DSLContext db;
    /** Whether reads are filtered by row-level security policies (--enable-row-security), else refused where a policy applies. */
    private final boolean rowSecurity;
    /** Runs a query in the session, the server's refusal of the read turned into the user's error. */
    private final Consumer<String> planned;

    PartitionCatalog(DSLContext db, boolean rowSecurity, Consumer<String> planned) {
        this.db = db;
        this.rowSecurity = rowSecurity;
        this.planned = planned;
    }

    List<Part> parts(SourceCatalog.Relation relation, Split split) {
        if (relation.kind() == 'p') {
            DatakitException.check(split.chunks().isEmpty(), "%s is partitioned: its partitions are the parts. Leave out --chunks.",
                relation.ref());
            return leaves(relation, split);
        }
        DatakitException.check(relation.kind() == 'r', "%s is a view, materialized view or foreign table, which has no parts to read "
            + "apart. Copy it with postgres-extract.", relation.ref());
        if (!relation.hasChildren() && split.chunks().isEmpty()) {
            // Before the --from/--to check: leaving them out would only lead to this refusal.
            parentOf(relation).ifPresent(parent -> {
                throw DatakitException.badInput("%s is a partition of %s and has no partitions of its own. Load %s with "
                    + "postgres-partitioned, copy %s with postgres-extract, or read it in parallel block ranges with --chunks N.",
                    relation.ref(), parent, parent, relation.ref());
            });
        }
        DatakitException.check(split.everyPartition(), "--from and --to keep range partitions, and %s is not partitioned. Leave them out, "
            + "or filter rows with --where.", relation.ref());
        if (relation.hasChildren()) {
            DatakitException.check(split.chunks().isEmpty(), "%s has inheritance children: they are the parts. Leave out --chunks.",
                relation.ref());
            return inheritanceMembers(relation);
        }
        if (split.chunks().isEmpty()) {
            throw DatakitException.badInput("%s is not partitioned. Copy it with postgres-extract, or read it in parallel block ranges "
                + "with --chunks N.", relation.ref());
        }
        return blockRanges(relation, split.chunks().getAsInt());
    }

    /**
     * The leaves of the partition tree below {@code relation} (the root, or a partition that is itself
     * partitioned), each with its bounds from {@code relation} down, and with the interval's condition
     * where its bounds do not keep it inside the interval.
     */
    private List<Part> leaves(SourceCatalog.Relation relation, Split split) {
        checkPoliciesOfTheWhole(relation);
        // The relation is the top of the tree read, even when it is itself a partition of another table.
        List<Node> tree = db.resultQuery("""
                SELECT t.relid::oid::bigint, CASE WHEN t.relid = ?::oid THEN 0 ELSE t.parentrelid::oid::bigint END, t.level, n.nspname,
                       c.relname, t.isleaf, c.relkind::text, coalesce(pg_catalog.pg_get_expr(c.relpartbound, c.oid), ''),
                       c.reltuples::bigint, pg_catalog.has_any_column_privilege(c.oid, 'SELECT'), c.relrowsecurity,
                       p.partstrat::text, a.attname,
                       pg_catalog.format_type(a.atttypid, -1), pg_catalog.format_type(a.atttypid, a.atttypmod),
                       (SELECT pg_catalog.quote_ident(cn.nspname) || '.' || pg_catalog.quote_ident(co.collname)
                        FROM pg_catalog.pg_collation co JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace
                        WHERE co.oid = p.partcollation[0]),
                       p.partclass[0]::bigint
                FROM pg_catalog.pg_partition_tree(?::oid) t
                JOIN pg_catalog.pg_class c ON c.oid = t.relid
                JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                LEFT JOIN pg_catalog.pg_partitioned_table p ON p.partrelid = t.relid
                LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = t.relid AND a.attnum = p.partattrs[0]
                ORDER BY t.level, n.nspname, c.relname""", relation.oid(), relation.oid())
            .fetch(PartitionCatalog::node);
        Map<Long, Node> byOid = new HashMap<>();
        tree.forEach(n -> byOid.put(n.oid(), n));
        Optional<KeyInterval> interval = interval(tree, split, relation);
        Map<Long, KeyInterval.Reach> bounded = new HashMap<>(); // a middle level's bound, asked once for all its leaves
        var parts = new ArrayList<Part>();
        for (Node leaf : tree) {
            if (leaf.leaf() && leaf.kind() == 'r') {
                var reach = interval.map(i -> reach(leaf, byOid, i, bounded)).orElse(KeyInterval.Reach.UNKNOWN);
                if (!reach.outside()) {
                    checkReadable(leaf, relation);
                    Optional<String> condition = interval.flatMap(i -> i.condition(reach));
                    long rows = condition.isEmpty() || leaf.rows() < 0 ? leaf.rows()
                        : Math.min(leaf.rows(), estimatedRows(leaf, condition.get())); // never above the catalog's for the whole leaf
                    parts.add(new Part(leaf.ref().toString(), leaf.ref(), leaf.oid(), false, condition, false,
                        boundsOf(leaf, byOid) + condition.map(c -> " WHERE " + c).orElse(""), rows));
                }
            }
        }
        DatakitException.check(tree.stream().noneMatch(n -> n.leaf() && n.kind() == 'f'), "%s has foreign-table partitions, which live "
            + "on another server. Copy it with postgres-extract, or read the local partitions with --query.", relation.ref());
        return parts;
    }

    /** The partitioned table {@code relation} is a partition of, if it is one. */
    private Optional<TableRef> parentOf(SourceCatalog.Relation relation) {
        return db.resultQuery("""
                SELECT n.nspname, c.relname FROM pg_catalog.pg_inherits i
                JOIN pg_catalog.pg_class c ON c.oid = i.inhparent JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                WHERE i.inhrelid = ?::oid AND c.relkind = 'p'""", relation.oid())
            .fetchOptional(r -> TableRef.of(r.get(0, String.class), r.get(1, String.class)));
    }

    private void checkReadable(Node leaf, SourceCatalog.Relation relation) {
        if (!leaf.readable()) {
            throw DatakitException.badInput("The source user %s may read %s but not its partition %s, which this "
                + "datakit reads directly. Grant SELECT on the partitions too: GRANT SELECT ON %s TO %s;",
                relation.user(), relation.ref(), leaf.ref(), leaf.ref().sql(), TableRef.display(relation.user()));
        }
        if (leaf.rowSecurity()) {
            DatakitException.check(!rowSecurity, "%s has row-level security, and --enable-row-security would read it under its own "
                + "policies, not those of %s, which a read of the whole applies. Copy %s with postgres-extract, or leave out "
                + "--enable-row-security to read every row (as the owner or a role with BYPASSRLS).", leaf.ref(), relation.ref(), relation.ref());
            // With row_security off the server refuses, naming the table, a read that a policy of the part would filter.
            planned.accept("EXPLAIN SELECT FROM ONLY " + leaf.ref().sql());
        }
    }

    /**
     * Parts read directly are read under their own policies, not those of the table they belong to: with
     * {@code --enable-row-security} a table with row-level security is read whole. Without it, no policy filters
     * anything (the read of the table itself, planned before, is refused where one would), so its parts hold
     * exactly its rows.
     */
    private void checkPoliciesOfTheWhole(SourceCatalog.Relation relation) {
        DatakitException.check(!rowSecurity || !relation.rowSecurity(), "%s has row-level security, and --enable-row-security would read "
            + "its parts under their own policies, not under its. Copy it with postgres-extract, which reads it as a whole, or leave out "
            + "--enable-row-security to read every row (as the owner or a role with BYPASSRLS).", relation.ref());
    }

    /**
     * The interval --from and --to give on the key of the top-most level partitioned by range, with their
     * values checked against the key's type. Below a list or hash level, that level is several tables: they
     * must agree on the key (column, collation and operator class), or the rows kept would depend on which
     * comes first by name.
     */
    private Optional<KeyInterval> interval(List<Node> tree, Split split, SourceCatalog.Relation relation) {
        if (split.everyPartition()) {
            return Optional.empty();
        }
        Node level = tree.stream().filter(Node::byRange).findFirst()
            .orElseThrow(() -> DatakitException.badInput("--from and --to keep range partitions, and %s has no level partitioned by range. "
                + "Leave them out, or filter rows with --where.", relation.ref()));
        tree.stream().filter(n -> n.byRange() && n.level() == level.level() && !n.key().equals(level.key())).findFirst()
            .ifPresent(other -> {
                throw DatakitException.badInput("The levels partitioned by range at the top of %s disagree on their key: %s is "
                    + "partitioned by %s, %s by %s, and --from and --to apply to one. Load each of them with --table, or filter rows with "
                    + "--where.", relation.ref(), level.ref(), partitionKey(level), other.ref(), partitionKey(other));
            });
        DatakitException.check(level.key().isPresent(), "%s is partitioned by range on an expression; --from and --to take a "
            + "key column. Filter rows with --where.", level.ref());
        return Optional.of(KeyInterval.of(db, level.ref(), level.key().get(), split));
    }

    /** The partition key as PostgreSQL prints it: {@code RANGE (name COLLATE "C" text_pattern_ops)}. */
    private String partitionKey(Node node) {
        return db.resultQuery("SELECT pg_catalog.pg_get_partkeydef(?::oid)", node.oid()).fetchOne(0, String.class);
    }

    /**
     * The planner's estimate of a narrowed leaf's rows in the interval, for the dry run, the progress and
     * the balance of shards; -1 when it gives none.
     */
    private long estimatedRows(Node leaf, String condition) {
        String plan = db.resultQuery("EXPLAIN (FORMAT JSON) SELECT FROM " + leaf.ref().sql() + " WHERE " + condition)
            .fetchOne(0, String.class);
        try {
            return JSON.readTree(plan).get(0).get("Plan").get("Plan Rows").asLong(-1);
        } catch (java.io.IOException e) {
            return -1;
        }
    }

    /**
     * What the leaf's branch says about its rows and the interval: each level partitioned by range on the
     * interval's key (a year level and a month level under it, say) bounds them; other levels, and
     * DEFAULT partitions, do not. A level on the same column in another collation or operator class orders
     * its values otherwise, so its bounds say nothing about the interval either.
     */
    private static KeyInterval.Reach reach(Node leaf, Map<Long, Node> byOid, KeyInterval interval, Map<Long, KeyInterval.Reach> bounded) {
        var reach = KeyInterval.Reach.UNKNOWN;
        for (Node node = leaf; node.parent() != 0; node = byOid.get(node.parent())) {
            Node parent = byOid.get(node.parent());
            if (parent.byRange() && parent.key().equals(Optional.of(interval.key()))) {
                String bound = node.bound();
                reach = reach.withFactsOf(bounded.computeIfAbsent(node.oid(), oid -> interval.reach(bound)));
            }
        }
        return reach;
    }

    /** The bounds of each level down to the leaf: {@code FOR VALUES FROM (...) TO (...) / FOR VALUES IN ('eu')}. */
    private static String boundsOf(Node leaf, Map<Long, Node> byOid) {
        var bounds = new ArrayList<String>();
        for (Node node = leaf; node.parent() != 0; node = byOid.get(node.parent())) {
            bounds.add(0, node.bound());
        }
        return String.join(" / ", bounds);
    }

    private List<Part> inheritanceMembers(SourceCatalog.Relation relation) {
        checkPoliciesOfTheWhole(relation);
        return db.resultQuery("""
                WITH RECURSIVE members(oid, depth) AS (
                    SELECT ?::oid, 0
                    UNION
                    SELECT i.inhrelid, m.depth + 1 FROM pg_catalog.pg_inherits i JOIN members m ON i.inhparent = m.oid)
                SELECT n.nspname, c.relname, min(m.depth), c.reltuples::bigint, c.oid::bigint, c.relhassubclass,
                       pg_catalog.has_any_column_privilege(c.oid, 'SELECT'), c.relrowsecurity, c.relkind::text
                FROM members m JOIN pg_catalog.pg_class c ON c.oid = m.oid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                GROUP BY 1, 2, 4, 5, 6, 7, 8, 9
                ORDER BY 3, 1, 2""", relation.oid())
            .fetch(r -> {
                TableRef ref = TableRef.of(r.get(0, String.class), r.get(1, String.class));
                int depth = r.get(2, Integer.class);
                var member = new Node(r.get(4, Long.class), 0, depth, ref, true, r.get(8, String.class).charAt(0), "",
                    r.get(3, Long.class), r.get(6, Boolean.class), r.get(7, Boolean.class), Optional.empty(), Optional.empty());
                DatakitException.check(member.kind() == 'r', "Inheritance member %s of %s is not a plain table. Copy %s with "
                    + "postgres-extract.", ref, relation.ref(), relation.ref());
                checkReadable(member, relation);
                return new Part(ref.toString(), ref, member.oid(), r.get(5, Boolean.class), Optional.empty(), false,
                    depth == 0 ? "inheritance parent (its own rows)" : "inheritance child, level " + depth, member.rows());
            });
    }

    /**
     * The table's block ranges for {@code count} parallel reads when it is a plain table without inheritance children, of at
     * least {@code minBytes}, on a server with TID range scans; else none, and the table is read in one stream.
     */
    List<Part> blockRangesWhenBig(SourceCatalog.Relation relation, int count, long minBytes) {
        if (count < 2 || relation.kind() != 'r' || relation.hasChildren()) {
            return List.of();
        }
        Record r = db.resultQuery("SELECT pg_catalog.pg_relation_size(?::oid), current_setting('server_version_num')::int", relation.oid())
            .fetchOne();
        if (r.get(1, Integer.class) < TID_RANGE_SCANS || r.get(0, Long.class) < minBytes) {
            return List.of();
        }
        // A table of one block makes one range: nothing to read at once.
        List<Part> ranges = blockRanges(relation, count);
        return ranges.size() > 1 ? ranges : List.of();
    }

    /**
     * Ranges of the table's blocks, read with TID range scans. The last range is open-ended, so no row
     * on a page added since the size was read is missed.
     */
    private List<Part> blockRanges(SourceCatalog.Relation relation, int chunks) {
        Record r = db.resultQuery("""
                SELECT pg_catalog.pg_relation_size(c.oid) / current_setting('block_size')::bigint, c.reltuples::bigint,
                       current_setting('server_version_num')::int
                FROM pg_catalog.pg_class c WHERE c.oid = ?::oid""", relation.oid()).fetchOne();
        DatakitException.check(r.get(2, Integer.class) >= TID_RANGE_SCANS, "--chunks reads block ranges with TID range scans, which "
            + "PostgreSQL has from version 14; this source is older. Copy %s with postgres-extract.", relation.ref());
        long blocks = Math.max(1, r.get(0, Long.class));
        long rows = r.get(1, Long.class);
        int count = (int) Math.min(chunks, blocks);
        var parts = new ArrayList<Part>();
        for (int i = 0; i < count; i++) {
            long start = blocks * i / count;
            long end = blocks * (i + 1) / count;
            boolean last = i == count - 1;
            String where = "ctid >= '(" + start + ",0)'::tid" + (last ? "" : " AND ctid < '(" + end + ",0)'::tid");
            String range = last ? start + "-end" : start + "-" + (end - 1);
            parts.add(new Part("%s blocks %s".formatted(relation.ref(), range), relation.ref(), relation.oid(), false, Optional.of(where), true,
                "blocks " + range, rows < 0 ? -1 : rows * (end - start) / blocks));
        }
        return parts;
    }

    private static Node node(Record r) {
        Optional<KeyInterval.Key> key = Optional.ofNullable(r.get(12, String.class)).map(column -> new KeyInterval.Key(column,
            r.get(13, String.class), r.get(14, String.class), Optional.ofNullable(r.get(15, String.class)), r.get(16, Long.class)));
        return new Node(r.get(0, Long.class), r.get(1, Long.class), r.get(2, Integer.class),
            TableRef.of(r.get(3, String.class), r.get(4, String.class)), r.get(5, Boolean.class), r.get(6, String.class).charAt(0),
            r.get(7, String.class), r.get(8, Long.class), r.get(9, Boolean.class), r.get(10, Boolean.class),
            Optional.ofNullable(r.get(11, String.class)), key);
    }
}
