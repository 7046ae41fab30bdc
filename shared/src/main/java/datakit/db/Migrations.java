package datakit.db;

import datakit.cli.DatakitException;
import datakit.cli.ExitCode;
import java.util.Arrays;
import java.util.List;
import javax.sql.DataSource;
import org.flywaydb.core.Flyway;
import org.flywaydb.core.api.MigrationInfo;
import org.flywaydb.core.api.output.MigrateResult;

/**
 * The bronze schema's migrations (Flyway, from {@code migrations/}): bookkeeping tables and views,
 * applied per bronze schema, so {@code bronze} and {@code raw_crm} each carry their own history.
 * Flyway serialises concurrent migrations with an advisory lock, so two datakits may start together.
 */
public final class Migrations {
    /** Where the build (Maven resources, JBang {@code //FILES}) puts {@code migrations/*.sql}. */
    public static final String LOCATION = "classpath:db/bronze";
    public static final String HISTORY_TABLE = "flyway_schema_history";

    private Migrations() {
    }

    /** Applies pending migrations to {@code schema}, creating it if needed; returns what was applied. */
    public static List<String> apply(DataSource warehouse, String schema) {
        try {
            MigrateResult result = flyway(warehouse, schema).migrate();
            return result.migrations.stream().map(m -> label(m.version, m.description)).toList();
        } catch (RuntimeException e) {
            throw new DatakitException(ExitCode.FAILED, "Applying the bronze migrations to schema %s failed: %s."
                .formatted(schema, SqlErrors.serverMessage(e)), e);
        }
    }

    /** Migrations not yet applied to {@code schema}; reads only. */
    public static List<String> pending(DataSource warehouse, String schema) {
        try {
            return Arrays.stream(flyway(warehouse, schema).info().pending()).map(Migrations::describe).toList();
        } catch (RuntimeException e) {
            throw new DatakitException(ExitCode.FAILED, "Reading the bronze migration history of schema %s failed: %s."
                .formatted(schema, SqlErrors.serverMessage(e)), e);
        }
    }

    private static String describe(MigrationInfo m) {
        return label(m.getVersion() == null ? null : m.getVersion().getVersion(), m.getDescription());
    }

    /** "V1 create bookkeeping tables", or "bronze views (repeatable)". */
    private static String label(String version, String description) {
        return version == null || version.isEmpty() ? description + " (repeatable)" : "V" + version + " " + description;
    }

    private static Flyway flyway(DataSource warehouse, String schema) {
        return Flyway.configure(Migrations.class.getClassLoader())
            .dataSource(warehouse)
            .schemas(schema)
            .defaultSchema(schema)
            .createSchemas(true)
            // A schema that already holds tables (created by hand, or by another tool) is adopted:
            // baselined below the first migration, so every migration still runs.
            .baselineOnMigrate(true)
            .baselineVersion("0")
            .table(HISTORY_TABLE)
            .locations(LOCATION)
            .validateMigrationNaming(true)
            .failOnMissingLocations(true)
            .load();
    }
}
