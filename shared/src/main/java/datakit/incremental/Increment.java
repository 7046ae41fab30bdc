package datakit.incremental;

import datakit.bronze.ConflictPolicy;
import datakit.source.Selection;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * What an incremental load follows and how: the table, its cursor column (none: xmin mode), the key that
 * orders ties and identifies rows (none: the primary key), where a first run starts, how far back each
 * run looks again for late commits, how many rows commit together, and what to do about conflicts,
 * vanished rows and unusable checkpoints.
 *
 * @param fullRefresh why this run must reload everything, when the user asked for it
 */
public record Increment(Selection selection, Optional<String> cursorField, List<String> keys, Optional<String> initialValue,
                        Optional<Duration> lookback, OptionalLong chunkRows, ConflictPolicy onConflict, boolean detectDeletes,
                        BadCheckpoint onBadCheckpoint, Optional<String> fullRefresh) {

    /** The same increment over {@code other} (the selection as a first plan of it resolved it). */
    Increment over(Selection other) {
        return new Increment(other, cursorField, keys, initialValue, lookback, chunkRows, onConflict, detectDeletes, onBadCheckpoint,
            fullRefresh);
    }

    /** What happens when the stored checkpoint cannot be used. */
    public enum BadCheckpoint {
        /** Stop with a message that says why (default). */
        FAIL,
        /** Reload the whole table, say so in the summary and extraction_runs, and go on from there. */
        FULL_REFRESH;

        public String label() {
            return name().toLowerCase(Locale.ROOT).replace('_', '-');
        }
    }

    public Increment {
        keys = List.copyOf(keys);
    }

    /** Whether rows are followed by transaction id instead of a cursor column. */
    public boolean xmin() {
        return cursorField.isEmpty();
    }
}
