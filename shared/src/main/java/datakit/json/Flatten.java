package datakit.json;

import java.util.List;

/**
 * What to flatten, and over how many rows to learn the keys and their types.
 *
 * @param specs      the {@code --flatten} arguments
 * @param sampleRows rows whose documents are read for key types, or 0 for every row
 */
public record Flatten(List<FlattenSpec> specs, long sampleRows) {
    public static final long DEFAULT_SAMPLE_ROWS = 10_000;
    public static final Flatten NONE = new Flatten(List.of(), DEFAULT_SAMPLE_ROWS);

    public Flatten {
        specs = List.copyOf(specs);
    }

    public boolean isEmpty() {
        return specs.isEmpty();
    }
}
