///usr/bin/env jbang "$0" "$@" ; exit $?
//DESCRIPTION Runs the streams of a job file (YAML or JSON) in dependency order, with bounded parallelism, and prints one summary
//JAVA 21+
//CDS
//SOURCES ../shared/library.java
//SOURCES PostgresExtract.java PostgresIncremental.java PostgresPartitioned.java PostgresJsonb.java PostgresCdc.java

import datakit.cli.Datakit;
import datakit.cli.DatakitCommand;
import datakit.error.DatakitException;
import datakit.error.ExitCode;
import datakit.jobs.JobFile;
import datakit.jobs.JobRunner;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.function.Supplier;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "bronze-jobs", mixinStandardHelpOptions = true, sortOptions = false,
    description = "Runs the streams of a job file in the order their depends_on give, at most --parallelism at a time, each in "
        + "this JVM; a stream that fails stops the streams that depend on it. $${NAME} references are resolved from the environment.",
    footer = "Example: jbang bronze-jobs@catalog --file jobs.yml")
class BronzeJobs extends DatakitCommand {
    /** The datakits a stream may name. */
    static final Map<String, Supplier<DatakitCommand>> DATAKITS = Map.of(
        "postgres-extract", PostgresExtract::new,
        "postgres-incremental", PostgresIncremental::new,
        "postgres-partitioned", PostgresPartitioned::new,
        "postgres-jsonb", PostgresJsonb::new,
        "postgres-cdc", PostgresCdc::new);

    @Option(names = "--file", paramLabel = "FILE", required = true, description = "The job file, YAML or JSON.")
    Path file;

    @Option(names = "--parallelism", paramLabel = "N", description = "Streams run at once (default: the file's parallelism, else 1).")
    Integer parallelism;

    @Override
    protected void run(Datakit kit) throws InterruptedException {
        // 1. Read and check the file: datakits, options, ${ENV} values, dependencies.
        DatakitException.check(parallelism == null || (parallelism >= 1 && parallelism <= JobFile.MAX_PARALLELISM),
            "--parallelism must be between 1 and %d, not %s.", JobFile.MAX_PARALLELISM, parallelism);
        Map<String, String> variables = processVariables();
        var jobs = JobFile.read(file, DATAKITS.keySet(), variables::get);
        // 2. Run each stream once the streams it depends on succeeded, in this JVM.
        var report = JobRunner.run(jobs, parallelism != null ? parallelism : jobs.parallelism(), stream -> launch(stream, variables, kit.run().dryRun()));
        // 3. One summary; exit 1 when a stream failed or was skipped.
        JobRunner.print(kit.run().out(), kit.run().json(), jobs, report);
        finishWith(JobRunner.allSucceeded(report) ? ExitCode.OK : ExitCode.FAILED);
    }

    /**
     * Runs a stream's datakit with the runner's environment plus the stream's (and --dry-run when the runner
     * has it); its output is kept, its last error line reported.
     */
    static JobRunner.Outcome launch(JobFile.Stream stream, Map<String, String> variables, boolean dryRun) {
        var environment = new HashMap<>(variables);
        // A stream's own URL must not be overridden, part by part, by SOURCE_PG_* or WAREHOUSE_PG_* of the runner.
        if (stream.environment().containsKey("SOURCE_DATABASE_URL")) {
            environment.keySet().removeIf(name -> name.startsWith("SOURCE_PG_"));
        }
        if (stream.environment().containsKey("WAREHOUSE_DATABASE_URL")) {
            environment.keySet().removeIf(name -> name.startsWith("WAREHOUSE_PG_"));
        }
        environment.putAll(stream.environment());
        var out = new StringWriter();
        var err = new StringWriter();
        long started = System.nanoTime();
        int code = execute(DATAKITS.get(stream.datakit()).get(), environment, new PrintWriter(out, true), new PrintWriter(err, true),
            withArguments(stream.arguments().toArray(String[]::new), dryRun ? new String[] {"--dry-run"} : new String[0]));
        return new JobRunner.Outcome(code, JobRunner.lastError(err.toString()), (System.nanoTime() - started) / 1_000_000);
    }

    public static void main(String... args) {
        exit(new BronzeJobs(), args);
    }
}
