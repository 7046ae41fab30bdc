package datakit.json;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The key profile of one JSON column: every key path in its documents (down to {@link FlattenSpec#MAX_DEPTH}
 * levels) with the JSON types found there, counted over every row a run reads.
 *
 * @param column    the JSON column
 * @param documents rows whose value is not SQL NULL
 * @param keys      the key paths, each with documents per JSON type
 */
public record KeyProfile(String column, long documents, List<KeyTypes> keys) {

    public KeyProfile {
        keys = List.copyOf(keys);
    }

    /**
     * Counts, on the server, the keys of {@code document} (jsonb SQL over the rows of {@code from}, a FROM
     * item with its WHERE clause).
     */
    public static KeyProfile of(KeyTypes.Rows rows, String column, String document, String from) {
        long documents = Long.parseLong(rows.of("SELECT count(" + document + ") FROM " + from).get(0).get(0));
        return new KeyProfile(column, documents, KeyTypes.of(rows, "SELECT " + document + " AS doc FROM " + from, FlattenSpec.MAX_DEPTH));
    }

    /** The profile as JSON-ready maps, for summaries: key, types, present, nulls. */
    public List<Map<String, Object>> describe() {
        return keys.stream().map(k -> {
            Map<String, Object> map = new LinkedHashMap<>();
            map.put("key", String.join(".", k.path()));
            map.put("types", k.valueTypes());
            map.put("present", k.present());
            map.put("nulls", k.nulls());
            return map;
        }).toList();
    }
}
