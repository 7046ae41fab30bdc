package datakit.testing;

import static org.assertj.core.api.Assertions.assertThat;

import datakit.cli.DatakitCommand;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Runs a datakit script from datakits/ in this JVM, as its main would, with a given environment, and
 * captures what it prints. The scripts are in the default package, so they are found by name.
 */
public final class Datakits {
    private Datakits() {
    }

    /** What a run printed and returned. */
    public record Run(int exitCode, String out, String err) {
        /** stdout and stderr together, for "never printed" checks. */
        public String all() {
            return out + "\n" + err;
        }

        @Override
        public String toString() {
            return "exit " + exitCode + "\n--- stdout\n" + out + "\n--- stderr\n" + err;
        }
    }

    /** The run failed as users are promised: {@code exitCode} and one {@code ERROR:} line on stderr containing {@code messageParts}. */
    public static void assertFailsWithOneLine(Run run, int exitCode, String... messageParts) {
        assertThat(run.exitCode()).as(run.toString()).isEqualTo(exitCode);
        assertThat(run.err()).as(run.toString()).startsWith("ERROR: ").contains(messageParts);
        assertThat(run.err().strip().lines().count()).as("one line: " + run.err()).isEqualTo(1);
    }

    public static Run run(String scriptClass, Map<String, String> env, String... args) {
        DatakitCommand command;
        try {
            // Scripts declare package-private classes, as JBang scripts usually do.
            var constructor = Class.forName(scriptClass).getDeclaredConstructor();
            constructor.setAccessible(true);
            command = (DatakitCommand) constructor.newInstance();
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("no datakit class " + scriptClass + " compiled from datakits/", e);
        }
        var out = new StringWriter();
        var err = new StringWriter();
        // No .env of the developer's leaks into tests unless a test names one.
        var variables = new HashMap<>(env);
        variables.putIfAbsent("HOME", System.getProperty("java.io.tmpdir"));
        String[] withEnvFile = args;
        if (!String.join(" ", args).contains("--env-file")) {
            withEnvFile = new String[args.length + 2];
            System.arraycopy(args, 0, withEnvFile, 0, args.length);
            withEnvFile[args.length] = "--env-file";
            withEnvFile[args.length + 1] = "/nonexistent/.env";
        }
        int code = DatakitCommand.execute(command, variables, new PrintWriter(out, true), new PrintWriter(err, true), withEnvFile);
        return new Run(code, out.toString(), err.toString());
    }

    /** Starts a datakit in its own JVM, as a scheduler would, with its output discarded. */
    public static Process start(String scriptClass, Map<String, String> env, String... args) throws IOException {
        return start(scriptClass, env, ProcessBuilder.Redirect.DISCARD, args);
    }

    /** Starts a datakit in its own JVM with its stdout and stderr written to {@code log}. */
    public static Process start(String scriptClass, Map<String, String> env, Path log, String... args) throws IOException {
        return start(scriptClass, env, ProcessBuilder.Redirect.to(log.toFile()), args);
    }

    private static Process start(String scriptClass, Map<String, String> env, ProcessBuilder.Redirect output, String... args)
            throws IOException {
        var command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
            "-cp", System.getProperty("java.class.path"), scriptClass));
        command.addAll(List.of(args));
        command.addAll(List.of("--env-file", "/nonexistent/.env"));
        var builder = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(output);
        builder.environment().putAll(env);
        return builder.start();
    }
}
