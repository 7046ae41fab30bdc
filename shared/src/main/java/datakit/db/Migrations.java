package datakit.db;

import datakit.config.Role;
import datakit.error.DatakitException;
import datakit.error.ExitCode;
import datakit.sql.Sql;
import datakit.sql.TableRef;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.TreeMap;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import java.util.stream.Stream;
import javax.sql.DataSource;
import org.flywaydb.core.Flyway;
import org.flywaydb.core.api.MigrationInfo;
import org.flywaydb.core.api.output.MigrateResult;
import org.jooq.impl.DSL;

/**
 * The bronze schema's migrations (Flyway, from {@code migrations/}): bookkeeping tables and views,
 * applied per bronze schema, so {@code bronze} and {@code raw_crm} each carry their own history.
 * Flyway serialises concurrent migrations with an advisory lock, so two datakits may start together.
 */
public final class Migrations {
    /** Where the build (Maven resources, JBang {@code //FILES}) puts {@code migrations/*.sql}. */
    private static final String RESOURCES = "db/bronze";
    public static final String LOCATION = "classpath:" + RESOURCES;
    public static final String HISTORY_TABLE = "flyway_schema_history";

    private Migrations() {
    }

    /**
     * Applies pending migrations to {@code schema}, creating it if needed; returns what was applied.
     * A schema migrated by this very set of files is recognised by a fingerprint in its history table's
     * comment, and Flyway is not started at all: it costs a fifth of a second on every scheduled run. That check
     * takes a connection of the run's pool (one login less per run); Flyway gets connections of its own.
     */
    public static List<String> apply(Database warehouse, String schema) {
        String history = TableRef.of(schema, HISTORY_TABLE).sql();
        Optional<String> fingerprint = fingerprint();
        Optional<Schema> found = schema(warehouse, schema);
        found.ifPresent(Schema::checkRights);
        try {
            if (fingerprint.isPresent() && fingerprint.equals(found.flatMap(Schema::comment))) {
                return List.of();
            }
            DataSource migrating = warehouse.dataSource();
            MigrateResult result = flyway(migrating, schema).migrate();
            fingerprint.ifPresent(f -> remember(migrating, history, f));
            return result.migrations.stream().map(m -> label(m.version, m.description)).toList();
        } catch (RuntimeException e) {
            String grant = "42501".equals(SqlErrors.sqlState(e)) ? found.flatMap(s -> Grants.fix(e, Role.WAREHOUSE,
                s.user(), Optional.empty())).map(g -> " Grant it on the warehouse: " + g).orElse("") : "";
            throw new DatakitException(grant.isEmpty() ? ExitCode.FAILED : ExitCode.BAD_INPUT,
                "Applying the bronze migrations to schema %s failed: %s.%s".formatted(schema, SqlErrors.serverMessage(e), grant), e);
        }
    }

    /**
     * The bronze schema as the warehouse user finds it: whether it exists, the user's rights on it (and on
     * the database, to create it), and the history table's comment.
     */
    private record Schema(String name, String user, String database, boolean exists, boolean createInDatabase, boolean usage,
                          boolean create, Optional<String> comment) {

        /** Fails before any work, naming the GRANT to run, where the user could not create the schema or tables in it. */
        void checkRights() {
            String role = TableRef.display(user);
            String quoted = TableRef.display(name);
            DatakitException.check(exists || createInDatabase, "The warehouse user %s may not create the bronze schema %s in database %s. "
                + "As the database's owner or a superuser, run GRANT CREATE ON DATABASE %s TO %s; or create the schema for it: "
                + "CREATE SCHEMA %s AUTHORIZATION %s;", user, quoted, database, TableRef.display(database), role, quoted, role);
            DatakitException.check(!exists || usage && create, "The warehouse user %s may not create tables in the bronze schema %s, "
                + "which bronze and its bookkeeping need. As the schema's owner or a superuser, run GRANT USAGE, CREATE ON SCHEMA %s TO %s;",
                user, quoted, quoted, role);
        }
    }

    private static Optional<Schema> schema(Database warehouse, String schema) {
        try (Connection connection = warehouse.connect()) {
            return Optional.of(Sql.using(connection).resultQuery("""
                    SELECT current_user::text, current_database()::text, n.oid IS NOT NULL,
                           pg_catalog.has_database_privilege(current_database(), 'CREATE'),
                           n.oid IS NOT NULL AND pg_catalog.has_schema_privilege(n.oid, 'USAGE'),
                           n.oid IS NOT NULL AND pg_catalog.has_schema_privilege(n.oid, 'CREATE'),
                           (SELECT pg_catalog.obj_description(c.oid, 'pg_class') FROM pg_catalog.pg_class c
                            WHERE c.relnamespace = n.oid AND c.relname = ?)
                    FROM (SELECT 1) AS one LEFT JOIN pg_catalog.pg_namespace n ON n.nspname = ?""", HISTORY_TABLE, schema)
                .fetchOne(r -> new Schema(schema, r.get(0, String.class), r.get(1, String.class), r.get(2, Boolean.class),
                    r.get(3, Boolean.class), r.get(4, Boolean.class), r.get(5, Boolean.class), Optional.ofNullable(r.get(6, String.class)))));
        } catch (SQLException | RuntimeException e) {
            // Flyway then meets the same problem and says what it is.
            return Optional.empty();
        }
    }

    /** Migrations not yet applied to {@code schema}; reads only. */
    public static List<String> pending(DataSource warehouse, String schema) {
        try {
            return Arrays.stream(flyway(warehouse, schema).info().pending()).map(Migrations::describe).toList();
        } catch (RuntimeException e) {
            throw DatakitException.failed("Reading the bronze migration history of schema %s failed: %s."
                .formatted(schema, SqlErrors.serverMessage(e)), e);
        }
    }

    private static void remember(DataSource warehouse, String history, String fingerprint) {
        try (Connection connection = warehouse.getConnection()) {
            Sql.using(connection).execute("COMMENT ON TABLE " + history + " IS " + Sql.inline(DSL.inline(fingerprint)));
        } catch (SQLException | RuntimeException e) {
            // Not the table's owner: Flyway then simply checks on every run.
        }
    }

    /** SHA-256 over the names and contents of the migrations on the class path, or empty if they cannot be listed. */
    static Optional<String> fingerprint() {
        try {
            var files = new TreeMap<String, byte[]>();
            Path location = Path.of(Migrations.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            if (Files.isDirectory(location)) {
                try (Stream<Path> paths = Files.list(location.resolve(RESOURCES))) {
                    for (Path file : paths.toList()) {
                        files.put(file.getFileName().toString(), Files.readAllBytes(file));
                    }
                }
            } else {
                try (JarFile jar = new JarFile(location.toFile())) {
                    for (JarEntry entry : java.util.Collections.list(jar.entries())) {
                        if (entry.getName().startsWith(RESOURCES + "/") && !entry.isDirectory()) {
                            files.put(entry.getName().substring(RESOURCES.length() + 1), jar.getInputStream(entry).readAllBytes());
                        }
                    }
                }
            }
            if (files.isEmpty()) {
                return Optional.empty();
            }
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            files.forEach((name, content) -> {
                sha.update(name.getBytes(StandardCharsets.UTF_8));
                sha.update(content);
            });
            return Optional.of("datakit migrations " + HexFormat.of().formatHex(sha.digest()));
        } catch (IOException | URISyntaxException | NoSuchAlgorithmException | RuntimeException e) {
            return Optional.empty();
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
            .dataSource(PoolSafeDataSource.around(warehouse))
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
