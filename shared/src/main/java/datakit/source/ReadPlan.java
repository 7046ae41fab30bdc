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
 */
public record ReadPlan(Selection selection, Optional<TableRef> table, List<SourceColumn> columns, String copySql, long estimatedRows,
                       boolean plainColumns, List<Child> children) {

    /** A read that lands in a child table of the plan's ({@code orders__tags}): the elements of an exploded array. */
    public record Child(String suffix, ReadPlan plan) {
    }

    public ReadPlan {
        columns = List.copyOf(columns);
        children = List.copyOf(children);
    }

    ReadPlan(Selection selection, Optional<TableRef> table, List<SourceColumn> columns, String copySql, long estimatedRows,
             boolean plainColumns) {
        this(selection, table, columns, copySql, estimatedRows, plainColumns, List.of());
    }

    public String describe() {
        return selection.describe();
    }
}
