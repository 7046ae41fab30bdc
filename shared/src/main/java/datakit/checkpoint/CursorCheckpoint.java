package datakit.checkpoint;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A cursor stream's checkpoint: the last row read in (cursor, key) order, or none when no row with a
 * cursor value was read yet. The column's type is kept, so a column whose type changed is noticed.
 *
 * @param column     the cursor column
 * @param type       its type as format_type printed it
 * @param keyColumns the columns that order rows sharing a cursor value
 * @param last       the last row read, if any
 */
public record CursorCheckpoint(String column, String type, List<String> keyColumns, Optional<Position> last, String filter,
                               Map<String, String> columnsRead, Optional<SourcePosition> source) implements Checkpoint {

    public CursorCheckpoint {
        keyColumns = List.copyOf(keyColumns);
        columnsRead = Collections.unmodifiableMap(new LinkedHashMap<>(columnsRead));
    }

    /** A checkpoint whose source position is not known. */
    public CursorCheckpoint(String column, String type, List<String> keyColumns, Optional<Position> last, String filter,
                            Map<String, String> columnsRead) {
        this(column, type, keyColumns, last, filter, columnsRead, Optional.empty());
    }

    /** The same stream, read up to {@code position}. */
    public CursorCheckpoint at(Position position) {
        return new CursorCheckpoint(column, type, keyColumns, Optional.of(position), filter, columnsRead, source);
    }

    /** The same position, taken for what a run reads now: a stored filter of the old form is written anew. */
    public CursorCheckpoint reading(String filter, Map<String, String> columnsRead) {
        return new CursorCheckpoint(column, type, keyColumns, last, filter, columnsRead, source);
    }

    @Override
    public CursorCheckpoint readAt(Optional<SourcePosition> source) {
        return new CursorCheckpoint(column, type, keyColumns, last, filter, columnsRead, source);
    }

    @Override
    public String describe() {
        return last.map(p -> column + " > " + p.cursor()
                + (keyColumns.isEmpty() ? "" : " (" + String.join(", ", keyColumns) + " " + String.join(", ", p.keys()) + ")"))
            .orElse("no row with a " + column + " yet");
    }
}
