package datakit.checkpoint;

import java.util.List;
import java.util.Optional;

/**
 * What a checkpoint was taken for, besides its cursor and key (which it keeps apart): the rows ({@code --where}) and the
 * columns, only when the user chose them ({@code --columns}). The columns the source happens to have are left out: a column
 * added, dropped or renamed there changes nothing about which rows were read, and bronze follows it (new columns added,
 * old ones kept).
 *
 * <p>Written as {@code all rows; every column} or {@code where <sql>; --columns a,b}. Checkpoints written before (issue 16)
 * hold {@code <rows>; columns <every column read>}, with or without --columns, so they cannot tell a chosen list from the
 * whole table's: such a checkpoint fits a run without --columns that reads the same rows, and a run with --columns only if
 * it lists exactly those columns.
 *
 * @param where   the user's --where, if any
 * @param columns the user's --columns, or empty when they were not given
 */
public record ReadFilter(Optional<String> where, List<String> columns) {
    /** What an old filter puts between its rows and the list of every column its run read. */
    private static final String OLD_COLUMNS = "; columns ";

    public ReadFilter {
        columns = List.copyOf(columns);
    }

    /** The text a checkpoint keeps. */
    public String text() {
        return rows() + (columns.isEmpty() ? "; every column" : "; --columns " + String.join(",", columns));
    }

    private String rows() {
        return where.map(w -> "where " + w).orElse("all rows");
    }

    /** Whether a checkpoint whose filter is {@code stored} (either form) was taken for what this filter reads. */
    public boolean fits(String stored) {
        if (stored.equals(text())) {
            return true;
        }
        String oldRows = rows() + OLD_COLUMNS;
        return stored.startsWith(oldRows) && (columns.isEmpty() || stored.substring(oldRows.length()).equals(String.join(",", columns)));
    }

    /** The columns an old filter lists (every column its run read); none for a filter of the present form. */
    static List<String> columnsListed(String stored) {
        int at = stored.lastIndexOf(OLD_COLUMNS);
        return at < 0 ? List.of() : List.of(stored.substring(at + OLD_COLUMNS.length()).split(","));
    }
}
