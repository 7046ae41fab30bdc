package datakit.json;

import datakit.error.DatakitException;
import java.util.ArrayList;
import java.util.List;

/**
 * One {@code --explode} argument: an array column ({@code tags}), or a path to a JSON array inside a JSON
 * column ({@code payload.items}), whose elements land one per row in a child table.
 *
 * @param column the column holding the arrays
 * @param path   keys leading to the JSON array inside it, empty for the column itself
 */
public record ExplodeSpec(String column, List<String> path) {

    public ExplodeSpec {
        path = List.copyOf(path);
    }

    /** Reads {@code column[.key...]}, named as {@code --flatten} names them. */
    public static ExplodeSpec parse(String text) {
        DatakitException.check(text != null && !text.isBlank(), "--explode needs an array column, such as --explode tags or payload.items.");
        FlattenSpec spec = FlattenSpec.parse(text, "--explode");
        DatakitException.check(spec.depth() == 1 && text.indexOf(':', text.lastIndexOf('"') + 1) < 0,
            "--explode %s: an array has no depth. Leave out the colon.", text);
        return new ExplodeSpec(spec.column(), spec.path());
    }

    /** {@code tags} or {@code payload__items}: what the child table's name ends with. */
    public String suffix() {
        var parts = new ArrayList<String>();
        parts.add(column);
        parts.addAll(path);
        return String.join("__", parts);
    }

    /** {@code payload.items}, for messages. */
    public String describe() {
        var parts = new ArrayList<String>();
        parts.add(column);
        parts.addAll(path);
        return String.join(".", parts);
    }
}
