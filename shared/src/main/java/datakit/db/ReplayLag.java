package datakit.db;

import com.fasterxml.jackson.annotation.JsonValue;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * How far a hot standby's data is behind its primary, as the standby itself can tell: when the last transaction it
 * replayed committed on the primary ({@code pg_last_xact_replay_timestamp()}, and how long ago that is), and how much
 * WAL it has received but not yet replayed. A primary that commits nothing makes the age grow though nothing is
 * missing; received-but-not-replayed WAL is missing for sure (replay paused, or waiting for a conflicting read).
 * Postgres-health reports it, and every run that reads a standby puts it in its summary. It is information only: a
 * figure the source will not give (a role without EXECUTE on a WAL function, a managed replica that does not offer it)
 * is left unknown, with the server's reason, and never fails a run.
 *
 * @param lastReplayedAt  commit time of the last replayed transaction (UTC, ISO-8601), or null if none since the standby
 *                        started, or unknown
 * @param seconds         how long before now that was, or null
 * @param unreplayedBytes WAL received and not yet replayed, or null when the standby does not stream from a primary, or unknown
 * @param replayedUnknown why the first two could not be read, or null
 * @param waitingUnknown  why the bytes could not be read, or null
 */
public record ReplayLag(String lastReplayedAt, Double seconds, Long unreplayedBytes, String replayedUnknown, String waitingUnknown) {
    private static final String IN_RECOVERY = "SELECT pg_catalog.pg_is_in_recovery()";
    private static final String REPLAYED = """
        SELECT to_char(pg_catalog.pg_last_xact_replay_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
               round(greatest(extract(epoch FROM clock_timestamp() - pg_catalog.pg_last_xact_replay_timestamp()), 0), 3)::float8""";
    private static final String WAITING =
        "SELECT pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_last_wal_receive_lsn(), pg_catalog.pg_last_wal_replay_lsn())::bigint";

    /**
     * The lag of the server {@code connection} is connected to; empty unless it is a standby (in recovery). The WAL functions
     * are called only on a standby. In a transaction, each query runs under a savepoint, so one the server refuses leaves the
     * transaction usable; only a connection that is gone fails.
     */
    public static Optional<ReplayLag> of(Connection connection) throws SQLException {
        OptionalRow recovery = OptionalRow.of(connection, IN_RECOVERY);
        if (recovery.failure() != null) {
            return Optional.of(new ReplayLag(null, null, null, recovery.failure(), recovery.failure()));
        }
        if (!Boolean.TRUE.equals(recovery.values()[0])) {
            return Optional.empty();
        }
        OptionalRow replayed = OptionalRow.of(connection, REPLAYED);
        OptionalRow waiting = OptionalRow.of(connection, WAITING);
        return Optional.of(new ReplayLag(replayed.failure() == null ? (String) replayed.values()[0] : null,
            replayed.failure() == null ? (Double) replayed.values()[1] : null, waiting.failure() == null ? (Long) waiting.values()[0] : null,
            replayed.failure(), waiting.failure()));
    }

    /** Whether some figure could not be read. */
    public boolean unknown() {
        return replayedUnknown != null || waitingUnknown != null;
    }

    /** Why figures could not be read, for people. */
    public String whyUnknown() {
        return Stream.of(replayedUnknown, waitingUnknown).filter(Objects::nonNull).distinct().collect(Collectors.joining("; "));
    }

    /** For --json and extraction_runs.details: unknown figures are null, and {@code lag_unknown} says why. */
    @JsonValue
    public Map<String, Object> asMap() {
        var map = new LinkedHashMap<String, Object>();
        map.put("last_replayed_transaction_at", lastReplayedAt);
        map.put("replay_lag_seconds", seconds);
        map.put("received_not_replayed_bytes", unreplayedBytes);
        if (unknown()) {
            map.put("lag_unknown", whyUnknown());
        }
        return map;
    }

    /** For people: "replayed up to 2026-11-21T10:00:00.000Z (12.3 s ago); 0 bytes received and not yet replayed". */
    @Override
    public String toString() {
        String replayed = replayedUnknown != null ? "replay time unknown (" + replayedUnknown + ")"
            : lastReplayedAt == null ? "no transaction replayed since the standby started"
            : String.format(Locale.ROOT, "replayed up to %s (%.1f s ago)", lastReplayedAt, seconds);
        String waiting = waitingUnknown != null ? (waitingUnknown.equals(replayedUnknown) ? "lag unknown"
            : "WAL received and not yet replayed unknown (" + waitingUnknown + ")")
            : unreplayedBytes == null ? "not streaming from a primary"
            : String.format(Locale.ROOT, "%,d bytes received and not yet replayed", unreplayedBytes);
        return replayed + "; " + waiting;
    }
}
