package datakit.json;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The JSON types found at one key path of a column's documents ({@code jsonb_typeof}: object, array,
 * string, number, boolean, null), with how many sampled documents hold each there.
 *
 * @param path   keys from the flattened object down to this one
 * @param counts documents per JSON type at this path
 */
public record KeyTypes(List<String> path, Map<String, Long> counts) {
    private static final ObjectMapper JSON = new ObjectMapper();

    public KeyTypes {
        path = List.copyOf(path);
        counts = Map.copyOf(counts);
    }

    /**
     * Runs SQL on the source and returns its rows as text. Queries here hold the user's {@code --where},
     * which may use operators such as {@code ?} that a bind-parameter parser would take for parameters,
     * so they go to the server as written.
     */
    @FunctionalInterface
    public interface Rows {
        List<List<String>> of(String sql);
    }

    /**
     * Counts, on the server, the JSON types at every key path down to {@code depth} levels below
     * {@code document}, a jsonb expression over the rows {@code sample} returns (a subquery whose one
     * column is {@code doc}). Objects are descended; arrays are values.
     */
    public static List<KeyTypes> of(Rows rows, String sample, int depth) {
        String sql = """
            WITH RECURSIVE keys (path, value, level) AS (
                SELECT ARRAY[e.key], e.value, 1
                FROM (%s) AS s, LATERAL pg_catalog.jsonb_each(s.doc) AS e
                WHERE pg_catalog.jsonb_typeof(s.doc) = 'object'
              UNION ALL
                SELECT k.path || e.key, e.value, k.level + 1
                FROM keys AS k, LATERAL pg_catalog.jsonb_each(k.value) AS e
                WHERE k.level < %d AND pg_catalog.jsonb_typeof(k.value) = 'object'
            )
            SELECT pg_catalog.to_jsonb(path)::text, pg_catalog.jsonb_typeof(value), count(*)::text
            FROM keys GROUP BY path, 2 ORDER BY path, 2""".formatted(sample, depth);
        var byPath = new LinkedHashMap<List<String>, Map<String, Long>>();
        for (List<String> row : rows.of(sql)) {
            byPath.computeIfAbsent(path(row.get(0)), p -> new LinkedHashMap<>()).put(row.get(1), Long.parseLong(row.get(2)));
        }
        var keys = new ArrayList<KeyTypes>();
        byPath.forEach((path, counts) -> keys.add(new KeyTypes(path, counts)));
        return keys;
    }

    private static List<String> path(String json) {
        try {
            return List.of(JSON.readValue(json, String[].class));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("the server sent a key path that is not a JSON array: " + json, e);
        }
    }

    /** The types other than JSON null, which says nothing about a key's type. */
    public List<String> valueTypes() {
        return counts.keySet().stream().filter(t -> !t.equals("null")).sorted().toList();
    }

    /** Documents that hold the key (each holds a path at most once). */
    public long present() {
        return counts.values().stream().mapToLong(Long::longValue).sum();
    }

    /** Documents where the key is JSON null. */
    public long nulls() {
        return counts.getOrDefault("null", 0L);
    }

    /** "number in 9,812 rows, null in 3", for plans and notes. */
    public String describe() {
        return String.join(", ", counts.entrySet().stream().sorted(Map.Entry.comparingByKey())
            .map(e -> "%s in %,d".formatted(e.getKey(), e.getValue())).toList());
    }
}
