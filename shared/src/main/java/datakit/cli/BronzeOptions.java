package datakit.cli;

import datakit.bronze.SchemaPolicy;
import datakit.bronze.WriteMode;
import datakit.error.DatakitException;
import datakit.source.ReadPlan;
import datakit.source.Selection;
import datakit.sql.Identifiers;
import datakit.sql.TableRef;
import picocli.CommandLine.Option;

/** Where a load lands: {@code --target-schema}, {@code --target-table} and the write {@code --mode}. */
public class BronzeOptions implements CheckedOptions {
    @Option(names = "--target-schema", paramLabel = "SCHEMA", descriptionKey = "BRONZE_SCHEMA", defaultValue = "bronze",
        description = "Bronze schema in the warehouse (default: BRONZE_SCHEMA, else ${DEFAULT-VALUE}). Created with its bookkeeping tables.")
    String schema;

    @Option(names = "--target-table", paramLabel = "TABLE", descriptionKey = "TARGET_TABLE",
        description = "Bronze table name (default: the source table's name; with --renamed-from, the name it had before).")
    String table;

    @Option(names = "--mode", paramLabel = "MODE", descriptionKey = "WRITE_MODE",
        description = "replace (swap in a complete new copy), append (add the rows as history) or merge (one row per key); "
            + "which ones a datakit takes, and its default, are in its description.")
    WriteMode mode;

    @Option(names = "--on-schema-change", paramLabel = "POLICY", descriptionKey = "ON_SCHEMA_CHANGE", defaultValue = "evolve",
        description = "When the source's columns change: evolve (default: add new columns, keep dropped ones NULL, widen types "
            + "in place, land other type changes in a variant column), fail (stop before writing) or freeze (load the known "
            + "columns only). Every change is recorded in schema_changes; see docs/schema-changes.md.")
    SchemaPolicy onSchemaChange;

    /** The bronze table for a planned read. */
    public TableRef target(ReadPlan plan) {
        return target(plan.selection());
    }

    /**
     * The bronze table for what is read: --target-table, else the source table's name; for a table renamed at the source
     * (--renamed-from), the name it had, which its stream's bronze table bears.
     */
    public TableRef target(Selection selection) {
        String name = table != null
            ? Identifiers.one(table, "--target-table")
            : selection.renamedFrom().or(selection::table).map(TableRef::table).orElseThrow(() -> DatakitException.badInput(
                "A --query has no table name to reuse. Name the bronze table with --target-table."));
        return TableRef.of(schema(), name);
    }

    /** The bronze schema of a set of tables, each landing under its own name: --target-table is refused. */
    public String schemaForSet() {
        DatakitException.check(table == null, "--target-table names one bronze table, and a set of tables lands each table under its "
            + "own name in --target-schema. Drop --target-table, or load that table on its own.");
        return schema();
    }

    public String schema() {
        return Identifiers.plain(schema, "--target-schema");
    }

    /** What the stream does when the source's columns change: --on-schema-change. */
    public SchemaPolicy onSchemaChange() {
        return onSchemaChange;
    }

    /** The --mode given, else the datakit's default. */
    public WriteMode mode(WriteMode whenNotGiven) {
        return mode != null ? mode : whenNotGiven;
    }

    @Override
    public void check() {
        schema();
        if (table != null) {
            Identifiers.one(table, "--target-table");
        }
    }
}
