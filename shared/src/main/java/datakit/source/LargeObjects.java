package datakit.source;

import java.util.List;

/**
 * Large-object columns ({@code --large-objects}): {@code oid} columns whose large objects land as
 * {@code bytea} next to them, each up to {@code capBytes}.
 */
public record LargeObjects(List<String> columns, long capBytes) {
    public static final long DEFAULT_CAP_BYTES = 64L << 20;
    /** A bytea holds at most 1 GB, and lo_get reads at most 2^31 - 1 bytes at a time. */
    public static final long MAX_CAP_BYTES = 1_000_000_000L;
    public static final LargeObjects NONE = new LargeObjects(List.of(), DEFAULT_CAP_BYTES);

    public LargeObjects {
        columns = List.copyOf(columns);
    }

    /** The bytea column that holds the content of the large objects of {@code column}. */
    public static String contentColumn(String column) {
        return column + "__content";
    }
}
