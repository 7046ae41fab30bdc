package datakit.bronze;

import java.util.List;

/**
 * How a load writes its bronze table: the mode, the key that identifies a row (a merge upserts by it,
 * and a table built for merging gets a unique index on it), the merge's conflict policy, and the columns
 * a merge sets NULL in the rows it updates ({@code cleared}: bronze columns the source no longer has,
 * which bronze keeps, NULL in every row loaded from then on).
 */
public record BronzeWrite(WriteMode mode, List<String> keys, ConflictPolicy onConflict, List<String> cleared) {

    public BronzeWrite {
        keys = List.copyOf(keys);
        cleared = List.copyOf(cleared);
        if (mode == WriteMode.MERGE && keys.isEmpty()) {
            throw new IllegalArgumentException("a merge needs key columns");
        }
    }

    public BronzeWrite(WriteMode mode, List<String> keys, ConflictPolicy onConflict) {
        this(mode, keys, onConflict, List.of());
    }

    /** This write, setting {@code columns} NULL in the rows a merge updates. */
    public BronzeWrite clearing(List<String> columns) {
        return new BronzeWrite(mode, keys, onConflict, columns);
    }

    public static BronzeWrite of(WriteMode mode) {
        return new BronzeWrite(mode, List.of(), ConflictPolicy.OVERWRITE);
    }

    /** Whether the bronze table keeps one row per key, with a unique index on it. */
    boolean uniqueKeys() {
        return !keys.isEmpty() && mode != WriteMode.APPEND;
    }
}
