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

    @Option(names = "--enable-row-security", descriptionKey = "ENABLE_ROW_SECURITY",
        description = "Load only the rows the source's row-level security policies let the source user see; the run says so in its "
            + "summary. Without it, a read that a policy would filter fails (as with pg_dump).")
    boolean enableRowSecurity;

    public String url() {
        return url;
    }

    /** Whether reads may be filtered by row-level security policies ({@code --enable-row-security}). */
    public boolean rowSecurity() {
        return enableRowSecurity;
    }
}
