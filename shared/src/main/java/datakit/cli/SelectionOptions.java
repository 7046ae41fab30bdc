package datakit.cli;

import datakit.error.DatakitException;
import datakit.source.Mappings;
import datakit.source.Selection;
import datakit.source.TableSet;
import datakit.sql.Identifiers;
import datakit.sql.TablePattern;
import datakit.sql.TableRef;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import picocli.CommandLine.Option;

/**
 * {@code --table} or {@code --query}, narrowed by {@code --columns} and {@code --where}; or a set of tables: {@code --table}
 * patterns (psql's rules, repeatable), {@code --schema}, less {@code --exclude-table}.
 */
public class SelectionOptions implements CheckedOptions {
    @Option(names = "--table", paramLabel = "SCHEMA.TABLE", descriptionKey = "SOURCE_TABLE",
        description = "Source table, view or materialized view (default schema: public). Quote mixed case: '\"Sales\".orders'. "
            + "A pattern ('shop.*', psql's rules) or a repeated --table loads a set of tables where the datakit can (see "
            + "docs/whole-schema.md).")
    List<String> tables = new ArrayList<>();

    @Option(names = "--schema", paramLabel = "SCHEMA", descriptionKey = "SOURCE_SCHEMA",
        description = "Every table of this schema (a pattern, repeatable): short for --table 'SCHEMA.*'.")
    List<String> schemas = new ArrayList<>();

    @Option(names = "--exclude-table", paramLabel = "PATTERN", descriptionKey = "SOURCE_EXCLUDE_TABLES",
        description = "Leave out the tables this pattern matches, with their partitions (repeatable).")
    List<String> excludes = new ArrayList<>();

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
        if (isSet()) {
            tableSet();
        } else {
            single();
        }
    }

    /**
     * Whether a set of tables is asked for: a --table pattern, several --table, a --schema or an --exclude-table. One --table
     * that names a table as it is (no wildcard) keeps the single-table path and all its options.
     */
    public boolean isSet() {
        return tables.size() > 1 || !schemas.isEmpty() || !excludes.isEmpty()
            || tables.size() == 1 && TablePattern.parse(tables.get(0), "--table").exact().isEmpty();
    }

    /** The one table or query to read, for a datakit that reads one; a set of tables is refused. */
    public Selection selection() {
        DatakitException.check(!isSet(), "%s asks for a set of tables, and this datakit loads one table at a time. Give one "
            + "--table schema.table, or load the set with postgres-extract, postgres-incremental or postgres-jsonb.", setDescription());
        return single();
    }

    /** The set of tables the patterns select, refusing the options that only make sense for one table. */
    public TableSet tableSet() {
        for (var single : List.of(
            new OnlyForOne(query != null, "--query"), new OnlyForOne(columns != null, "--columns"), new OnlyForOne(where != null, "--where"),
            new OnlyForOne(!renames.isEmpty(), "--rename"), new OnlyForOne(!casts.isEmpty(), "--cast"),
            new OnlyForOne(renamedFrom != null, "--renamed-from"))) {
            DatakitException.check(!single.given(), "%s applies to one table, and %s selects a set of tables. Load that table on its own "
                + "with %s, and leave it out of the set with --exclude-table.", single.option(), setDescription(), single.option());
        }
        var include = new ArrayList<TablePattern>();
        tables.forEach(text -> include.add(TablePattern.parse(text, "--table")));
        schemas.forEach(text -> include.add(TablePattern.schema(text, "--schema")));
        return TableSet.tables(include, excludes.stream().map(text -> TablePattern.parse(text, "--exclude-table")).toList());
    }

    private record OnlyForOne(boolean given, String option) {
    }

    /** The patterns as given, for messages: {@code --table 'shop.*' --exclude-table 'shop.tmp_*'}. */
    public String setDescription() {
        var words = new ArrayList<String>();
        tables.forEach(t -> words.add("--table '" + t + "'"));
        schemas.forEach(s -> words.add("--schema '" + s + "'"));
        excludes.forEach(e -> words.add("--exclude-table '" + e + "'"));
        return String.join(" ", words);
    }

    private Selection single() {
        String table = tables.isEmpty() ? null : tables.get(0);
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

    /** The one --table given, when it is one table's name. */
    public Optional<String> table() {
        return tables.size() == 1 ? Optional.of(tables.get(0)) : Optional.empty();
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
