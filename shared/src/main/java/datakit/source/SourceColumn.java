package datakit.source;

import datakit.sql.Sql;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * One column read from the source and how it lands in bronze.
 *
 * @param name        the column name as the catalog stores it
 * @param sourceType  its type on the source, as {@code format_type} prints it
 * @param bronzeType  the type of the bronze column (the same type where that is safe)
 * @param cast        whether the value is cast to {@code bronzeType} in the source query
 * @param note        why the type changes, for the plan ("enum sales.status lands as text")
 * @param expression  the SQL that computes the column from the source row, for a column the source does not
 *                    have (a flattened JSON key); empty for a column read as it is
 */
public record SourceColumn(String name, String sourceType, String bronzeType, boolean cast, Optional<String> note,
                           Optional<String> expression) {

    /** The column named {@code name} among {@code columns}, if the read has it. */
    static Optional<SourceColumn> named(List<SourceColumn> columns, String name) {
        return columns.stream().filter(c -> c.name().equals(name)).findFirst();
    }

    /** Whether the column lands as json or jsonb. */
    public boolean json() {
        String type = bronzeType.toLowerCase(Locale.ROOT);
        return type.equals("json") || type.equals("jsonb");
    }

    /** SQL of a JSON column's value as jsonb; {@code qualifier} ("p.", or "") comes before the name. */
    String jsonb(String qualifier) {
        return qualifier + Sql.quote(name) + (bronzeType.equalsIgnoreCase("json") ? "::jsonb" : "");
    }
}
