package datakit.bronze;

import java.util.Locale;

/** How the parts of a partitioned load appear in bronze. */
public enum Layout {
    /** One bronze table, partitioned by {@code _bronze_partition}: the parts are its partitions. */
    SINGLE,
    /** A bronze table per source part, named after it. */
    MIRROR;

    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }
}
