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
 * @param jsonText      text columns that land as jsonb, parsed in the warehouse
 */
public record ReadPlan(Selection selection, Optional<TableRef> table, List<SourceColumn> columns, String copySql, long estimatedRows,
                       boolean plainColumns, List<Child> children, JsonText jsonText) {

    /** A read that lands in a child table of the plan's ({@code orders__tags}): the elements of an exploded array. */
    public record Child(String suffix, ReadPlan plan) {
    }

    /**
     * Text columns declared JSON ({@code --json-columns}): they travel as text and become jsonb in the
     * warehouse, where values that do not parse are set aside with the row's {@code key}.
     */
    public record JsonText(List<String> columns, List<String> key) {
        public static final JsonText NONE = new JsonText(List.of(), List.of());

        public JsonText {
            columns = List.copyOf(columns);
            key = List.copyOf(key);
        }
    }

    public ReadPlan {
        columns = List.copyOf(columns);
        children = List.copyOf(children);
    }

    ReadPlan(Selection selection, Optional<TableRef> table, List<SourceColumn> columns, String copySql, long estimatedRows,
             boolean plainColumns) {
        this(selection, table, columns, copySql, estimatedRows, plainColumns, List.of(), JsonText.NONE);
    }

    public String describe() {
        return selection.describe();
    }
}
