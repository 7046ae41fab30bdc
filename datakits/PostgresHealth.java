///usr/bin/env jbang "$0" "$@" ; exit $?
//DESCRIPTION Health of the source and the warehouse: connection, sizes, capabilities, replication slots and their lag, last run per stream
//JAVA 21+
//CDS
//SOURCES ../shared/library.java

import datakit.cli.Datakit;
import datakit.cli.DatakitCommand;
import datakit.cli.SourceOptions;
import datakit.cli.WarehouseOptions;
import datakit.config.Role;
import datakit.error.DatakitException;
import datakit.ops.Health;
import datakit.ops.HealthReport;
import datakit.sql.Identifiers;
import java.time.Duration;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Optional;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "postgres-health", mixinStandardHelpOptions = true, sortOptions = false,
    description = "Checks the source and the warehouse: connection and response time, version, size, tables, capabilities "
        + "(incremental, partitions, logical replication), a standby's replay lag, replication slots with their lag, and the "
        + "last run of each bronze stream. Exits 1 when unhealthy (a database unreachable, a slot lost), so it can be a liveness check.",
    footer = "Example: jbang postgres-health@catalog --json")
class PostgresHealth extends DatakitCommand {
    @Mixin SourceOptions source;       // --source, or SOURCE_DATABASE_URL / SOURCE_PG_*
    @Mixin WarehouseOptions warehouse; // --target, or WAREHOUSE_DATABASE_URL / WAREHOUSE_PG_*

    @Option(names = "--check", split = ",", paramLabel = "WHAT", defaultValue = "source,warehouse",
        description = "What to check: source, warehouse or both (default: ${DEFAULT-VALUE}).")
    List<String> check;

    @Option(names = "--schema", paramLabel = "SCHEMA", defaultValue = "public", description = "Source schema to count tables in (default: ${DEFAULT-VALUE}).")
    String schema;

    @Option(names = "--target-schema", paramLabel = "SCHEMA", descriptionKey = "BRONZE_SCHEMA", defaultValue = "bronze",
        description = "Bronze schema whose streams to report (default: BRONZE_SCHEMA, else ${DEFAULT-VALUE}).")
    String bronzeSchema;

    @Option(names = "--lag-warning", paramLabel = "BYTES", descriptionKey = "CDC_LAG_WARNING", defaultValue = "1073741824",
        description = "Warn about a replication slot more than this many bytes of WAL behind (default: ${DEFAULT-VALUE}, 1 GiB).")
    long lagWarning;

    @Option(names = "--stale-after", paramLabel = "DURATION", description = "Warn about a stream whose last run is older (ISO-8601, e.g. PT26H).")
    String staleAfter;

    @Option(names = "--replay-lag-warning", paramLabel = "DURATION", descriptionKey = "REPLAY_LAG_WARNING", defaultValue = "PT5M",
        description = "Warn about a standby source whose last replayed transaction is older (ISO-8601; default: ${DEFAULT-VALUE}).")
    String replayLagWarning;

    @Option(names = "--strict", description = "Exit 1 on warnings too (degraded), not only when unhealthy.")
    boolean strict;

    @Override
    protected void run(Datakit kit) {
        // 1. What to check (schema names fold as in SQL), and the limits past which something is worth a warning.
        String sourceSchema = Identifiers.one(schema, "--schema");
        String bronze = Identifiers.plain(bronzeSchema, "--target-schema");
        var limits = new Health.Limits(lagWarning, Optional.ofNullable(staleAfter).map(d -> duration(d, "--stale-after")),
            duration(replayLagWarning, "--replay-lag-warning"));
        // 2. Check each database on a connection of its own, read-only, once.
        var byRole = new LinkedHashMap<String, Health>();
        for (String what : check) {
            switch (what.strip()) {
                case "source" -> byRole.put("source", Health.ofSource(kit.settings(Role.SOURCE, source.url()), sourceSchema, limits));
                case "warehouse" -> byRole.put("warehouse", Health.ofWarehouse(kit.settings(Role.WAREHOUSE, warehouse.url()), bronze, limits));
                default -> throw DatakitException.badInput("--check takes source, warehouse or both, not %s.", what);
            }
        }
        // 3. Print the report, and exit 1 when unhealthy (or degraded, with --strict).
        var report = new HealthReport(new ArrayList<>(byRole.values()));
        report.print(kit.run().out(), kit.run().json(), byRole);
        finishWith(report.exitCode(strict));
    }

    private static Duration duration(String text, String option) {
        try {
            return Duration.parse(text);
        } catch (DateTimeParseException e) {
            throw DatakitException.badInput("%s %s is not an ISO-8601 duration. Write it like PT26H or P2D.", option, text);
        }
    }

    public static void main(String... args) {
        exit(new PostgresHealth(), args);
    }
}
