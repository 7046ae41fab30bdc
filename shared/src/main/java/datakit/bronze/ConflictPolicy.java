package datakit.bronze;

import java.util.Locale;

/** What a merge does with a row whose key bronze already has. */
public enum ConflictPolicy {
    /** The new version replaces the old one (default). */
    OVERWRITE,
    /** The row already in bronze stays; the new version is dropped. */
    SKIP,
    /** The run stops: a key is not expected twice (insert-only sources). */
    FAIL;

    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }
}
