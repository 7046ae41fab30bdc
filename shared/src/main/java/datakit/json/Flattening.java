package datakit.json;

import datakit.error.DatakitException;
import datakit.sql.Identifiers;
import datakit.sql.Sql;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

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
 * A load that adds rows to a bronze table ({@link #columns(FlattenSpec, String, List, Map)}) lands each key
 * in the column bronze has for it when that column holds every type the sample found there; else the key
 * has the type this rule gives the sample, and the bronze load follows that change as for any column
 * (widened in place, or a variant column beside the old one); the key's other variant columns are NULL
 * in its rows. A row whose value at a path has another type than its column (one the sample did not see)
 * gets NULL in that column; the raw column keeps every value, and the warehouse sets the value aside in
 * {@code _bronze_rejects} and counts it.
 */
public final class Flattening {
    /** The column types the rule makes. */
    public static final List<String> TYPES = List.of("numeric", "text", "boolean", "jsonb");
    /** The JSON type each column type of the rule holds; jsonb holds them all. */
    private static final Map<String, String> HELD = Map.of("numeric", "number", "text", "string", "boolean", "boolean");
    /** Where PostgreSQL stops: a table has at most 1,600 columns, and bronze adds its own. */
    public static final int MAX_COLUMNS = 1_500;

    private Flattening() {
    }

    /**
     * A bronze column made from a key path: its name, type, the SQL that computes it, and what the sample held there.
     *
     * @param vacant whether it is a variant column of the key that the load leaves NULL, since it lands the key's values in
     *               another of its columns
     */
    public record FlatColumn(String name, String type, String expression, KeyTypes seen, boolean vacant) {
        /** Whether a value at the key can have a JSON type the column does not hold (a jsonb column holds them all). */
        public boolean dropsOtherTypes() {
            return !vacant && !type.equals("jsonb");
        }
    }

    /**
     * A column a bronze table already has, which rows added to it may land a key in.
     *
     * @param type     its type
     * @param variants its variant columns of the rule's types, type to name ({@code <column>__v_<type>}): they hold the
     *                 key's values after its type changed to one the column cannot hold
     */
    public record BronzeColumn(String type, Map<String, String> variants) {
        public BronzeColumn {
            variants = Map.copyOf(variants);
        }
    }

    /**
     * The columns for {@code spec}, given the types found at each path below {@code document}, the SQL
     * (jsonb) of the object being flattened.
     */
    public static List<FlatColumn> columns(FlattenSpec spec, String document, List<KeyTypes> keys) {
        return columns(spec, document, keys, Map.of());
    }

    /**
     * The columns for {@code spec}, for a load that adds rows to a bronze table that has {@code bronze} (by
     * name): see {@link #typeInBronze}.
     */
    public static List<FlatColumn> columns(FlattenSpec spec, String document, List<KeyTypes> keys, Map<String, BronzeColumn> bronze) {
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
            String name = name(spec, key.path());
            String type = typeInBronze(name, types, bronze).orElse(ruleType(types));
            columns.add(new FlatColumn(name, type, expression(document, key.path(), type), key, false));
            // The key's other variant columns are NULL in the rows the load writes, so a merge leaves no older value there.
            Optional.ofNullable(bronze.get(name)).ifPresent(column -> column.variants().forEach((variantType, variant) -> {
                if (!variantType.equals(type)) {
                    columns.add(new FlatColumn(variant, variantType, "NULL::" + variantType, key, true));
                }
            }));
        }
        DatakitException.check(columns.size() <= MAX_COLUMNS, "--flatten %s would make %,d columns, more than a table can hold. "
            + "Flatten fewer levels (%s:1) or a path inside it (%s.key).", spec.describe(), columns.size(), spec.describe(), spec.describe());
        return columns;
    }

    /** The column type the rule gives a key whose sampled values have these JSON types (nulls left out). */
    private static String ruleType(List<String> types) {
        return types.size() != 1 ? "jsonb" : switch (types.get(0)) {
            case "number" -> "numeric";
            case "string" -> "text";
            case "boolean" -> "boolean";
            default -> "jsonb";
        };
    }

    /**
     * The type of the bronze column a key's values keep landing in, when one holds every JSON type the
     * sample found there: the key's own column, else its variant column of the type the sample gives, else
     * its jsonb variant. Empty when none does: the key's type changed, and it lands as {@link #ruleType},
     * which the bronze load widens the column to, or lands in a new variant column.
     */
    private static Optional<String> typeInBronze(String name, List<String> types, Map<String, BronzeColumn> bronze) {
        BronzeColumn column = bronze.get(name);
        if (column == null) {
            return Optional.empty();
        }
        if (holds(column.type(), types)) {
            return Optional.of(column.type());
        }
        return Optional.of(ruleType(types)).filter(column.variants()::containsKey)
            .or(() -> Optional.of("jsonb").filter(column.variants()::containsKey));
    }

    /** Whether a column of this type holds every value of these JSON types (only the rule's types hold any). */
    private static boolean holds(String columnType, List<String> types) {
        return columnType.equals("jsonb") || HELD.containsKey(columnType) && types.stream().allMatch(HELD.get(columnType)::equals);
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
