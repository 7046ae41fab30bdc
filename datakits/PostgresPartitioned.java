///usr/bin/env jbang "$0" "$@" ; exit $?
//DESCRIPTION Partition-aware, parallel and resumable extract of a big PostgreSQL table into bronze, from one consistent snapshot
//JAVA 21+
//CDS
//SOURCES ../shared/library.java

import datakit.bronze.WriteMode;
import datakit.cli.BronzeOptions;
import datakit.cli.Datakit;
import datakit.cli.DatakitCommand;
import datakit.cli.PartitionOptions;
import datakit.cli.SelectionOptions;
import datakit.cli.SourceOptions;
import datakit.cli.WarehouseOptions;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

@Command(name = "postgres-partitioned", mixinStandardHelpOptions = true, sortOptions = false,
    description = "Copies a big PostgreSQL table into bronze part by part (its partitions, or block ranges with --chunks), "
        + "with parallel workers reading one snapshot. Each part commits on its own, so a stopped run resumes; the bronze "
        + "table is replaced atomically when every part is in. Unchanged partitions are kept unless --full.",
    footer = "Example: jbang postgres-partitioned@catalog --table sales.events --from 2026-01-01 --parallelism 4")
class PostgresPartitioned extends DatakitCommand {
    @Mixin SourceOptions source;          // --source, or SOURCE_DATABASE_URL / SOURCE_PG_*
    @Mixin WarehouseOptions warehouse;    // --target, or WAREHOUSE_DATABASE_URL / WAREHOUSE_PG_*
    @Mixin SelectionOptions selection;    // --table, --columns, --where
    @Mixin PartitionOptions partitions;   // --from/--to, --chunks, --parallelism, --layout, --full, --shard
    @Mixin BronzeOptions bronze;          // --target-schema, --target-table, --on-schema-change

    @Override
    protected void run(Datakit kit) {
        // 1. Connect: the source read-only, the warehouse; a connection per worker on each.
        var extract = kit.partitionedExtract(source, warehouse, partitions);
        // 2. Plan in one exported snapshot: the columns, and the parts from the catalog (partitions and
        //    their bounds, inheritance children, or block ranges).
        var plan = extract.plan(selection.selection(), partitions.split());
        // 3. Copy the parts in parallel, each committed with its checkpoint; publish them atomically once
        //    all are in. With --dry-run, list the parts and what would happen to each; write nothing.
        extract.load(plan, bronze.target(plan.read()), bronze.mode(WriteMode.REPLACE), bronze.onSchemaChange(), partitions.load());
    }

    public static void main(String... args) {
        exit(new PostgresPartitioned(), args);
    }
}
