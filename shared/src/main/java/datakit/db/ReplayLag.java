package datakit.db;

import com.fasterxml.jackson.annotation.JsonValue;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import org.jooq.DSLContext;
import org.jooq.Record;

/**
 * How far a hot standby's data is behind its primary, as the standby itself can tell: when the last transaction it
 * replayed committed on the primary ({@code pg_last_xact_replay_timestamp()}, and how long ago that is), and how much
 * WAL it has received but not yet replayed. A primary that commits nothing makes the age grow though nothing is
 * missing; received-but-not-replayed WAL is missing for sure (replay paused, or waiting for a conflicting read).
 * Postgres-health reports it, and every run that reads a standby puts it in its summary.
 *
 * @param lastReplayedAt  commit time of the last replayed transaction (UTC, ISO-8601), or null if none since the standby started
 * @param seconds         how long before now that was, or null
 * @param unreplayedBytes WAL received and not yet replayed, or null when the standby does not stream from a primary
 */
public record ReplayLag(String lastReplayedAt, Double seconds, Long unreplayedBytes) {
    private static final String QUERY = """
        SELECT pg_catalog.pg_is_in_recovery(),
               to_char(pg_catalog.pg_last_xact_replay_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
               round(greatest(extract(epoch FROM clock_timestamp() - pg_catalog.pg_last_xact_replay_timestamp()), 0), 3)::float8,
               pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_last_wal_receive_lsn(), pg_catalog.pg_last_wal_replay_lsn())::bigint""";

    /** The lag of the server {@code db} is connected to; empty unless it is a standby (in recovery). */
    public static Optional<ReplayLag> of(DSLContext db) {
        Record r = db.resultQuery(QUERY).fetchOne();
        if (!Boolean.TRUE.equals(r.get(0, Boolean.class))) {
            return Optional.empty();
        }
        return Optional.of(new ReplayLag(r.get(1, String.class), r.get(2, Double.class), r.get(3, Long.class)));
    }

    /** For --json and extraction_runs.details. */
    @JsonValue
    public Map<String, Object> asMap() {
        var map = new LinkedHashMap<String, Object>();
        map.put("last_replayed_transaction_at", lastReplayedAt);
        map.put("replay_lag_seconds", seconds);
        map.put("received_not_replayed_bytes", unreplayedBytes);
        return map;
    }

    /** For people: "replayed up to 2026-11-21T10:00:00.000Z (12.3 s ago); 0 bytes received and not yet replayed". */
    @Override
    public String toString() {
        String replayed = lastReplayedAt == null ? "no transaction replayed since the standby started"
            : String.format(Locale.ROOT, "replayed up to %s (%.1f s ago)", lastReplayedAt, seconds);
        String waiting = unreplayedBytes == null ? "not streaming from a primary"
            : String.format(Locale.ROOT, "%,d bytes received and not yet replayed", unreplayedBytes);
        return replayed + "; " + waiting;
    }
}
