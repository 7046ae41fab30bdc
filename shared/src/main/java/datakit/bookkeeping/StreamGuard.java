package datakit.bookkeeping;

import datakit.bronze.WriteMode;
import datakit.error.DatakitException;
import java.sql.Connection;
import java.util.Optional;

/**
 * A bronze table belongs to one source object and keeps one shape: loading crm.orders over the
 * bronze.orders of sales.orders, replacing a history built by appends, or appending duplicates to a
 * table kept one row per key would lose or spoil data silently, so each is refused with exit code 3. A source table renamed
 * at the source keeps its stream when the run says so ({@code --renamed-from}, {@link StreamRename}).
 */
public final class StreamGuard {
    private StreamGuard() {
    }

    /**
     * Refuses what would spoil {@code stream}, a bronze table that {@code exists} or is to be made: another source object
     * than the one its last successful run read, or another write mode. {@code renamedFrom} (--renamed-from) says the table
     * read had that name before: a stream that read it goes on (see {@link StreamRename}). Returns the rename this run meets,
     * if any: to make, made before, or followed by another stream than this new one.
     */
    public static Optional<StreamRename> check(RunLog runs, Connection connection, String stream, boolean exists, Optional<String> reading,
                                               Optional<String> renamedFrom, WriteMode mode) {
        // A rename is looked up whether the table is there or not: the mirror layout of postgres-partitioned keeps none by the
        // stream's name.
        Optional<RunLog.PreviousRun> last = exists || renamedFrom.isPresent() ? runs.lastSuccess(connection, stream) : Optional.empty();
        Optional<StreamRename> rename = renamedFrom.isPresent()
            ? Optional.of(StreamRename.decide(stream, last, reading.orElseThrow(), renamedFrom.get()))
            : exists || reading.isEmpty() ? Optional.empty() : StreamRename.elsewhere(connection, stream, reading.get());
        Optional<String> expected = rename.filter(StreamRename::now).map(StreamRename::from).or(() -> reading);
        // A table dropped by hand starts over: its runs guard nothing.
        Optional<RunLog.PreviousRun> guarding = exists ? last : Optional.empty();
        guarding.ifPresent(previous -> {
            if (!previous.sourceObject().equals(expected)) {
                throw DatakitException.notReady(("%s holds the rows of %s, and this run reads %s. Give this stream its "
                    + "own --target-table, or drop %s first to reuse the name.").formatted(stream,
                    previous.sourceObject().orElse("a query"), reading.orElse("a query"), stream));
            }
            String before = previous.writeMode();
            if (before.equals(WriteMode.APPEND.label()) && mode == WriteMode.REPLACE) {
                throw refused(stream, "holds the history of append runs, which --mode replace would drop", "--mode append");
            }
            if (before.equals(WriteMode.APPEND.label()) && mode == WriteMode.MERGE) {
                throw refused(stream, "holds the history of append runs, and --mode merge keeps one row per key", "--mode append");
            }
            if (before.equals(WriteMode.MERGE.label()) && mode == WriteMode.APPEND) {
                throw refused(stream, "is kept one row per key by merge runs, and --mode append would add second versions", "--mode merge");
            }
        });
        return rename;
    }

    private static DatakitException refused(String stream, String why, String keep) {
        return DatakitException.notReady("%s %s. Pass %s to go on as before, or drop %s first to start over."
            .formatted(stream, why, keep, stream));
    }
}
