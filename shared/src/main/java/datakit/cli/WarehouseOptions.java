package datakit.cli;

import picocli.CommandLine.Option;

/**
 * {@code --target}: the warehouse database that holds the bronze schema. Parts not in the URL come from
 * {@code WAREHOUSE_PG_*}, {@code WAREHOUSE_DATABASE_URL}, the {@code .env} file and libpq's defaults.
 */
public class WarehouseOptions {
    @Option(names = "--target", paramLabel = "URL",
        description = "Warehouse database: postgresql://user@host:port/db or jdbc:postgresql://... "
            + "Default: WAREHOUSE_DATABASE_URL and WAREHOUSE_PG_* (environment, then .env), then PGHOST, PGUSER...")
    String url;

    public String url() {
        return url;
    }
}
