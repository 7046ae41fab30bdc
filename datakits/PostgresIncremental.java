///usr/bin/env jbang "$0" "$@" ; exit $?
//DESCRIPTION Incremental load of a PostgreSQL table into bronze by a cursor column (or xmin), checkpointed, in merge or append mode
//JAVA 21+
//CDS
//SOURCES ../shared/library.java

import datakit.bronze.WriteMode;
import datakit.cli.BronzeOptions;
import datakit.cli.Datakit;
import datakit.cli.DatakitCommand;
import datakit.cli.IncrementalOptions;
import datakit.cli.SelectionOptions;
import datakit.cli.SetOptions;
import datakit.cli.SourceOptions;
import datakit.cli.WarehouseOptions;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

@Command(name = "postgres-incremental", mixinStandardHelpOptions = true, sortOptions = false,
    description = "Loads the rows of a PostgreSQL table changed since the last run into bronze: --mode merge (one row per key, "
        + "the default) or append (every version as history). Each chunk commits with its checkpoint. A set of tables (--schema, "
        + "--table patterns): each by its own cursor or xmin, and a table without a primary key copied whole.",
    footer = "Examples: jbang postgres-incremental@catalog --table sales.orders --cursor-field updated_at --primary-key id\n"
        + "          jbang postgres-incremental@catalog --schema shop --cursor-field updated_at")
class PostgresIncremental extends DatakitCommand {
    @Mixin SourceOptions source;          // --source, or SOURCE_DATABASE_URL / SOURCE_PG_*
    @Mixin WarehouseOptions warehouse;    // --target, or WAREHOUSE_DATABASE_URL / WAREHOUSE_PG_*
    @Mixin SelectionOptions selection;    // --table, --columns, --where; or --table 'shop.*', --schema
    @Mixin SetOptions set;                // --parallelism
    @Mixin IncrementalOptions incremental; // --cursor-field, --primary-key, --lookback, --chunk-rows, ...
    @Mixin BronzeOptions bronze;          // --target-schema, --target-table, --mode, --on-schema-change

    @Override
    protected void run(Datakit kit) {
        if (selection.isSet()) {
            // A set of tables, --parallelism at a time, each with its own checkpoint: followed by --cursor-field
            // where it has that column, else by its update time or xmin; a table without a key is copied whole.
            finishWith(kit.tableSets(source, warehouse, set).incremental(selection.tableSet(), selection.setDescription(),
                incremental.forSet(selection.setDescription()), bronze.schemaForSet(), bronze.mode(WriteMode.MERGE),
                bronze.onSchemaChange()));
            return;
        }
        // 1. What to follow: the table, its cursor column (or xmin) and its key.
        var increment = incremental.increment(selection.selection());
        // 2. Connect: the source read-only, the warehouse that holds the bronze schema and the checkpoint.
        var extract = kit.incrementalExtract(source, warehouse);
        // 3. Load the rows past the checkpoint in (cursor, key) order; each chunk commits with its checkpoint.
        //    With --dry-run, print the checkpoint, the query with its bound values and the estimate; write nothing.
        extract.load(increment, bronze.target(increment.selection()), bronze.mode(WriteMode.MERGE), bronze.onSchemaChange());
    }

    public static void main(String... args) {
        exit(new PostgresIncremental(), args);
    }
}
