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
 * @param kept       the columns the bronze table already has, by name, for a load that adds rows to it: a key
 *                   keeps landing in the one that holds its sampled types (see {@link Flattening})
 */
public record Flatten(List<FlattenSpec> specs, long sampleRows, Map<FlattenSpec, List<KeyTypes>> sampled,
                      Map<String, Flattening.BronzeColumn> kept) {
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

    /** This flatten landing keys in the columns a bronze table already has, where they hold the sampled types. */
    public Flatten keeping(Map<String, Flattening.BronzeColumn> bronzeColumns) {
        return new Flatten(specs, sampleRows, sampled, bronzeColumns);
    }

    public boolean isEmpty() {
        return specs.isEmpty();
    }
}
