package datakit.cli;

import datakit.source.Selection;
import datakit.sql.Identifiers;
import datakit.sql.TableRef;
import java.util.List;
import picocli.CommandLine.Option;

/** {@code --table} or {@code --query}, narrowed by {@code --columns} and {@code --where}. */
public class SelectionOptions implements CheckedOptions {
    @Option(names = "--table", paramLabel = "SCHEMA.TABLE", descriptionKey = "SOURCE_TABLE",
        description = "Source table, view or materialized view (default schema: public). Quote mixed case: '\"Sales\".orders'.")
    String table;

    @Option(names = "--query", paramLabel = "SQL",
        description = "A SELECT to copy instead of a table (trusted SQL, run read-only on the source). Needs --target-table.")
    String query;

    @Option(names = "--where", paramLabel = "SQL", descriptionKey = "SOURCE_WHERE", description = "Only rows matching this condition (trusted SQL).")
    String where;

    @Option(names = "--columns", paramLabel = "A,B", descriptionKey = "SOURCE_COLUMNS", description = "Only these columns, in this order.")
    String columns;

    @Override
    public void check() {
        selection();
    }

    public Selection selection() {
        DatakitException.check(table != null ^ query != null, table == null
            ? "Nothing to read. Give --table schema.table or --query 'SELECT ...'."
            : "Give --table or --query, not both.");
        Selection selection = table != null
            ? Selection.table(TableRef.parse(table, "public", "--table"))
            : Selection.query(query);
        List<String> names = columns == null ? List.of() : Identifiers.split(columns, ',', "--columns");
        return selection.columns(names).where(where);
    }
}
