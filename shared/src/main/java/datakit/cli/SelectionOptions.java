package datakit.cli;

import datakit.error.DatakitException;
import datakit.source.Mappings;
import datakit.source.Selection;
import datakit.sql.Identifiers;
import datakit.sql.TableRef;
import java.util.ArrayList;
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

    @Option(names = "--rename", paramLabel = "COLUMN=NAME", descriptionKey = "SOURCE_RENAMES",
        description = "Land a column under another name (repeatable): --rename emp_no=employee_id.")
    List<String> renames = new ArrayList<>();

    @Option(names = "--cast", paramLabel = "COLUMN=TYPE", descriptionKey = "SOURCE_CASTS",
        description = "Read a column as another built-in type, in the source's SELECT (repeatable): --cast hire_date=text.")
    List<String> casts = new ArrayList<>();

    @Option(names = "--renamed-from", paramLabel = "SCHEMA.TABLE", descriptionKey = "SOURCE_RENAMED_FROM",
        description = "The name --table had before it was renamed at the source: its stream (bronze table, history, checkpoint) goes "
            + "on under the new name, and the default --target-table stays the old name's. Needed once; see docs/postgres-extract.md.")
    String renamedFrom;

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
        var mappings = new Mappings(Mappings.pairs(casts, "--cast", false), Mappings.pairs(renames, "--rename", true));
        DatakitException.check(mappings.isEmpty() || query == null, "--rename and --cast apply to a --table; in a --query, rename and "
            + "cast in the SELECT itself.");
        selection = selection.columns(names).where(where).mappings(mappings);
        return renamedFrom == null ? selection : selection.renamedFrom(before(selection));
    }

    /** --renamed-from: another table's name than the one read, and only with a --table. */
    private TableRef before(Selection selection) {
        DatakitException.check(query == null, "--renamed-from follows a --table renamed at the source; a --query has no name to follow. "
            + "Drop --renamed-from.");
        TableRef before = TableRef.parse(renamedFrom, "public", "--renamed-from");
        DatakitException.check(!selection.table().orElseThrow().equals(before), "--renamed-from %s names the table --table reads. Give the "
            + "name the table had before it was renamed, or drop --renamed-from.", before);
        return before;
    }
}
