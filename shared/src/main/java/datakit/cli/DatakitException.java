package datakit.cli;

/**
 * A failure with a message written for the user (what failed, why, what to do) and the exit code it
 * maps to. The message is printed as one {@code ERROR:} line; the stack trace only with {@code --verbose}.
 */
public class DatakitException extends RuntimeException {
    private final ExitCode exitCode;

    public DatakitException(ExitCode exitCode, String message) {
        super(message);
        this.exitCode = exitCode;
    }

    public DatakitException(ExitCode exitCode, String message, Throwable cause) {
        super(message, cause);
        this.exitCode = exitCode;
    }

    /** Bad usage or configuration (exit 2). */
    public static DatakitException badInput(String format, Object... args) {
        return new DatakitException(ExitCode.BAD_INPUT, format.formatted(args));
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
}
