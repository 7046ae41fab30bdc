///usr/bin/env jbang "$0" "$@" ; exit $?
//DESCRIPTION Full extract of a PostgreSQL table or query into the bronze layer (COPY stream, replace or append)
//JAVA 21+
//CDS
//SOURCES ../shared/library.java

import datakit.bronze.WriteMode;
import datakit.cli.BronzeOptions;
import datakit.cli.Datakit;
import datakit.cli.DatakitCommand;
import datakit.cli.SelectionOptions;
import datakit.cli.SetOptions;
import datakit.cli.SourceOptions;
import datakit.cli.WarehouseOptions;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

@Command(name = "postgres-extract", mixinStandardHelpOptions = true, sortOptions = false,
    description = "Copies a PostgreSQL table or query into a bronze table with one COPY stream; a set of tables (--schema, "
        + "--table patterns) in one snapshot, several at once.",
    footer = "Examples: jbang postgres-extract@catalog --table sales.orders\n          jbang postgres-extract@catalog --schema shop --exclude-table 'shop.tmp_*'")
class PostgresExtract extends DatakitCommand {
    @Mixin SourceOptions source;          // --source, or SOURCE_DATABASE_URL / SOURCE_PG_*
    @Mixin WarehouseOptions warehouse;    // --target, or WAREHOUSE_DATABASE_URL / WAREHOUSE_PG_*
    @Mixin SelectionOptions selection;    // --table or --query, --columns, --where; or --table 'shop.*', --schema
    @Mixin SetOptions set;                // --parallelism, --restart
    @Mixin BronzeOptions bronze;          // --target-schema, --target-table, --mode, --on-schema-change

    @Override
    protected void run(Datakit kit) {
        if (selection.isSet()) {
            // A set of tables: all read in one exported snapshot, --parallelism at a time, each published as
            // soon as it is in. One summary; exit 1 if a table failed, and the next run loads only those.
            finishWith(kit.tableSets(source, warehouse, set).extract(selection.tableSet(), selection.setDescription(),
                bronze.schemaForSet(), bronze.mode(WriteMode.REPLACE), bronze.onSchemaChange()));
            return;
        }
        // 1. Connect: the source read-only, the warehouse that holds the bronze schema; a big table
        //    is read in --parallelism block ranges at once.
        var extract = kit.fullExtract(source, warehouse, set);
        // 2. Plan the read: the columns, the type each lands as, the rows to expect.
        var plan = extract.plan(selection.selection());
        // 3. Stream it into bronze with COPY; the rows and the run record commit together.
        //    With --dry-run, print the plan and write nothing.
        extract.load(plan, bronze.target(plan), bronze.mode(WriteMode.REPLACE), bronze.onSchemaChange());
    }

    public static void main(String... args) {
        exit(new PostgresExtract(), args);
    }
}
