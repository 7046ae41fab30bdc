///usr/bin/env jbang "$0" "$@" ; exit $?
//DESCRIPTION Writes a dbt sources.yml for the tables of a bronze schema: columns, descriptions from source comments, freshness
//JAVA 21+
//CDS
//SOURCES ../shared/library.java

import datakit.cli.Datakit;
import datakit.cli.DatakitCommand;
import datakit.cli.SourceOptions;
import datakit.cli.WarehouseOptions;
import datakit.config.Role;
import datakit.error.DatakitException;
import datakit.ops.DbtSources;
import datakit.sql.Identifiers;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "bronze-dbt-sources", mixinStandardHelpOptions = true, sortOptions = false,
    description = "Writes a dbt sources.yml naming every table of a bronze schema, with its columns and types, descriptions from the "
        + "source's comments, and a freshness check on _bronze_loaded_at, so silver models start from source('bronze', 'orders').",
    footer = "Example: jbang bronze-dbt-sources@catalog --output models/bronze/sources.yml")
class BronzeDbtSources extends DatakitCommand {
    @Mixin WarehouseOptions warehouse;   // --target, or WAREHOUSE_DATABASE_URL / WAREHOUSE_PG_*
    @Mixin SourceOptions source;         // --source, or SOURCE_DATABASE_URL / SOURCE_PG_*: where the comments are

    @Option(names = "--target-schema", paramLabel = "SCHEMA", descriptionKey = "BRONZE_SCHEMA", defaultValue = "bronze",
        description = "Bronze schema (default: BRONZE_SCHEMA, else ${DEFAULT-VALUE}).")
    String schema;

    @Option(names = "--output", paramLabel = "FILE", defaultValue = "sources.yml", description = "Where to write (default: ${DEFAULT-VALUE}; - for stdout).")
    Path output;

    @Option(names = "--no-comments", description = "Do not read the source: describe tables by where they came from.")
    boolean noComments;

    @Option(names = "--warn-after-hours", paramLabel = "N", defaultValue = "24", description = "dbt freshness warning (default: ${DEFAULT-VALUE}).")
    int warnHours;

    @Option(names = "--error-after-hours", paramLabel = "N", defaultValue = "48", description = "dbt freshness error (default: ${DEFAULT-VALUE}).")
    int errorHours;

    @Override
    protected void run(Datakit kit) throws IOException {
        // 1. The bronze schema, and how fresh its tables must be.
        String bronze = Identifiers.plain(schema, "--target-schema");
        DatakitException.check(0 < warnHours && warnHours <= errorHours, "--warn-after-hours must be positive and at most --error-after-hours.");
        // 2. Read the bronze tables from the warehouse, and their comments from the source.
        String yaml = DbtSources.yaml(kit.openWarehouse(warehouse), bronze,
            noComments ? Optional.empty() : Optional.of(kit.settings(Role.SOURCE, source.url())),
            new DbtSources.Freshness(warnHours, errorHours), kit.run()::warn);
        // 3. Write sources.yml.
        if (output.toString().equals("-")) {
            kit.run().out().print(yaml);
            kit.run().out().flush();
        } else {
            try {
                Files.writeString(output, yaml);
            } catch (IOException e) {
                throw DatakitException.badInput("Cannot write " + output + ": " + e.getMessage() + ". Check --output.", e);
            }
            kit.run().out().println("bronze-dbt-sources: wrote " + output);
        }
    }

    public static void main(String... args) {
        exit(new BronzeDbtSources(), args);
    }
}
