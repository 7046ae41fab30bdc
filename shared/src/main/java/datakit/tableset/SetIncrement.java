package datakit.tableset;

import datakit.bronze.ConflictPolicy;
import datakit.incremental.Increment;
import datakit.source.Selection;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * What every table of a set follows when it is loaded incrementally: the cursor named for the tables that have that column, or
 * xmin for all of them ({@code --sync-mode xmin}); and the options that are no one table's (lookback, chunks, conflicts,
 * deletes, unusable checkpoints, a full refresh), the same for each. A key or a first cursor value belongs to one table, so a
 * set has none: each table is merged by its own primary key and read from its first row.
 *
 * @param fullRefresh why every table must be reloaded this run, when the user asked for it
 */
public record SetIncrement(Optional<String> cursorField, boolean xmin, Optional<Duration> lookback, OptionalLong chunkRows,
                           ConflictPolicy onConflict, boolean detectDeletes, Increment.BadCheckpoint onBadCheckpoint,
                           Optional<String> fullRefresh) {

    /** The increment of one table: its read, the cursor chosen for it (none: xmin), and the lookback its rule adds when none was given. */
    Increment of(Selection read, Optional<String> cursor, Optional<Duration> ruleLookback) {
        return new Increment(read, cursor, List.of(), Optional.empty(), lookback.or(() -> ruleLookback), chunkRows, onConflict,
            detectDeletes, onBadCheckpoint, fullRefresh);
    }
}
