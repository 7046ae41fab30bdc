package datakit.error;

import java.util.Map;

/**
 * A failure with a message written for the user (what failed, why, what to do) and the exit code it
 * maps to. The message is printed as one {@code ERROR:} line; the stack trace only with {@code --verbose}.
 */
public class DatakitException extends RuntimeException {
    private final ExitCode exitCode;
    private final Map<String, Object> details;

    public DatakitException(ExitCode exitCode, String message) {
        this(exitCode, message, Map.of());
    }

    /** A failure with facts the failed run records in its details (extraction_runs), beside the message. */
    public DatakitException(ExitCode exitCode, String message, Map<String, Object> details) {
        super(message);
        this.exitCode = exitCode;
        this.details = Map.copyOf(details);
    }

    public DatakitException(ExitCode exitCode, String message, Throwable cause) {
        super(message, cause);
        this.exitCode = exitCode;
        this.details = Map.of();
    }

    /** Bad usage or configuration (exit 2); {@code format} as {@link String#formatted}. */
    public static DatakitException badInput(String format, Object... args) {
        return new DatakitException(ExitCode.BAD_INPUT, format.formatted(args));
    }

    /** Bad usage or configuration (exit 2) that a server's answer showed: {@code message} as it is, never formatted. */
    public static DatakitException badInput(String message, Throwable cause) {
        return new DatakitException(ExitCode.BAD_INPUT, message, cause);
    }

    /** A failure at run time (exit 1); a later run may succeed. */
    public static DatakitException failed(String message) {
        return new DatakitException(ExitCode.FAILED, message);
    }

    /** A failure at run time (exit 1) caused by {@code cause}; a later run may succeed. */
    public static DatakitException failed(String message, Throwable cause) {
        return new DatakitException(ExitCode.FAILED, message, cause);
    }

    /** A database is not in the state the run needs (exit 3): another run holds the stream, a view depends on a table. */
    public static DatakitException notReady(String message) {
        return new DatakitException(ExitCode.NOT_READY, message);
    }

    /** A database is not in the state the run needs (exit 3), as {@code cause} showed. */
    public static DatakitException notReady(String message, Throwable cause) {
        return new DatakitException(ExitCode.NOT_READY, message, cause);
    }

    /** Fails with a bad-input error unless the condition holds. */
    public static void check(boolean condition, String format, Object... args) {
        if (!condition) {
            throw badInput(format, args);
        }
    }

    public ExitCode exitCode() {
        return exitCode;
    }

    /** Facts for the failed run's details, beside its one-line error. */
    public Map<String, Object> details() {
        return details;
    }
}
