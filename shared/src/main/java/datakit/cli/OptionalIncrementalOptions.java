package datakit.cli;

/**
 * The options of {@link IncrementalOptions} for a datakit that runs full extracts unless asked otherwise:
 * it loads incrementally when a cursor or a sync mode is given (by flag, environment or config file), and
 * only then checks the other incremental options.
 */
public class OptionalIncrementalOptions extends IncrementalOptions {
    /** Whether an incremental load was asked for. */
    public boolean requested() {
        return cursorField != null || syncMode != null;
    }

    @Override
    public void check() {
        if (requested()) {
            super.check();
        }
    }
}
