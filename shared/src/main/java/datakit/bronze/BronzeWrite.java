package datakit.bronze;

import java.util.List;

/**
 * How a load writes its bronze table: the mode, the key that identifies a row (a merge upserts by it, and a table built
 * for merging gets a unique index on it), the merge's conflict policy, and what the load does when the source's columns no
 * longer match the table's ({@link SchemaPolicy}).
 */
public record BronzeWrite(WriteMode mode, List<String> keys, ConflictPolicy onConflict, SchemaPolicy onSchemaChange) {

    public BronzeWrite {
        keys = List.copyOf(keys);
        if (mode == WriteMode.MERGE && keys.isEmpty()) {
            throw new IllegalArgumentException("a merge needs key columns");
        }
    }

    public BronzeWrite(WriteMode mode, List<String> keys, ConflictPolicy onConflict) {
        this(mode, keys, onConflict, SchemaPolicy.EVOLVE);
    }

    public static BronzeWrite of(WriteMode mode) {
        return new BronzeWrite(mode, List.of(), ConflictPolicy.OVERWRITE);
    }

    /** This write, meeting schema changes by {@code policy}. */
    public BronzeWrite onSchemaChange(SchemaPolicy policy) {
        return new BronzeWrite(mode, keys, onConflict, policy);
    }

    /** This write in another mode. */
    public BronzeWrite inMode(WriteMode other) {
        return new BronzeWrite(other, keys, onConflict, onSchemaChange);
    }

    /** Whether the bronze table keeps one row per key, with a unique index on it. */
    boolean uniqueKeys() {
        return !keys.isEmpty() && mode != WriteMode.APPEND;
    }
}
