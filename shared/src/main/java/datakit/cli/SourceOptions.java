package datakit.cli;

import picocli.CommandLine.Option;

/**
 * {@code --source}: the database to read. Each part not in the URL comes from {@code SOURCE_PG_*},
 * {@code SOURCE_DATABASE_URL}, the {@code .env} file, libpq's {@code PG*} variables and {@code ~/.pgpass}.
 */
public class SourceOptions {
    @Option(names = "--source", paramLabel = "URL",
        description = "Source database: postgresql://user@host:port/db?sslmode=... or jdbc:postgresql://... "
            + "Default: SOURCE_DATABASE_URL and SOURCE_PG_* (environment, then .env), then PGHOST, PGUSER... "
            + "Prefer the environment for passwords: other users can see command lines.")
    String url;

    public String url() {
        return url;
    }
}
