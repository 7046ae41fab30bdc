///usr/bin/env jbang "$0" "$@" ; exit $?
//DESCRIPTION Create or upgrade bronze schemas and their bookkeeping tables (Flyway migrations)
//JAVA 21+
//CDS
//SOURCES ../shared/library.java

import datakit.cli.Datakit;
import datakit.cli.DatakitCommand;
import datakit.cli.WarehouseOptions;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "bronze-migrate", mixinStandardHelpOptions = true, sortOptions = false,
    description = "Applies pending migrations to bronze schemas; datakits also do this before they write.",
    footer = "Example: jbang bronze-migrate@catalog --target-schema bronze,raw_crm")
class BronzeMigrate extends DatakitCommand {
    @Mixin WarehouseOptions warehouse;    // --target, or WAREHOUSE_DATABASE_URL / WAREHOUSE_PG_*

    @Option(names = "--target-schema", split = ",", paramLabel = "SCHEMA", descriptionKey = "BRONZE_SCHEMA", defaultValue = "bronze",
        description = "Bronze schemas to migrate, comma-separated (default: BRONZE_SCHEMA, else ${DEFAULT-VALUE}).")
    List<String> schemas;

    @Override
    protected void run(Datakit kit) {
        // 1. Connect to the warehouse (read-only with --dry-run).
        var bronze = kit.bronzeSchemas(warehouse);
        // 2. Apply each schema's pending migrations, or list them with --dry-run.
        bronze.migrate(schemas);
    }

    public static void main(String... args) {
        exit(new BronzeMigrate(), args);
    }
}
