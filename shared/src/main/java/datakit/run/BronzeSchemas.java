package datakit.run;

import datakit.db.Database;
import datakit.db.Migrations;
import datakit.report.RunContext;
import datakit.report.RunSummary;
import datakit.sql.Identifiers;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The bronze schemas of a warehouse, migrated on demand ({@code bronze-migrate}): each schema gets
 * its own bookkeeping tables and history; {@code --dry-run} only lists what is pending.
 */
public final class BronzeSchemas {
    private final RunContext run;
    private final Database warehouse;

    public BronzeSchemas(RunContext run, Database warehouse) {
        this.run = run;
        this.warehouse = warehouse;
    }

    /** Applies (or with --dry-run lists) the pending migrations of each schema, and prints the outcome. */
    public void migrate(List<String> schemaNames) {
        var outcome = new LinkedHashMap<String, List<String>>();
        for (String name : schemaNames) {
            String schema = Identifiers.plain(name, "--target-schema");
            outcome.put(schema, run.dryRun()
                ? Migrations.pending(warehouse.dataSource(), schema)
                : Migrations.apply(warehouse, schema));
        }
        print(outcome);
    }

    private void print(Map<String, List<String>> outcome) {
        if (run.json()) {
            var map = new LinkedHashMap<String, Object>();
            map.put("status", run.dryRun() ? "dry-run" : "succeeded");
            map.put("warehouse", warehouse.settings().describe());
            map.put(run.dryRun() ? "pending" : "applied", outcome);
            run.out().println(RunSummary.toJson(map));
        } else {
            String verb = run.dryRun() ? "would apply" : "applied";
            outcome.forEach((schema, migrations) -> run.out().println("%s on %s: %s".formatted(schema, warehouse.settings().describe(),
                migrations.isEmpty() ? "up to date" : verb + " " + String.join(", ", migrations))));
        }
        run.out().flush();
    }
}
