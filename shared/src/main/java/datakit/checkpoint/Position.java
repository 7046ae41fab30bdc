package datakit.checkpoint;

import java.util.List;

/**
 * A row's place in (cursor, key) order: its cursor value and key values, in PostgreSQL's text form.
 */
public record Position(String cursor, List<String> keys) {
    public Position {
        keys = List.copyOf(keys);
    }
}
