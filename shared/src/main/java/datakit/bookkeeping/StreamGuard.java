package datakit.bookkeeping;

import datakit.bronze.WriteMode;
import datakit.error.DatakitException;
import java.sql.Connection;
import java.util.Optional;

/**
 * A bronze table belongs to one source object and keeps one shape: loading crm.orders over the
 * bronze.orders of sales.orders, replacing a history built by appends, or appending duplicates to a
 * table kept one row per key would lose or spoil data silently, so each is refused with exit code 3.
 */
public final class StreamGuard {
    private StreamGuard() {
    }

    public static void check(RunLog runs, Connection connection, String stream, Optional<String> reading, WriteMode mode) {
        runs.lastSuccess(connection, stream).ifPresent(previous -> {
            if (!previous.sourceObject().equals(reading)) {
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
    }

    private static DatakitException refused(String stream, String why, String keep) {
        return DatakitException.notReady("%s %s. Pass %s to go on as before, or drop %s first to start over."
            .formatted(stream, why, keep, stream));
    }
}
