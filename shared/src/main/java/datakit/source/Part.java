package datakit.source;

import datakit.sql.TableRef;
import java.util.Optional;

/**
 * A piece of a big table that is read on its own and checkpointed on its own: a leaf partition, a
 * member of an inheritance tree (read with ONLY), or a range of a plain table's blocks.
 *
 * @param name          how it is named in progress lines, checkpoints and {@code _bronze_partition}
 * @param relation      the source table it reads
 * @param oid           that table's oid, so a dropped and re-created partition is not taken for the old one
 * @param only          whether the table has inheritance children whose rows belong to other parts
 * @param where         a condition that narrows the table to the part (a block range, or the rows of a partition in
 *                      the {@code --from}/{@code --to} interval), if any
 * @param byBlocks      whether the part is a range of blocks, whose rows move between runs
 * @param bounds        its bounds as the catalog states them ({@code FOR VALUES FROM ('2026-01-01') TO (...)}), followed by
 *                      the interval's condition where the part is narrowed to it ({@code DEFAULT WHERE "day" < ...})
 * @param estimatedRows the planner's estimate, -1 when it has none
 */
public record Part(String name, TableRef relation, long oid, boolean only, Optional<String> where, boolean byBlocks, String bounds,
                   long estimatedRows) {

    /** The FROM item that reads the part's table. */
    public String from() {
        return (only ? "ONLY " : "") + relation.sql();
    }

    /**
     * Whether a later run may find this part unchanged and keep its rows: a table, or its rows in an
     * interval of its key, can be checked (by the same condition); a block range cannot (updated rows move
     * between blocks).
     */
    boolean keepable() {
        return !byBlocks;
    }

    /** Whether {@code --from}/{@code --to} narrow the part to the rows of their interval. */
    public boolean narrowed() {
        return where.isPresent() && !byBlocks;
    }
}
