package datakit.cli;

import datakit.bronze.WriteMode;
import datakit.source.ReadPlan;
import datakit.sql.Identifiers;
import datakit.sql.TableRef;
import picocli.CommandLine.Option;

/** Where a load lands: {@code --target-schema}, {@code --target-table} and the write {@code --mode}. */
public class BronzeOptions implements CheckedOptions {
    @Option(names = "--target-schema", paramLabel = "SCHEMA", descriptionKey = "BRONZE_SCHEMA", defaultValue = "bronze",
        description = "Bronze schema in the warehouse (default: BRONZE_SCHEMA, else ${DEFAULT-VALUE}). Created with its bookkeeping tables.")
    String schema;

    @Option(names = "--target-table", paramLabel = "TABLE",
        description = "Bronze table name (default: the source table's name).")
    String table;

    @Option(names = "--mode", paramLabel = "MODE", defaultValue = "replace",
        description = "replace: swap in a complete new copy atomically (default); append: add the rows as history.")
    WriteMode mode;

    /** The bronze table for a planned read. */
    public TableRef target(ReadPlan plan) {
        String name = table != null
            ? Identifiers.one(table, "--target-table")
            : plan.table().map(TableRef::table).orElseThrow(() -> DatakitException.badInput(
                "A --query has no table name to reuse. Name the bronze table with --target-table."));
        return TableRef.of(schema(), name);
    }

    public String schema() {
        return Identifiers.plain(schema, "--target-schema");
    }

    @Override
    public void check() {
        schema();
        if (table != null) {
            Identifiers.one(table, "--target-table");
        }
    }

    public WriteMode mode() {
        return mode;
    }
}
