///usr/bin/env jbang "$0" "$@" ; exit $?
//DESCRIPTION Change data capture from PostgreSQL logical replication (pgoutput) into bronze change tables, exactly once
//JAVA 21+
//CDS
//SOURCES ../shared/library.java

import datakit.cli.BronzeOptions;
import datakit.cli.CdcOptions;
import datakit.cli.Datakit;
import datakit.cli.DatakitCommand;
import datakit.cli.SourceOptions;
import datakit.cli.WarehouseOptions;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

@Command(name = "postgres-cdc", mixinStandardHelpOptions = true, sortOptions = false,
    description = "Captures the changes of PostgreSQL tables from logical replication into bronze: a <table>__changes table per "
        + "source table (every insert, update, delete and truncate, with its LSN, commit time and transaction), after loading "
        + "the tables from the slot's snapshot. Changes and checkpoint commit together; the slot moves on only after.",
    footer = "Example: jbang postgres-cdc@catalog --table sales.orders --table sales.customers --slot sales_cdc")
class PostgresCdc extends DatakitCommand {
    @Mixin SourceOptions source;       // --source, or SOURCE_DATABASE_URL / SOURCE_PG_* (a user with REPLICATION)
    @Mixin WarehouseOptions warehouse; // --target, or WAREHOUSE_DATABASE_URL / WAREHOUSE_PG_*
    @Mixin CdcOptions cdc;             // --table, --slot, --publication, --snapshot, --follow, --drop-slot
    @Mixin BronzeOptions bronze;       // --target-schema, --on-schema-change

    @Override
    protected void run(Datakit kit) {
        // 1. What to capture: the tables, through which publication and slot, from which snapshot.
        var request = cdc.request();
        // 2. Connect: the source (read-only, plus a replication connection), the warehouse with the bronze schema.
        var capture = kit.cdcExtract(source, warehouse);
        // 3. Make the publication and slot if missing and load the snapshot; then stream the changes into
        //    <table>__changes, each batch committed with its checkpoint, until the WAL position at start
        //    (or, with --follow, until SIGTERM).
        capture.capture(request, bronze.schema(), bronze.onSchemaChange());
    }

    public static void main(String... args) {
        exit(new PostgresCdc(), args);
    }
}
