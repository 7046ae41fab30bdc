///usr/bin/env jbang "$0" "$@" ; exit $?
//DESCRIPTION Lists a source database's schemas, tables and columns, keys, estimates, partitioning and candidate cursor columns
//JAVA 21+
//CDS
//SOURCES ../shared/library.java

import datakit.cli.Datakit;
import datakit.cli.DatakitCommand;
import datakit.cli.SourceOptions;
import datakit.error.DatakitException;
import datakit.ops.DiscoveredJobs;
import datakit.ops.Discovery;
import datakit.sql.Identifiers;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "postgres-discover", mixinStandardHelpOptions = true, sortOptions = false,
    description = "Shows what a source database holds, from its catalog (no table is read): tables, views and materialized views "
        + "with their columns and types, primary keys, row and size estimates, partitioning, and the columns an incremental load "
        + "could follow; or writes them as a bronze-jobs file, a stream per table.",
    footer = {"Example: jbang postgres-discover@catalog --schema sales --json",
        "         jbang postgres-discover@catalog --schema sales --emit-jobs jobs.yml"})
class PostgresDiscover extends DatakitCommand {
    @Mixin SourceOptions source;   // --source, or SOURCE_DATABASE_URL / SOURCE_PG_*

    @Option(names = "--schema", split = ",", paramLabel = "SCHEMA", description = "Schemas to list (default: all but the system ones).")
    List<String> schemas = new ArrayList<>();

    @Option(names = "--emit-jobs", paramLabel = "FILE", description = "Write a bronze-jobs file instead: a stream per table, with the "
        + "datakit and cursor chosen by the rule in docs/operations.md and comments saying why (- for stdout).")
    Path emitJobs;

    @Option(names = "--force", description = "With --emit-jobs: replace the file if it exists.")
    boolean force;

    @Override
    protected void run(Datakit kit) {
        // 1. Which schemas: names as the catalog stores them; a job file already there is kept unless --force.
        List<String> names = schemas.stream().map(s -> Identifiers.one(s, "--schema")).toList();
        DatakitException.check(emitJobs != null || !force, "--force replaces the file of --emit-jobs; give --emit-jobs FILE, or leave out --force.");
        if (emitJobs != null) {
            DiscoveredJobs.checkTarget(emitJobs, force);
        }
        // 2. Read the source's catalog, read-only.
        var database = kit.openSource(source);
        var tables = Discovery.tables(database, names);
        // 3. Print the tables found (blocks for people, or one JSON object), or write them as a job file.
        if (emitJobs == null) {
            Discovery.print(kit.run().out(), kit.run().json(), database, tables);
        } else {
            DiscoveredJobs.emit(kit.run(), emitJobs, force, database, names, tables);
        }
    }

    public static void main(String... args) {
        exit(new PostgresDiscover(), args);
    }
}
