package datakit.checkpoint;

import java.util.List;
import java.util.Optional;

/**
 * Where an incremental stream resumes: after the row ({@code cursorValue}, {@code keyValues}) in the
 * order (cursor, primary key), or, in xmin mode, after the transactions before {@code xmin}. Values are
 * kept in PostgreSQL's text form with the type they had, so a column whose type changed is noticed.
 *
 * @param mode        "cursor" or "xmin"
 * @param cursorColumn the cursor column (cursor mode)
 * @param cursorType  its type as format_type printed it when the checkpoint was taken
 * @param cursorValue the last cursor value read, in text form
 * @param keyColumns  the primary key columns that order rows with equal cursor values
 * @param keyValues   the key of the last row read, in text form
 * @param xmin        xmin mode: every transaction before this full (64-bit) id had ended when the rows were read
 */
public record Checkpoint(String mode, Optional<String> cursorColumn, Optional<String> cursorType, Optional<String> cursorValue,
                         List<String> keyColumns, List<String> keyValues, Optional<Long> xmin) {

    public static final String CURSOR = "cursor";
    public static final String XMIN = "xmin";

    public Checkpoint {
        keyColumns = List.copyOf(keyColumns);
        keyValues = List.copyOf(keyValues);
    }

    public static Checkpoint cursor(String column, String type, String value, List<String> keyColumns, List<String> keyValues) {
        return new Checkpoint(CURSOR, Optional.of(column), Optional.of(type), Optional.of(value), keyColumns, keyValues, Optional.empty());
    }

    public static Checkpoint xmin(long xmin) {
        return new Checkpoint(XMIN, Optional.empty(), Optional.empty(), Optional.empty(), List.of(), List.of(), Optional.of(xmin));
    }

    /** For people and the {@code _bronze_checkpoint} column: {@code updated_at > 2026-11-21 10:00:00+00 (id 42)}. */
    public String describe() {
        if (mode.equals(XMIN)) {
            return "xmin >= " + xmin.orElseThrow();
        }
        return cursorColumn.orElseThrow() + " > " + cursorValue.orElseThrow()
            + (keyColumns.isEmpty() ? "" : " (" + String.join(", ", keyColumns) + " " + String.join(", ", keyValues) + ")");
    }
}
