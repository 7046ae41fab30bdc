///usr/bin/env jbang "$0" "$@" ; exit $?
//DESCRIPTION Recent runs of a bronze schema: status, rows, duration and error, from extraction_runs
//JAVA 21+
//CDS
//SOURCES ../shared/library.java

import datakit.cli.Datakit;
import datakit.cli.DatakitCommand;
import datakit.cli.WarehouseOptions;
import datakit.error.DatakitException;
import datakit.ops.RunHistory;
import datakit.sql.Identifiers;
import java.util.Optional;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "bronze-runs", mixinStandardHelpOptions = true, sortOptions = false,
    description = "Lists the recent runs of a bronze schema, newest first: when, status, stream, datakit, rows, duration and error. "
        + "Every change of a run's status is also published with NOTIFY on the channel bronze_runs.",
    footer = "Example: jbang bronze-runs@catalog --stream bronze.orders --limit 5")
class BronzeRuns extends DatakitCommand {
    @Mixin WarehouseOptions warehouse;   // --target, or WAREHOUSE_DATABASE_URL / WAREHOUSE_PG_*

    @Option(names = "--target-schema", paramLabel = "SCHEMA", descriptionKey = "BRONZE_SCHEMA", defaultValue = "bronze",
        description = "Bronze schema (default: BRONZE_SCHEMA, else ${DEFAULT-VALUE}).")
    String schema;

    @Option(names = "--stream", paramLabel = "STREAM", description = "Only this stream (bronze.orders, cdc:<slot>).")
    String stream;

    @Option(names = "--status", paramLabel = "STATUS", description = "Only runs in this status: running, staged, succeeded, failed, abandoned.")
    String status;

    @Option(names = "--limit", paramLabel = "N", defaultValue = "20", description = "How many runs (default: ${DEFAULT-VALUE}).")
    int limit;

    @Override
    protected void run(Datakit kit) {
        // 1. Which runs: a schema, maybe one stream or status, the newest N.
        String bronze = Identifiers.plain(schema, "--target-schema");
        DatakitException.check(limit > 0, "--limit must be at least 1, not %d.", limit);
        DatakitException.check(status == null || status.matches("running|staged|succeeded|failed|abandoned"),
            "--status takes running, staged, succeeded, failed or abandoned, not %s.", status);
        // 2. Read them from extraction_runs, and print them.
        var runs = RunHistory.recent(kit.openWarehouse(warehouse), bronze, Optional.ofNullable(stream), Optional.ofNullable(status), limit);
        RunHistory.print(kit.run().out(), kit.run().json(), bronze, runs);
    }

    public static void main(String... args) {
        exit(new BronzeRuns(), args);
    }
}
