package datakit.cdc;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import datakit.sql.TableRef;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.jooq.DSLContext;

/**
 * The leaf partitions of a stream's partitioned tables, each with the file that holds its rows
 * (relfilenode), kept in the stream's checkpoint from run to run. Two things empty a partition without a
 * change the stream could see: PostgreSQL does not publish a TRUNCATE of a partition alone through its
 * partitioned table (publish_via_partition_root), and detaching or dropping a partition is no change at
 * all. A TRUNCATE gives the partition a new file, a detach or drop removes it from the tree; comparing the
 * leaves with the last run's finds both, and the run warns. A VACUUM FULL, a CLUSTER, a rewriting ALTER
 * TABLE or a TRUNCATE of the partitioned table itself (which is published) give new files too: the
 * warning then names a harmless change, which is why it says what to check.
 */
final class PartitionLeaves {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final TypeReference<Map<String, List<Leaf>>> SHAPE = new TypeReference<>() {
    };

    /** A leaf partition: its oid (stable across renames), its name, and the file that holds its rows. */
    record Leaf(long oid, String name, long file) {
    }

    /** The leaves of each partitioned table, by the partitioned table's name. */
    private final Map<String, List<Leaf>> leaves;

    private PartitionLeaves(Map<String, List<Leaf>> leaves) {
        this.leaves = leaves;
    }

    /**
     * Reads the leaves of the partitioned tables among {@code tables}, walking pg_inherits rather than
     * calling pg_partition_tree, so that in an imported snapshot they are the snapshot's leaves.
     */
    static PartitionLeaves read(DSLContext db, List<TableRef> tables) {
        var leaves = new LinkedHashMap<String, List<Leaf>>();
        db.resultQuery("""
                WITH RECURSIVE tree AS (
                    SELECT c.oid AS root, c.oid AS relid FROM unnest(?::text[]) AS t(name)
                    JOIN pg_catalog.pg_class c ON c.oid = pg_catalog.to_regclass(t.name) WHERE c.relkind = 'p'
                    UNION ALL
                    SELECT tree.root, i.inhrelid FROM tree JOIN pg_catalog.pg_inherits i ON i.inhparent = tree.relid)
                SELECT rn.nspname::text, r.relname::text, c.oid::bigint, n.nspname::text, c.relname::text, c.relfilenode::bigint
                FROM tree JOIN pg_catalog.pg_class c ON c.oid = tree.relid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                JOIN pg_catalog.pg_class r ON r.oid = tree.root JOIN pg_catalog.pg_namespace rn ON rn.oid = r.relnamespace
                WHERE c.relkind = 'r' ORDER BY 1, 2, 4, 5""", (Object) tables.stream().map(TableRef::sql).toArray(String[]::new))
            .forEach(r -> leaves.computeIfAbsent(TableRef.of(r.get(0, String.class), r.get(1, String.class)).toString(), k -> new ArrayList<>())
                .add(new Leaf(r.get(2, Long.class), TableRef.of(r.get(3, String.class), r.get(4, String.class)).toString(), r.get(5, Long.class))));
        return new PartitionLeaves(leaves);
    }

    /** The leaves as the checkpoint keeps them (JSON). */
    public String toJson() {
        try {
            return JSON.writeValueAsString(leaves);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    static PartitionLeaves fromJson(String json) {
        try {
            return new PartitionLeaves(JSON.readValue(json, SHAPE));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("the checkpoint's partitions are not the JSON this datakit writes: " + json, e);
        }
    }

    /** These leaves, and for a partitioned table they do not know, the leaves {@code other} has of it. */
    PartitionLeaves completedBy(PartitionLeaves other) {
        var merged = new LinkedHashMap<>(other.leaves);
        merged.putAll(leaves);
        return new PartitionLeaves(merged);
    }

    /**
     * What may have left bronze behind since {@code earlier}, in words, a warning per partition: one that is
     * no longer a leaf of its partitioned table (detached or dropped), or whose file changed (truncated, or
     * rewritten). {@code bronzeSchema} and {@code apply} say where its rows may still be.
     */
    List<String> changesSince(PartitionLeaves earlier, String bronzeSchema, boolean apply) {
        var warnings = new ArrayList<String>();
        earlier.leaves.forEach((root, before) -> {
            List<Leaf> now = leaves.get(root);
            if (now == null) {
                return; // the partitioned table left the stream: nothing of it is kept any more
            }
            TableRef source = TableRef.parse(root, "public", "partitioned table");
            var bronze = new ChangeTable(source, TableRef.of(bronzeSchema, source.table()));
            String stale = apply ? bronze.state() + " may still hold rows it no longer has"
                : bronze.ref() + " has no change for the rows it removed";
            for (Leaf leaf : before) {
                Optional<Leaf> current = now.stream().filter(l -> l.oid() == leaf.oid()).findFirst();
                if (current.isEmpty()) {
                    warnings.add(("%s is no longer a partition of %s (detached or dropped since the last run), which is no change the "
                        + "stream sees, so %s; run once with --resnapshot %s to reload it").formatted(leaf.name(), root, stale, root));
                } else if (current.get().file() != leaf.file()) {
                    warnings.add(("%s, a partition of %s, was truncated or rewritten since the last run (it has a new file): PostgreSQL "
                        + "does not publish the TRUNCATE of a partition alone, so if it was truncated, %s; run once with --resnapshot %s "
                        + "to reload it (nothing is missing after a VACUUM FULL, CLUSTER, table rewrite or TRUNCATE of %s)")
                        .formatted(current.get().name(), root, stale, root, root));
                }
            }
        });
        return warnings;
    }
}
