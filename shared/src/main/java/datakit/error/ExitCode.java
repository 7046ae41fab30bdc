package datakit.error;

/**
 * The process exit codes every datakit uses, so schedulers can tell a bad invocation from a failed run.
 */
public enum ExitCode {
    /** The run did what was asked. */
    OK(0),
    /** The run failed at run time (connection lost, server error); a later run may succeed. */
    FAILED(1),
    /** Bad usage or configuration: fix the command line, environment or .env, then run again. */
    BAD_INPUT(2),
    /** A database is not in the state the datakit needs (another run holds the stream, a dependent view). */
    NOT_READY(3);

    private final int code;

    ExitCode(int code) {
        this.code = code;
    }

    public int code() {
        return code;
    }
}
