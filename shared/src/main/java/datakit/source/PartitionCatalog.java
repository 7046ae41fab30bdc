package datakit.source;

import datakit.cli.DatakitException;
import datakit.cli.ExitCode;
import datakit.sql.Sql;
import datakit.sql.TableRef;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jooq.DSLContext;
import org.jooq.Record;
import org.jooq.exception.DataAccessException;

/**
 * Splits a big table into parts from the catalog: the leaves of a declarative partition tree (any
 * strategy, any depth, via {@code pg_partition_tree} and {@code pg_get_expr(relpartbound)}), the
 * members of a legacy inheritance tree, or ranges of blocks of a plain table. {@code --from}/{@code --to}
 * keep the range partitions whose bounds, as the catalog states them, overlap the interval.
 */
final class PartitionCatalog {
    private static final Pattern RANGE = Pattern.compile("FOR VALUES FROM \\((.*)\\) TO \\((.*)\\)", Pattern.DOTALL);
    private static final int TID_RANGE_SCANS = 140000;

    private record Node(long oid, long parent, TableRef ref, boolean leaf, char kind, String bound, long rows, boolean readable,
                        boolean rowSecurity, Optional<String> strategy, Optional<String> keyColumn, Optional<String> keyType) {
    }

    private final DSLContext db;

    PartitionCatalog(DSLContext db) {
        this.db = db;
    }

    List<Part> parts(SourceCatalog.Relation relation, Split split) {
        DatakitException.check(!relation.rowSecurity(), "%s has row-level security, and reading its parts directly would apply other "
            + "policies. Copy it with postgres-extract, which reads it as a whole.", relation.ref());
        if (relation.kind() == 'p') {
            DatakitException.check(split.chunks().isEmpty(), "%s is partitioned: its partitions are the parts. Leave out --chunks.",
                relation.ref());
            return leaves(relation, split);
        }
        DatakitException.check(relation.kind() == 'r', "%s is a view, materialized view or foreign table, which has no parts to read "
            + "apart. Copy it with postgres-extract.", relation.ref());
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

    private List<Part> leaves(SourceCatalog.Relation relation, Split split) {
        List<Node> tree = db.resultQuery("""
                SELECT t.relid::oid::bigint, coalesce(t.parentrelid::oid::bigint, 0), n.nspname, c.relname, t.isleaf, c.relkind::text,
                       coalesce(pg_catalog.pg_get_expr(c.relpartbound, c.oid), ''), c.reltuples::bigint,
                       pg_catalog.has_any_column_privilege(c.oid, 'SELECT'), c.relrowsecurity,
                       p.partstrat::text, a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod)
                FROM pg_catalog.pg_partition_tree(?::oid) t
                JOIN pg_catalog.pg_class c ON c.oid = t.relid
                JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                LEFT JOIN pg_catalog.pg_partitioned_table p ON p.partrelid = t.relid
                LEFT JOIN pg_catalog.pg_attribute a ON p.partnatts = 1 AND a.attrelid = t.relid AND a.attnum = p.partattrs[0]
                ORDER BY t.level, n.nspname, c.relname""", relation.oid())
            .fetch(PartitionCatalog::node);
        Map<Long, Node> byOid = new HashMap<>();
        tree.forEach(n -> byOid.put(n.oid(), n));
        Optional<Node> rangeLevel = rangeLevel(tree, split, relation);
        var parts = new ArrayList<Part>();
        for (Node leaf : tree) {
            if (leaf.leaf() && leaf.kind() == 'r' && withinInterval(leaf, byOid, rangeLevel, split)) {
                checkReadable(leaf, relation);
                parts.add(new Part(leaf.ref().toString(), leaf.ref(), leaf.oid(), false, Optional.empty(), boundsOf(leaf, byOid), leaf.rows()));
            }
        }
        DatakitException.check(tree.stream().noneMatch(n -> n.leaf() && n.kind() == 'f'), "%s has foreign-table partitions, which live "
            + "on another server. Copy it with postgres-extract, or read the local partitions with --query.", relation.ref());
        return parts;
    }

    private static void checkReadable(Node leaf, SourceCatalog.Relation relation) {
        if (!leaf.readable()) {
            throw new DatakitException(ExitCode.BAD_INPUT, ("The source user %s may read %s but not its partition %s, which this "
                + "datakit reads directly. Grant SELECT on the partitions too: GRANT SELECT ON %s TO %s;")
                .formatted(relation.user(), relation.ref(), leaf.ref(), leaf.ref().sql(), TableRef.display(relation.user())));
        }
        DatakitException.check(!leaf.rowSecurity(), "Partition %s has row-level security, which would filter the rows read from it. "
            + "Copy %s with postgres-extract.", leaf.ref(), relation.ref());
    }

    /**
     * The top-most level partitioned by range, whose key --from and --to filter on, with their values
     * checked against the key's type.
     */
    private Optional<Node> rangeLevel(List<Node> tree, Split split, SourceCatalog.Relation relation) {
        if (split.everyPartition()) {
            return Optional.empty();
        }
        Node level = tree.stream().filter(n -> n.strategy().filter("r"::equals).isPresent()).findFirst()
            .orElseThrow(() -> DatakitException.badInput("--from and --to keep range partitions, and %s has no level partitioned by range. "
                + "Leave them out, or filter rows with --where.", relation.ref()));
        DatakitException.check(level.keyColumn().isPresent(),
            "%s is partitioned by range on several columns or an expression; --from and --to take a single key column. Filter rows "
                + "with --where.", level.ref());
        split.from().ifPresent(value -> checkValue("--from", value, level));
        split.to().ifPresent(value -> checkValue("--to", value, level));
        if (split.from().isPresent() && split.to().isPresent()) {
            String type = level.keyType().orElseThrow();
            DatakitException.check(Boolean.TRUE.equals(db.resultQuery("SELECT " + Sql.literal(split.from().get()) + "::" + type + " < "
                    + Sql.literal(split.to().get()) + "::" + type).fetchOne(0, Boolean.class)),
                "--from %s is not before --to %s, so no partition could overlap. Give an interval where --from < --to.",
                split.from().get(), split.to().get());
        }
        return Optional.of(level);
    }

    private void checkValue(String option, String value, Node level) {
        try {
            db.resultQuery("SELECT " + Sql.literal(value) + "::" + level.keyType().orElseThrow()).fetch();
        } catch (DataAccessException e) {
            throw DatakitException.badInput("%s \"%s\" is not a valid %s, the type of %s, the range partition key of %s. Give a value "
                + "of that type.", option, value, level.keyType().orElseThrow(), TableRef.display(level.keyColumn().orElseThrow()), level.ref());
        }
    }

    /**
     * Whether the leaf's branch overlaps the interval on every level partitioned by range on the filter
     * key (a year level and a day level under it, say); other levels do not narrow it.
     */
    private boolean withinInterval(Node leaf, Map<Long, Node> byOid, Optional<Node> rangeLevel, Split split) {
        if (rangeLevel.isEmpty()) {
            return true;
        }
        for (Node node = leaf; node.parent() != 0; node = byOid.get(node.parent())) {
            Node parent = byOid.get(node.parent());
            boolean filtered = parent.strategy().filter("r"::equals).isPresent() && parent.keyColumn().equals(rangeLevel.get().keyColumn());
            if (filtered && !overlaps(node.bound(), parent, split)) {
                return false;
            }
        }
        return true;
    }

    /**
     * Whether range bounds [lower, upper) meet [from, to). A DEFAULT partition holds whatever no other
     * partition takes, which may fall in any interval, so it always overlaps.
     */
    private boolean overlaps(String bound, Node parent, Split split) {
        Matcher m = RANGE.matcher(bound);
        if (!m.matches()) {
            return true;
        }
        String type = parent.keyType().orElseThrow();
        var conditions = new ArrayList<String>();
        split.from().filter(v -> !m.group(2).equals("MAXVALUE"))
            .ifPresent(from -> conditions.add("(" + m.group(2) + ")::" + type + " > " + Sql.literal(from) + "::" + type));
        split.to().filter(v -> !m.group(1).equals("MINVALUE"))
            .ifPresent(to -> conditions.add("(" + m.group(1) + ")::" + type + " < " + Sql.literal(to) + "::" + type));
        return conditions.isEmpty()
            || Boolean.TRUE.equals(db.resultQuery("SELECT " + String.join(" AND ", conditions)).fetchOne(0, Boolean.class));
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
                var member = new Node(r.get(4, Long.class), 0, ref, true, r.get(8, String.class).charAt(0), "", r.get(3, Long.class),
                    r.get(6, Boolean.class), r.get(7, Boolean.class), Optional.empty(), Optional.empty(), Optional.empty());
                DatakitException.check(member.kind() == 'r', "Inheritance member %s of %s is not a plain table. Copy %s with "
                    + "postgres-extract.", ref, relation.ref(), relation.ref());
                checkReadable(member, relation);
                return new Part(ref.toString(), ref, member.oid(), r.get(5, Boolean.class), Optional.empty(),
                    depth == 0 ? "inheritance parent (its own rows)" : "inheritance child, level " + depth, member.rows());
            });
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
            parts.add(new Part("%s blocks %s".formatted(relation.ref(), range), relation.ref(), relation.oid(), false, Optional.of(where),
                "blocks " + range, rows < 0 ? -1 : rows * (end - start) / blocks));
        }
        return parts;
    }

    private static Node node(Record r) {
        return new Node(r.get(0, Long.class), r.get(1, Long.class), TableRef.of(r.get(2, String.class), r.get(3, String.class)),
            r.get(4, Boolean.class), r.get(5, String.class).charAt(0), r.get(6, String.class), r.get(7, Long.class),
            r.get(8, Boolean.class), r.get(9, Boolean.class),
            Optional.ofNullable(r.get(10, String.class)), Optional.ofNullable(r.get(11, String.class)),
            Optional.ofNullable(r.get(12, String.class)));
    }
}
