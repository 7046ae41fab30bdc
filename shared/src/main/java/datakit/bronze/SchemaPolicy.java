package datakit.bronze;

import java.util.Locale;

/**
 * What a stream does when the source's columns no longer match its bronze table ({@code --on-schema-change}), named as
 * dbt's {@code on_schema_change} and dlt's schema contracts name it.
 */
public enum SchemaPolicy {
    /** Follow the change: add columns, keep dropped ones (NULL from then on), widen types in place, and land a type that
     * cannot widen in a variant column beside the old one. Every change is recorded. */
    EVOLVE,
    /** Stop before anything is written, and say what changed: a person decides. */
    FAIL,
    /** Keep loading the columns bronze knows: new columns are not loaded (recorded as ignored), dropped ones are NULL;
     * a type the known column cannot hold stops the run. */
    FREEZE;

    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }
}
