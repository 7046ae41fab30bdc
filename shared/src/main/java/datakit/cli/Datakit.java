package datakit.cli;

import datakit.cdc.CdcExtract;
import datakit.cdc.ReplicationProbe;
import datakit.config.ConnectionResolver;
import datakit.config.ConnectionSettings;
import datakit.config.ConnectionUrl;
import datakit.config.Environment;
import datakit.config.PgParam;
import datakit.config.Role;
import datakit.db.Database.Access;
import datakit.db.Database;
import datakit.error.DatakitException;
import datakit.full.FullExtract;
import datakit.incremental.IncrementalExtract;
import datakit.partitioned.PartitionedExtract;
import datakit.report.RunContext;
import datakit.run.BronzeSchemas;
import datakit.tableset.TableSets;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HashSet;
import java.util.Optional;
import java.util.Set;

/**
 * What a datakit script works with: connections opened from the options and environment, the
 * extraction modes, and the run's output. Everything it opens is closed when the run ends.
 */
public final class Datakit implements AutoCloseable {
    private final RunContext run;
    private final Environment env;
    private final Deque<AutoCloseable> resources = new ArrayDeque<>();
    private final Set<String> secrets = new HashSet<>();

    Datakit(RunContext run, Environment env) {
        this.run = run;
        this.env = env;
    }

    /**
     * A full extract from the source to the warehouse that reads a big table in {@code --parallelism} block ranges at once,
     * with room in both pools for them.
     */
    public FullExtract fullExtract(SourceOptions source, WarehouseOptions warehouse, SetOptions set) {
        ConnectionSettings sourceSettings = settings(Role.SOURCE, source.url()).withRowSecurity(source.rowSecurity())
            .withPoolReadyFor(set.parallelism());
        ConnectionSettings warehouseSettings = settings(Role.WAREHOUSE, warehouse.url()).withPoolReadyFor(set.parallelism());
        Database from = open(sourceSettings, Access.READ_ONLY);
        Database to = open(warehouseSettings, run.dryRun() ? Access.READ_ONLY : Access.READ_WRITE);
        return new FullExtract(run, from, to, Optional.empty(), set.splitting());
    }

    /** A full extract from the source to the warehouse (read-only on both with {@code --dry-run}). */
    public FullExtract fullExtract(SourceOptions source, WarehouseOptions warehouse) {
        ConnectionSettings sourceSettings = settings(Role.SOURCE, source.url()).withRowSecurity(source.rowSecurity());
        ConnectionSettings warehouseSettings = settings(Role.WAREHOUSE, warehouse.url());
        Database from = open(sourceSettings, Access.READ_ONLY);
        Database to = open(warehouseSettings, run.dryRun() ? Access.READ_ONLY : Access.READ_WRITE);
        return new FullExtract(run, from, to);
    }

    /**
     * Loads over a set of tables, with room in both pools for {@code --parallelism} tables, the block ranges of one big table
     * beside them, and the session that holds the set's snapshot (or the set's own records).
     */
    public TableSets tableSets(SourceOptions source, WarehouseOptions warehouse, SetOptions set) {
        ConnectionSettings sourceSettings = settings(Role.SOURCE, source.url()).withRowSecurity(source.rowSecurity())
            .withPoolReadyFor(2 * set.parallelism());
        ConnectionSettings warehouseSettings = settings(Role.WAREHOUSE, warehouse.url()).withPoolReadyFor(2 * set.parallelism());
        Database from = open(sourceSettings, Access.READ_ONLY);
        Database to = open(warehouseSettings, run.dryRun() ? Access.READ_ONLY : Access.READ_WRITE);
        return new TableSets(run, from, to, set.parallelism(), set.splitting(), set.restart());
    }

    /** An incremental load from the source to the warehouse (read-only on both with {@code --dry-run}). */
    public IncrementalExtract incrementalExtract(SourceOptions source, WarehouseOptions warehouse) {
        ConnectionSettings sourceSettings = settings(Role.SOURCE, source.url()).withRowSecurity(source.rowSecurity());
        ConnectionSettings warehouseSettings = settings(Role.WAREHOUSE, warehouse.url());
        Database from = open(sourceSettings, Access.READ_ONLY);
        Database to = open(warehouseSettings, run.dryRun() ? Access.READ_ONLY : Access.READ_WRITE);
        return new IncrementalExtract(run, from, to);
    }

    /**
     * A partitioned extract from the source to the warehouse, with room in the source's pool for {@code parallelism}
     * workers and the session that holds the shared snapshot, and in the warehouse's for the workers (the stream's lock
     * has a connection of its own).
     */
    public PartitionedExtract partitionedExtract(SourceOptions source, WarehouseOptions warehouse, PartitionOptions partitions) {
        ConnectionSettings sourceSettings = settings(Role.SOURCE, source.url()).withRowSecurity(source.rowSecurity())
            .withPoolReadyFor(partitions.parallelism() + 1);
        ConnectionSettings warehouseSettings = settings(Role.WAREHOUSE, warehouse.url()).withPoolReadyFor(partitions.parallelism());
        Database from = open(sourceSettings, Access.READ_ONLY);
        Database to = open(warehouseSettings, run.dryRun() ? Access.READ_ONLY : Access.READ_WRITE);
        return new PartitionedExtract(run, from, to);
    }

    /**
     * A change data capture from the source's logical replication into the warehouse. The environment
     * variable DATAKIT_FAULT_HALT_AFTER_COMMIT is a fault injection for the crash tests: the process ends
     * right after its first warehouse commit, before the slot hears of it.
     */
    public CdcExtract cdcExtract(SourceOptions source, WarehouseOptions warehouse) {
        DatakitException.check(!source.rowSecurity(), "postgres-cdc captures every change the slot decodes, which row-level security "
            + "does not filter, so --enable-row-security would filter its snapshot only. Leave it out, and capture as a role the "
            + "policies do not apply to (the tables' owner, or one with BYPASSRLS).");
        ConnectionSettings sourceSettings = settings(Role.SOURCE, source.url());
        ConnectionSettings warehouseSettings = settings(Role.WAREHOUSE, warehouse.url());
        // A pooler refuses the replication connection only: find out before anything is opened or created.
        ReplicationProbe replication = ReplicationProbe.open(sourceSettings);
        Database from = open(sourceSettings, Access.READ_ONLY);
        Database to = open(warehouseSettings, run.dryRun() ? Access.READ_ONLY : Access.READ_WRITE);
        return new CdcExtract(run, from, to, replication, env.get("DATAKIT_FAULT_HALT_AFTER_COMMIT").isPresent());
    }

    /** The bronze schemas of the warehouse, for migrating them on demand. */
    public BronzeSchemas bronzeSchemas(WarehouseOptions warehouse) {
        return new BronzeSchemas(run, openWarehouse(warehouse));
    }

    /** The source alone, read-only, for tools that only look at it (discovery). */
    public Database openSource(SourceOptions source) {
        return open(settings(Role.SOURCE, source.url()).withRowSecurity(source.rowSecurity()), Access.READ_ONLY);
    }

    /** The warehouse alone, for tools that only manage bronze (migrations, health). */
    public Database openWarehouse(WarehouseOptions warehouse) {
        return open(settings(Role.WAREHOUSE, warehouse.url()), run.dryRun() ? Access.READ_ONLY : Access.READ_WRITE);
    }

    /** Resolves a database's settings from a URL flag (or null), the environment and .env. */
    public ConnectionSettings settings(Role role, String urlFlag) {
        if (urlFlag != null && ConnectionUrl.parse(urlFlag, role.urlFlag()).params().containsKey(PgParam.PASSWORD)) {
            run.warn("the password in " + role.urlFlag() + " is visible to other users of this machine; prefer "
                + role.urlVariable() + " or " + role.variable("password") + " in the environment or .env");
        }
        ConnectionSettings settings = new ConnectionResolver(env, run::warn).resolve(role, urlFlag, run.datakit());
        if (settings.password() != null) {
            secrets.add(settings.password().value());
        }
        run.info(role.label() + ": " + settings.username() + "@" + settings.describe() + " (sslmode " + settings.sslmode() + ")");
        run.outcome().databases().put(role.label(), settings.describe());
        return settings;
    }

    private Database open(ConnectionSettings settings, Access access) {
        long started = System.nanoTime();
        Database database = closeAtEnd(Database.open(settings, access));
        run.info("connected to the %s in %d ms".formatted(settings.role().label(), (System.nanoTime() - started) / 1_000_000));
        return database;
    }

    /** Registers something to close when the run ends, last opened first closed. */
    public <T extends AutoCloseable> T closeAtEnd(T resource) {
        resources.push(resource);
        return resource;
    }

    public RunContext run() {
        return run;
    }

    /** {@code text} with every password this run knows replaced by ****: a last guard on error output. */
    String redact(String text) {
        String redacted = text;
        for (String secret : secrets) {
            if (!secret.isEmpty()) {
                redacted = redacted.replace(secret, "****");
            }
        }
        return redacted;
    }

    @Override
    public void close() {
        while (!resources.isEmpty()) {
            try {
                resources.pop().close();
            } catch (Exception e) {
                run.info("closing: " + e.getMessage());
            }
        }
    }
}
