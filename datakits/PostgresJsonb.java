///usr/bin/env jbang "$0" "$@" ; exit $?
//DESCRIPTION Extract of a PostgreSQL table with JSON columns into bronze: raw values exact, keys flattened into typed columns
//JAVA 21+
//CDS
//SOURCES ../shared/library.java

import datakit.bronze.WriteMode;
import datakit.cli.BronzeOptions;
import datakit.cli.Datakit;
import datakit.cli.DatakitCommand;
import datakit.cli.JsonOptions;
import datakit.cli.OptionalIncrementalOptions;
import datakit.cli.SelectionOptions;
import datakit.cli.SetOptions;
import datakit.cli.SourceOptions;
import datakit.cli.WarehouseOptions;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

@Command(name = "postgres-jsonb", mixinStandardHelpOptions = true, sortOptions = false,
    description = "Copies a PostgreSQL table with json, jsonb and array columns into bronze, every value exactly as the source "
        + "holds it; --flatten makes the keys of JSON columns typed columns next to the raw one, --explode lands arrays' "
        + "elements in child tables. A set of tables (--schema, --table patterns) lands every value exactly, as postgres-extract "
        + "or postgres-incremental loads a set.",
    footer = "Examples: jbang postgres-jsonb@catalog --table sales.orders --flatten payload:2\n"
        + "          jbang postgres-jsonb@catalog --schema shop")
class PostgresJsonb extends DatakitCommand {
    @Mixin SourceOptions source;          // --source, or SOURCE_DATABASE_URL / SOURCE_PG_*
    @Mixin WarehouseOptions warehouse;    // --target, or WAREHOUSE_DATABASE_URL / WAREHOUSE_PG_*
    @Mixin SelectionOptions selection;    // --table or --query, --columns, --where; or --table 'shop.*', --schema
    @Mixin SetOptions set;                // --parallelism, --restart
    @Mixin JsonOptions json;              // --flatten, --explode, --json-columns, --large-objects, --profile
    @Mixin OptionalIncrementalOptions incremental; // --cursor-field or --sync-mode: load only what changed
    @Mixin BronzeOptions bronze;          // --target-schema, --target-table, --mode, --on-schema-change

    @Override
    protected void run(Datakit kit) {
        if (selection.isSet()) {
            // A set of tables, every value exact: copied whole in one snapshot as postgres-extract does, or with a
            // cursor or sync mode followed table by table as postgres-incremental does. No column is named.
            var read = json.forSet(selection.setDescription());
            var tables = kit.tableSets(source, warehouse, set);
            finishWith(incremental.requested()
                ? tables.incremental(selection.tableSet(), selection.setDescription(), incremental.forSet(selection.setDescription()),
                    bronze.schemaForSet(), bronze.mode(WriteMode.MERGE), bronze.onSchemaChange(), read)
                : tables.extract(selection.tableSet(), selection.setDescription(), bronze.schemaForSet(), bronze.mode(WriteMode.REPLACE),
                    bronze.onSchemaChange(), read));
            return;
        }
        var read = json.applyTo(selection.selection());
        if (incremental.requested()) {
            // Incrementally, as postgres-incremental does: keys flattened (sampled once per run), JSON text
            // parsed, large objects read, chunk by chunk, each chunk committed with its checkpoint.
            var increment = incremental.increment(read);
            kit.incrementalExtract(source, warehouse)
                .load(increment, bronze.target(read), bronze.mode(WriteMode.MERGE), bronze.onSchemaChange());
            return;
        }
        // 1. Connect: the source read-only, the warehouse that holds the bronze schema.
        var extract = kit.fullExtract(source, warehouse);
        // 2. Plan the read: the columns as they are, plus a typed column per flattened key, with the
        //    types learnt on the source from a sample of the documents; and a child read per exploded array.
        var plan = extract.plan(read);
        // 3. Stream it into bronze with COPY, then each child table from the same snapshot; the rows of
        //    all of them and the run record commit together.
        //    With --dry-run, print the plan (each flattened key with what the sample held) and write nothing.
        extract.load(plan, bronze.target(plan), bronze.mode(WriteMode.REPLACE), bronze.onSchemaChange());
    }

    public static void main(String... args) {
        exit(new PostgresJsonb(), args);
    }
}
