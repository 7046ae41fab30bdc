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
 */
public record ReadPlan(Selection selection, Optional<TableRef> table, List<SourceColumn> columns, String copySql, long estimatedRows,
                       boolean plainColumns) {

    public ReadPlan {
        columns = List.copyOf(columns);
    }

    public String describe() {
        return selection.describe();
    }
}
