package datakit.bronze;

import java.util.Locale;

/** How a load meets the rows already in its bronze table. */
public enum WriteMode {
    /** Swap in a complete new copy atomically: readers see the old table or the new one, never a mix. */
    REPLACE,
    /** Add the rows to those already there, as history. */
    APPEND,
    /** Keep one row per primary key: insert new keys, and update or keep existing ones by a conflict policy. */
    MERGE;

    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }
}
