package datakit.json;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What to flatten, over how many rows to learn the keys and their types, and what was learnt.
 *
 * @param specs      the {@code --flatten} arguments
 * @param sampleRows rows whose documents are read for key types, or 0 for every row
 * @param sampled    the key types each spec's sample found, once read: later plans of the same read (an
 *                   incremental run's chunks, a plan made again after a lock) use them instead of sampling
 *                   again, so they all make the same columns
 * @param kept       types of flattened columns the bronze table already has, which they keep (a load that
 *                   adds rows to a table must not change its columns' types)
 */
public record Flatten(List<FlattenSpec> specs, long sampleRows, Map<FlattenSpec, List<KeyTypes>> sampled, Map<String, String> kept) {
    public static final long DEFAULT_SAMPLE_ROWS = 10_000;
    public static final Flatten NONE = new Flatten(List.of(), DEFAULT_SAMPLE_ROWS);

    public Flatten {
        specs = List.copyOf(specs);
        sampled = Collections.unmodifiableMap(new LinkedHashMap<>(sampled));
        kept = Map.copyOf(kept);
    }

    public Flatten(List<FlattenSpec> specs, long sampleRows) {
        this(specs, sampleRows, Map.of(), Map.of());
    }

    /** This flatten with what the samples found. */
    public Flatten sampled(Map<FlattenSpec, List<KeyTypes>> found) {
        return new Flatten(specs, sampleRows, found, kept);
    }

    /** This flatten keeping the types of the columns a bronze table already has (name to type). */
    public Flatten keeping(Map<String, String> bronzeColumns) {
        return new Flatten(specs, sampleRows, sampled, bronzeColumns);
    }

    public boolean isEmpty() {
        return specs.isEmpty();
    }
}
