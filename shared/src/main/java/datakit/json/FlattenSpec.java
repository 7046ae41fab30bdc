package datakit.json;

import datakit.error.DatakitException;
import datakit.sql.Identifiers;
import java.util.ArrayList;
import java.util.List;

/**
 * One {@code --flatten} argument: a JSON column, optionally a path of keys into it, and how many levels
 * of keys below that become bronze columns. {@code payload} flattens the top-level keys of payload,
 * {@code payload:2} also the keys of objects one level down, {@code payload.customer} the keys of
 * payload's customer object. The column follows SQL's rules (folded to lower case unless quoted); keys
 * are JSON's, kept as written (quote a key that holds a dot or a colon: {@code payload."a.b"}).
 *
 * @param column the JSON column
 * @param path   the keys leading to the object whose keys are flattened, empty for the column itself
 * @param depth  levels of keys that become columns, 1 or more
 */
public record FlattenSpec(String column, List<String> path, int depth) {
    public static final int MAX_DEPTH = 10;

    public FlattenSpec {
        path = List.copyOf(path);
    }

    /** Reads {@code column[.key...][:depth]}. */
    public static FlattenSpec parse(String text) {
        DatakitException.check(text != null && !text.isBlank(), "--flatten needs a JSON column, such as --flatten payload or payload:2.");
        return parse(text, "--flatten");
    }

    /** Reads {@code column[.key...][:depth]} given to {@code option}, which messages name. */
    static FlattenSpec parse(String text, String option) {
        List<String> parts = split(text.strip(), option);
        String last = parts.get(parts.size() - 1);
        int depth = 1;
        int colon = last.indexOf(':', last.lastIndexOf('"') + 1);
        if (colon >= 0) {
            String levels = last.substring(colon + 1);
            DatakitException.check(levels.matches("[0-9]{1,3}") && Integer.parseInt(levels) >= 1 && Integer.parseInt(levels) <= MAX_DEPTH,
                "%s %s: the depth after the colon must be a number from 1 to %d.", option, text, MAX_DEPTH);
            depth = Integer.parseInt(levels);
            parts.set(parts.size() - 1, last.substring(0, colon));
        }
        String column = Identifiers.one(parts.get(0), option + " column");
        var keys = parts.subList(1, parts.size()).stream().map(FlattenSpec::key).toList();
        for (String key : keys) {
            DatakitException.check(!key.isEmpty(), "%s %s has an empty key. Write column.key.key, quoting keys with dots: "
                + "payload.\"a.b\".", option, text);
        }
        return new FlattenSpec(column, keys, depth);
    }

    /** {@code payload.customer}, for messages. */
    public String describe() {
        var all = new ArrayList<String>();
        all.add(column);
        all.addAll(path);
        return String.join(".", all);
    }

    /** Splits on dots outside double quotes, keeping each part's quotes for the caller to read. */
    private static List<String> split(String text, String option) {
        var parts = new ArrayList<String>();
        var current = new StringBuilder();
        boolean quoted = false;
        for (char c : text.toCharArray()) {
            if (c == '"') {
                quoted = !quoted;
            }
            if (c == '.' && !quoted) {
                parts.add(current.toString());
                current.setLength(0);
            } else {
                current.append(c);
            }
        }
        DatakitException.check(!quoted, "%s %s has an unclosed quote.", option, text);
        parts.add(current.toString());
        return parts;
    }

    /** A JSON key as written: case kept; a quoted key loses its quotes ({@code ""} is a quote inside it). */
    private static String key(String part) {
        if (part.length() >= 2 && part.startsWith("\"") && part.endsWith("\"")) {
            return part.substring(1, part.length() - 1).replace("\"\"", "\"");
        }
        return part;
    }
}
