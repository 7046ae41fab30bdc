package datakit.json;

import datakit.error.DatakitException;
import datakit.sql.Identifiers;
import datakit.sql.Sql;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Decides the bronze columns that flattening a JSON column makes, from the types its sampled documents
 * hold at each key path. The rule, for each path (JSON nulls say nothing about a type and are left out):
 * <ul>
 *   <li>only objects, above the flattening depth: no column; its keys are the next level;</li>
 *   <li>only numbers: {@code numeric} (exact, whatever the number's size or precision);</li>
 *   <li>only strings: {@code text}; only booleans: {@code boolean};</li>
 *   <li>only arrays, objects at the flattening depth, types that conflict, or only nulls: {@code jsonb},
 *       holding the value as it is (and nothing below it becomes a column).</li>
 * </ul>
 * A row whose value at a path has another type than its column (one the sample did not see) gets NULL
 * in that column; the raw column keeps every value.
 */
public final class Flattening {
    private static final Set<String> RULE_TYPES = Set.of("numeric", "text", "boolean", "jsonb");
    /** PostgreSQL's longest identifier, in bytes. */
    /** Where PostgreSQL stops: a table has at most 1,600 columns, and bronze adds its own. */
    public static final int MAX_COLUMNS = 1_500;

    private Flattening() {
    }

    /** A bronze column made from a key path: its name, type, the SQL that computes it, and what the sample held there. */
    public record FlatColumn(String name, String type, String expression, KeyTypes seen) {
    }

    /**
     * The columns for {@code spec}, given the types found at each path below {@code document}, the SQL
     * (jsonb) of the object being flattened.
     */
    public static List<FlatColumn> columns(FlattenSpec spec, String document, List<KeyTypes> keys) {
        return columns(spec, document, keys, Map.of());
    }

    /**
     * The columns for {@code spec}, where a column the bronze table already has ({@code kept}: name to
     * type) keeps its type when it is one this rule makes: a load that adds rows must not change a
     * column's type, so values of the other JSON types land NULL there (the raw column keeps them).
     */
    public static List<FlatColumn> columns(FlattenSpec spec, String document, List<KeyTypes> keys, Map<String, String> kept) {
        var columns = new ArrayList<FlatColumn>();
        var leaves = new ArrayList<List<String>>();
        for (KeyTypes key : keys) {
            if (leaves.stream().anyMatch(leaf -> startsWith(key.path(), leaf))) {
                continue; // inside a value that is already a column of its own
            }
            List<String> types = key.valueTypes();
            if (types.equals(List.of("object")) && key.path().size() < spec.depth()) {
                continue;
            }
            leaves.add(key.path());
            String type = types.size() != 1 ? "jsonb" : switch (types.get(0)) {
                case "number" -> "numeric";
                case "string" -> "text";
                case "boolean" -> "boolean";
                default -> "jsonb";
            };
            String name = name(spec, key.path());
            type = kept.containsKey(name) && RULE_TYPES.contains(kept.get(name)) ? kept.get(name) : type;
            columns.add(new FlatColumn(name, type, expression(document, key.path(), type), key));
        }
        DatakitException.check(columns.size() <= MAX_COLUMNS, "--flatten %s would make %,d columns, more than a table can hold. "
            + "Flatten fewer levels (%s:1) or a path inside it (%s.key).", spec.describe(), columns.size(), spec.describe(), spec.describe());
        return columns;
    }

    private static boolean startsWith(List<String> path, List<String> prefix) {
        return path.size() > prefix.size() && path.subList(0, prefix.size()).equals(prefix);
    }

    /**
     * The SQL of the jsonb value at {@code path} inside {@code document} (itself jsonb SQL); the document
     * itself for an empty path. Chained {@code ->} is the quickest way there.
     */
    public static String at(String document, List<String> path) {
        var value = new StringBuilder(document);
        for (String key : path) {
            value.insert(0, '(').append(" -> ").append(Sql.literal(key)).append(')');
        }
        return value.toString();
    }

    /**
     * The value at {@code path} as the column's type, NULL where the value has another JSON type. Each
     * row pays for the lookups, so each value is looked up once for its type and once for its value.
     */
    private static String expression(String document, List<String> path, String type) {
        String value = at(document, path);
        String typeOf = "CASE pg_catalog.jsonb_typeof(" + value + ")";
        return switch (type) {
            case "numeric" -> typeOf + " WHEN 'number' THEN " + value + "::numeric END";
            case "text" -> typeOf + " WHEN 'string' THEN " + at(document, path.subList(0, path.size() - 1)) + " ->> "
                + Sql.literal(path.get(path.size() - 1)) + " END";
            case "boolean" -> typeOf + " WHEN 'boolean' THEN " + value + "::boolean END";
            default -> value;
        };
    }

    /**
     * {@code payload__customer__id}: the column, then each key, joined by two underscores. A name longer
     * than PostgreSQL allows is cut and ends with a hash of the whole, so it stays unique and stable.
     */
    static String name(FlattenSpec spec, List<String> path) {
        var parts = new ArrayList<String>();
        parts.add(spec.column());
        parts.addAll(spec.path());
        parts.addAll(path);
        return Identifiers.fit(String.join("__", parts));
    }
}
