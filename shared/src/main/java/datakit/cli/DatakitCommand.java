package datakit.cli;

import datakit.config.ConfigFile;
import datakit.config.ConnectionUrl;
import datakit.config.Environment;
import datakit.db.SqlErrors;
import datakit.error.DatakitException;
import datakit.error.ExitCode;
import datakit.report.Lineage;
import datakit.report.Metrics;
import datakit.report.Progress;
import datakit.report.RunContext;
import datakit.report.RunSummary;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParseResult;
import picocli.CommandLine.Spec;
import picocli.CommandLine;

/**
 * The base of every datakit: the common options ({@code --dry-run}, {@code --json}, {@code --verbose},
 * {@code --env-file}), defaults from the environment and {@code .env}, and one way to fail: a single
 * {@code ERROR:} line, a stack trace only with {@code --verbose}, and the exit code of {@link ExitCode}.
 */
@Command(versionProvider = DatakitCommand.Version.class)
public abstract class DatakitCommand implements Callable<Integer> {
    /** The project's version, printed by {@code --version}. */
    public static final String VERSION = "0.1.0";
    static {
        // Libraries (HikariCP, Flyway, jOOQ) log through slf4j-simple. Users get one ERROR line from the
        // datakit itself, so library logs (with their stack traces) only show with --verbose.
        System.setProperty("org.slf4j.simpleLogger.logFile", "System.err");
        if (System.getProperty("org.slf4j.simpleLogger.defaultLogLevel") == null) {
            System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "off");
        }
        // jOOQ's open-source dialect targets the newest PostgreSQL and warns about any older server;
        // the datakits use it for names and plain SQL, which work on every supported version.
        System.setProperty("org.slf4j.simpleLogger.log.org.jooq.impl.DefaultExecuteContext.logVersionSupport", "off");
    }

    @Spec
    CommandSpec spec;

    @Option(names = "--dry-run", description = "Print what would be done (SQL, row estimate, DDL) and write nothing anywhere.")
    boolean dryRun;

    @Option(names = "--json", description = "Print the summary (or the error) as one JSON object on stdout.")
    boolean json;

    @Option(names = {"-v", "--verbose"}, description = "Print more detail, and stack traces with errors.")
    boolean verbose;

    @Option(names = "--env-file", paramLabel = "FILE", defaultValue = ".env",
        description = "File of KEY=value defaults, read after the environment (default: ${DEFAULT-VALUE}).")
    Path envFile;

    @Option(names = "--metrics-file", paramLabel = "FILE", descriptionKey = "METRICS_FILE",
        description = "Write the run's figures (success, rows, bytes, duration; a slot's lag) in Prometheus' text format to this file, "
            + "for the node-exporter textfile collector; written even when the run fails.")
    Path metricsFile;

    @Option(names = "--lineage", paramLabel = "FILE|URL", descriptionKey = "OPENLINEAGE_URL",
        description = "Send OpenLineage run events (START, then COMPLETE or FAIL, with the source and bronze tables): appended to a "
            + "file as JSON lines, or POSTed to an http(s) URL such as http://marquez:5000/api/v1/lineage.")
    String lineage;

    @Option(names = "--lineage-namespace", paramLabel = "NAME", descriptionKey = "OPENLINEAGE_NAMESPACE", defaultValue = "bronze-datakits",
        description = "The OpenLineage job namespace (default: ${DEFAULT-VALUE}).")
    String lineageNamespace;

    @Option(names = "--config", paramLabel = "FILE",
        description = "YAML or JSON file of option values (cursor_field: updated_at, primary_key: [id], ...), read after the "
            + "environment and before .env.")
    Path config;

    private Environment environment;
    private Datakit kit;
    private ExitCode outcome = ExitCode.OK;

    /** The datakit's steps. Throw {@link DatakitException} for failures the user can act on. */
    protected abstract void run(Datakit kit) throws Exception;

    /** The process's variables, for a datakit that starts others (bronze-jobs). */
    protected Map<String, String> processVariables() {
        return environment.processVariables();
    }

    /**
     * Ends the run with {@code code} after it printed its own report: for tools whose finding is the
     * result (a health check that found a problem), not an error to print.
     */
    protected void finishWith(ExitCode code) {
        outcome = code;
    }

    @Override
    public final Integer call() throws Exception {
        if (verbose) {
            System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "info");
        }
        CommandLine cli = spec.commandLine();
        var run = new RunContext(spec.name(), UUID.randomUUID(), cli.getOut(), cli.getErr(), json, verbose, dryRun,
            !json && Progress.onTerminal());
        run.info("%s started %d ms after the JVM".formatted(spec.name(),
            System.currentTimeMillis() - java.lang.management.ManagementFactory.getRuntimeMXBean().getStartTime()));
        Lineage events = lineage == null ? null : new Lineage(lineage, lineageNamespace, jobName());
        if (events != null && !dryRun) {
            events.start(run);
        }
        try {
            // Options are checked before anything connects, but inside the run: a scheduler's metrics and
            // lineage then show a misconfigured job as failed, as they show any other failure.
            checkOptions();
            try (Datakit opened = new Datakit(run, environment)) {
                kit = opened;
                run(opened);
            }
        } catch (Exception e) {
            if (events != null && !dryRun) {
                events.end(run, false);
            }
            if (metricsFile != null && !dryRun) {
                try {
                    Metrics.write(metricsFile, run, false);
                } catch (RuntimeException unwritable) {
                    e.addSuppressed(unwritable);
                }
            }
            throw e;
        }
        if (events != null && !dryRun) {
            events.end(run, outcome == ExitCode.OK);
        }
        // The data is committed: a metrics file that cannot be written is a warning, never a failed run
        // (a scheduler would retry it, and an append would load twice). A dry run leaves the file alone.
        if (metricsFile != null && !dryRun) {
            try {
                Metrics.write(metricsFile, run, outcome == ExitCode.OK);
            } catch (RuntimeException unwritable) {
                run.warn(unwritable.getMessage());
            }
        }
        run.info("done");
        return outcome.code();
    }

    private void checkOptions() {
        for (CommandSpec mixin : spec.mixins().values()) {
            if (mixin.userObject() instanceof CheckedOptions options) {
                options.check();
            }
        }
    }

    /**
     * The lineage job's name: the datakit and what it loads (its --table, else --target-table, else
     * --slot), so every run of one stream is one job.
     */
    private String jobName() {
        for (String option : List.of("--table", "--target-table", "--slot")) {
            var spec = this.spec.findOption(option);
            Object value = spec == null ? null : spec.getValue();
            if (value instanceof List<?> list && !list.isEmpty()) {
                return this.spec.name() + "." + list.stream().map(String::valueOf).collect(java.util.stream.Collectors.joining(","));
            }
            if (value instanceof String text && !text.isBlank()) {
                return this.spec.name() + "." + text;
            }
        }
        return this.spec.name();
    }

    /**
     * {@code fixed} followed by the arguments given: how a script made for one table (from a catalog
     * template) pins its table and settings, while taking every other option.
     */
    public static String[] withArguments(String[] given, String... fixed) {
        String[] all = new String[fixed.length + given.length];
        System.arraycopy(fixed, 0, all, 0, fixed.length);
        System.arraycopy(given, 0, all, fixed.length, given.length);
        return all;
    }

    /** Runs the datakit as a program: the real environment, stdout and stderr, then exits. */
    public static void exit(DatakitCommand command, String... args) {
        var out = new PrintWriter(System.out, true);
        var err = new PrintWriter(System.err, true);
        System.exit(execute(command, System.getenv(), out, err, args));
    }

    /** Runs the datakit with the given environment variables and output; returns the exit code. */
    public static int execute(DatakitCommand command, Map<String, String> variables, PrintWriter out, PrintWriter err, String... args) {
        var cli = new CommandLine(command);
        String name = cli.getCommandName();
        try {
            Environment env = Environment.of(variables, fileArgument(args, "--env-file").orElse(Path.of(".env")));
            Optional<Path> configFile = fileArgument(args, "--config");
            if (configFile.isPresent()) {
                env = env.withConfig(ConfigFile.read(configFile.get()), configFile.get().toString());
                checkConfigKeys(cli, env, configFile.get());
            }
            command.environment = env;
        } catch (DatakitException e) {
            err.println("ERROR: " + e.getMessage());
            err.flush();
            return e.exitCode().code();
        }
        cli.setOut(out);
        cli.setErr(err);
        cli.setCaseInsensitiveEnumValuesAllowed(true);
        cli.setDefaultValueProvider(new EnvironmentDefaults(command.environment));
        cli.setParameterExceptionHandler((e, a) -> {
            // picocli echoes what it could not parse, which may be a URL with a password in it.
            String message = ConnectionUrl.maskText(e.getMessage().replaceAll("\\.?$", ".") + " See " + name + " --help.");
            if (java.util.Arrays.asList(a).contains("--json")) {
                out.println(failureJson(name, ExitCode.BAD_INPUT, message));
                out.flush();
            }
            err.println("ERROR: " + message);
            err.flush();
            return ExitCode.BAD_INPUT.code();
        });
        cli.setExecutionExceptionHandler((e, c, parsed) -> command.report(e, parsed, out, err));
        return cli.execute(args);
    }

    private int report(Exception e, ParseResult parsed, PrintWriter out, PrintWriter err) {
        DatakitException failure = e instanceof DatakitException known ? known
            : e instanceof java.sql.SQLException || e instanceof org.jooq.exception.DataAccessException
                ? SqlErrors.failure(spec.name(), e)
                : DatakitException.failed("unexpected %s: %s. Run again with --verbose for the stack trace, and please report it."
                    .formatted(e.getClass().getSimpleName(), e.getMessage()), e);
        String message = redact(failure.getMessage());
        if (json) {
            out.println(failureJson(spec.name(), failure.exitCode(), message));
            out.flush();
        }
        err.println("ERROR: " + message);
        if (verbose) {
            var trace = new java.io.StringWriter();
            e.printStackTrace(new PrintWriter(trace));
            err.print(redact(trace.toString()));
        }
        err.flush();
        return failure.exitCode().code();
    }

    /** Error text with URL passwords masked and every password this run resolved replaced: a last guard. */
    private String redact(String text) {
        String masked = ConnectionUrl.maskText(text);
        return kit == null ? masked : kit.redact(masked);
    }

    private static String failureJson(String datakit, ExitCode code, String message) {
        var map = new LinkedHashMap<String, Object>();
        map.put("status", "failed");
        map.put("datakit", datakit);
        map.put("exit_code", code.code());
        map.put("error", message);
        return RunSummary.toJson(map);
    }

    /** {@code --version}: the datakit, the project and the Java running it. */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            return new String[] {"${COMMAND-NAME} " + VERSION + " (PostgreSQL bronze datakits), Java " + Runtime.version()};
        }
    }

    /** {@code --env-file} and {@code --config} must be known before parsing, since they feed the option defaults. */
    private static Optional<Path> fileArgument(String[] args, String option) {
        for (int i = 0; i < args.length; i++) {
            if (args[i].equals(option) && i + 1 < args.length) {
                return Optional.of(Path.of(args[i + 1]));
            }
            if (args[i].startsWith(option + "=")) {
                return Optional.of(Path.of(args[i].substring(option.length() + 1)));
            }
        }
        return Optional.empty();
    }

    /** A key no option reads is a typo: say so rather than ignore it. */
    private static void checkConfigKeys(CommandLine cli, Environment env, Path file) {
        List<String> known = cli.getCommandSpec().options().stream().map(o -> o.descriptionKey())
            .filter(k -> !k.isEmpty() && !k.contains(".")).toList();
        for (String key : env.configKeys()) {
            DatakitException.check(known.contains(key), "%s: unknown key %s. This datakit reads: %s.", file,
                key.toLowerCase(java.util.Locale.ROOT), String.join(", ", ConfigFile.keysOf(known)));
        }
    }
}
