package datakit.sandbox;

import datakit.error.DatakitException;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * One run of a program the sandbox needs (initdb, pg_ctl, pg_config, id), with its output captured and
 * a time limit, so a stuck program fails with its own words instead of hanging the demo or a test run.
 */
final class ExternalCommand {
    /** Lines of output quoted in an error: enough for PostgreSQL's reason, short enough to read. */
    static final int QUOTED_LINES = 20;

    private ExternalCommand() {
    }

    /** What a finished program printed (stdout and stderr interleaved) and how it exited. */
    record Result(String program, int exitCode, String output) {
        boolean succeeded() {
            return exitCode == 0;
        }

        /** Fails with the program's name, exit code and last lines of output, then {@code whatToDo}. */
        Result orFail(String whatToDo) {
            if (!succeeded()) {
                throw DatakitException.notReady("%s exited with code %d.%s%n%s".formatted(
                    program, exitCode, quote("Its output", output), whatToDo));
            }
            return this;
        }
    }

    /** Runs the command; messages name it by its first word's file name. */
    static Result run(List<String> command, Path workDir, Duration timeout) {
        return run(Path.of(command.getFirst()).getFileName().toString(), command, workDir, timeout);
    }

    /**
     * Runs the command in {@code workDir} and waits at most {@code timeout}; on expiry the program and its
     * children are killed and the run fails. A program that cannot be started fails too. {@code program}
     * names it in messages, which matters when the command is wrapped in runuser or su.
     */
    static Result run(String program, List<String> command, Path workDir, Duration timeout) {
        Process process = startProcess(command, workDir);
        var output = new ByteArrayOutputStream();
        Thread reader = Thread.ofVirtual().start(() -> copy(process, output));
        try {
            if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                process.descendants().forEach(ProcessHandle::destroyForcibly);
                process.destroyForcibly();
                reader.join(Duration.ofSeconds(2));
                throw DatakitException.notReady("%s did not finish within %d s and was stopped.%s%n%s"
                    .formatted(program, timeout.toSeconds(), quote("Its output so far", text(output)),
                        "Check that the machine is not overloaded and that this runs by hand: " + String.join(" ", command)));
            }
            reader.join(Duration.ofSeconds(5));
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for " + program, e);
        }
        return new Result(program, process.exitValue(), text(output));
    }

    private static Process startProcess(List<String> command, Path workDir) {
        try {
            return new ProcessBuilder(command)
                .directory(workDir == null ? null : workDir.toFile())
                .redirectErrorStream(true)
                // No program here reads input; one that tried must not wait for a terminal.
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .start();
        } catch (IOException e) {
            throw DatakitException.notReady("Cannot run %s: %s. Check that it is installed and executable."
                .formatted(command.getFirst(), e.getMessage()), e);
        }
    }

    private static void copy(Process process, ByteArrayOutputStream output) {
        try (var in = process.getInputStream()) {
            byte[] buffer = new byte[8192];
            for (int n; (n = in.read(buffer)) >= 0; ) {
                synchronized (output) {
                    output.write(buffer, 0, n);
                }
            }
        } catch (IOException e) {
            // The process was killed or closed its output; what was read so far is kept.
        }
    }

    private static String text(ByteArrayOutputStream output) {
        synchronized (output) {
            return output.toString(StandardCharsets.UTF_8);
        }
    }

    /** A new line, "{label} (last 20 lines):" and the lines indented; "" when there is nothing to quote. */
    static String quote(String label, String output) {
        List<String> lines = output.lines().filter(line -> !line.isBlank()).toList();
        if (lines.isEmpty()) {
            return "";
        }
        List<String> tail = lines.subList(Math.max(0, lines.size() - QUOTED_LINES), lines.size());
        String shown = lines.size() > QUOTED_LINES ? " (last %d lines)".formatted(QUOTED_LINES) : "";
        return "%n%s%s:%n  %s".formatted(label, shown, String.join(System.lineSeparator() + "  ", tail));
    }

    /** The last lines of a file such as server.log, for an error message; "" when it cannot be read. */
    static String quoteFile(String label, Path file) {
        try {
            return Files.isReadable(file) ? quote(label + " " + file, Files.readString(file)) : "";
        } catch (IOException | UncheckedIOException e) {
            return "";
        }
    }

    /** The program's executable file on PATH, if any. */
    static Optional<Path> onPath(String program) {
        String path = System.getenv("PATH");
        if (path == null) {
            return Optional.empty();
        }
        return Arrays.stream(path.split(File.pathSeparator))
            .filter(dir -> !dir.isBlank())
            .map(dir -> Path.of(dir, program))
            .filter(Files::isExecutable)
            .findFirst();
    }

    /** The argument quoted for /bin/sh: inside single quotes, where only ' itself needs escaping. */
    static String shellQuote(String argument) {
        return "'" + argument.replace("'", "'\\''") + "'";
    }
}
