package datakit.cli;

import datakit.error.DatakitException;
import java.util.ArrayList;
import java.util.List;

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
            return;
        }
        var given = new ArrayList<String>();
        addIf(given, primaryKey != null, "--primary-key");
        addIf(given, initialValue != null, "--initial-value");
        addIf(given, lookback != null, "--lookback");
        addIf(given, chunkRows != null, "--chunk-rows");
        addIf(given, detectDeletes, "--detect-deletes");
        addIf(given, fullRefresh, "--full-refresh");
        DatakitException.check(given.isEmpty(), "%s load incrementally, and no cursor is given. Add --cursor-field (or --sync-mode "
            + "xmin), or leave them out for a full extract.", String.join(", ", given));
    }

    private static void addIf(List<String> given, boolean set, String option) {
        if (set) {
            given.add(option);
        }
    }
}
