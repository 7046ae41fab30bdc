package datakit.bronze;

import java.util.List;

/**
 * How a load writes its bronze table: the mode, the key that identifies a row (a merge upserts by it,
 * and a table built for merging gets a unique index on it), and the merge's conflict policy.
 */
public record BronzeWrite(WriteMode mode, List<String> keys, ConflictPolicy onConflict) {

    public BronzeWrite {
        keys = List.copyOf(keys);
        if (mode == WriteMode.MERGE && keys.isEmpty()) {
            throw new IllegalArgumentException("a merge needs key columns");
        }
    }

    public static BronzeWrite of(WriteMode mode) {
        return new BronzeWrite(mode, List.of(), ConflictPolicy.OVERWRITE);
    }

    /** Whether the bronze table keeps one row per key, with a unique index on it. */
    boolean uniqueKeys() {
        return !keys.isEmpty() && mode != WriteMode.APPEND;
    }
}
