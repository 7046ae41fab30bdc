package datakit.source;

import datakit.checkpoint.XidRanges;
import datakit.sql.Sql;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.stream.Collectors;
import org.jooq.exception.DataAccessException;
import org.jooq.impl.DSL;

/**
 * Which transactions a source has committed, asked before a run takes its snapshot ({@link SourceProgress}): a
 * transaction committed then is seen by that snapshot, on a primary and on a hot standby alike. (Asked in the snapshot's
 * own transaction, a commit replayed a moment after the snapshot was taken would pass for one it sees: a standby's
 * snapshot does not list the transactions in progress.)
 */
final class TransactionStatus {
    private TransactionStatus() {
    }

    /**
     * Those of {@code ids} the source has not committed: in progress, aborted, or not yet known to it (from its next id on). An
     * id too old for the server to remember had ended long ago, and counts as committed.
     */
    static XidRanges notCommitted(Connection connection, XidRanges ids) throws SQLException {
        if (ids.isEmpty()) {
            return XidRanges.NONE;
        }
        String firsts = ids.ranges().stream().map(r -> String.valueOf(r.first())).collect(Collectors.joining(",", "{", "}"));
        String lasts = ids.ranges().stream().map(r -> String.valueOf(r.last())).collect(Collectors.joining(",", "{", "}"));
        // CASE keeps pg_xact_status from ids the server has not reached yet, which it refuses ("is in the future").
        String sql = "SELECT g.id FROM unnest(" + Sql.inline(DSL.inline(firsts)) + "::bigint[], " + Sql.inline(DSL.inline(lasts))
            + "::bigint[]) AS r(first, last), generate_series(r.first, r.last) AS g(id) WHERE CASE WHEN g.id >= "
            + "pg_catalog.pg_snapshot_xmax(pg_catalog.pg_current_snapshot())::text::bigint THEN true "
            + "ELSE coalesce(pg_catalog.pg_xact_status(g.id::text::xid8), 'committed') <> 'committed' END";
        try {
            return XidRanges.of(Sql.using(connection).resultQuery(sql).fetch(0, Long.class));
        } catch (DataAccessException e) {
            // A lost connection stays an SQLException, for the run's retries.
            if (e.getCause() instanceof SQLException lost) {
                throw lost;
            }
            throw e;
        }
    }
}
