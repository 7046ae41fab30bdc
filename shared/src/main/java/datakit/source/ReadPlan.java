package datakit.source;

import datakit.sql.TableRef;
import java.util.List;
import java.util.Optional;

/**
 * A planned read: the columns with their bronze types, the COPY statement that streams them, and the
 * planner's row estimate (for progress and the dry run).
 *
 * @param selection     what the user asked for
 * @param table         the source table, or empty for a query
 * @param columns       the columns in output order
 * @param copySql       the {@code COPY ... TO STDOUT (FORMAT binary)} statement
 * @param estimatedRows the planner's estimate, or -1 when it has none
 * @param plainColumns  whether {@code COPY table (columns) TO} can read the columns as they are (none cast, none generated)
 * @param children      reads of the same snapshot that land in child tables ({@code --explode})
 * @param checks        what the warehouse checks before the rows land (JSON text, large objects)
 */
public record ReadPlan(Selection selection, Optional<TableRef> table, List<SourceColumn> columns, String copySql, long estimatedRows,
                       boolean plainColumns, List<Child> children, Checks checks) {

    /** A read that lands in a child table of the plan's ({@code orders__tags}): the elements of an exploded array. */
    public record Child(String suffix, ReadPlan plan) {
    }

    /**
     * What the warehouse checks of the copied rows before they land, setting aside what fails with the
     * row's {@code key}: text columns declared JSON ({@code --json-columns}), which travel as text and
     * become jsonb; the content of large objects, which must exist and stay under the cap; and the
     * flattened keys' values of a JSON type their column does not hold, which are NULL there.
     */
    public record Checks(List<String> jsonText, LargeObjects largeObjects, List<String> key, List<FlatKey> flatKeys) {
        public static final Checks NONE = new Checks(List.of(), LargeObjects.NONE, List.of());

        public Checks {
            jsonText = List.copyOf(jsonText);
            key = List.copyOf(key);
            flatKeys = List.copyOf(flatKeys);
        }

        public Checks(List<String> jsonText, LargeObjects largeObjects, List<String> key) {
            this(jsonText, largeObjects, key, List.of());
        }
    }

    /**
     * A column flattened from a JSON key that holds one JSON type only (not jsonb): a value of another type (one the
     * sample of the key did not see) is NULL in it.
     *
     * @param column   the flattened column
     * @param document the JSON column read, which the key is in
     * @param path     the keys from that column down to the value
     */
    public record FlatKey(String column, String document, List<String> path) {
        public FlatKey {
            path = List.copyOf(path);
        }
    }

    public ReadPlan {
        columns = List.copyOf(columns);
        children = List.copyOf(children);
    }

    ReadPlan(Selection selection, Optional<TableRef> table, List<SourceColumn> columns, String copySql, long estimatedRows,
             boolean plainColumns) {
        this(selection, table, columns, copySql, estimatedRows, plainColumns, List.of(), Checks.NONE);
    }

    public String describe() {
        return selection.describe();
    }
}
