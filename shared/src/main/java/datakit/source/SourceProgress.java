package datakit.source;

import datakit.checkpoint.SourcePosition;
import datakit.checkpoint.XidRanges;
import datakit.db.OptionalRow;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.Optional;

/**
 * What a source had committed just before a run took its snapshot: its cluster and WAL position, and which of the
 * transactions an xmin checkpoint read it has not committed. Asked on the snapshot's own connection (so of the same server,
 * also through a pooler) in a transaction that ends before the snapshot's begins, so everything counted here is in the
 * snapshot; asked in the snapshot's own transaction, a commit replayed a moment after the snapshot was taken would pass for
 * one it holds. A run compares it with what the run before it read, to tell a source behind that.
 *
 * @param position     the cluster and WAL position, empty where the source will not tell
 * @param notCommitted those of the transactions asked about that the source has not committed
 */
public record SourceProgress(Optional<SourcePosition> position, XidRanges notCommitted) {
    /**
     * The system identifier, and on a primary the end of the WAL inserted (which a commit's record reaches before the commit
     * is visible, even an asynchronous one not yet written), on a standby the end of the WAL replayed. Every role may call
     * these functions unless an administrator revoked them.
     */
    private static final String POSITION = "SELECT (SELECT system_identifier FROM pg_catalog.pg_control_system())::text, "
        + "(CASE WHEN pg_catalog.pg_is_in_recovery() THEN pg_catalog.pg_last_wal_replay_lsn() "
        + "ELSE pg_catalog.pg_current_wal_insert_lsn() END)::text";

    static SourceProgress read(Connection connection, XidRanges transactions) throws SQLException {
        return new SourceProgress(position(connection), TransactionStatus.notCommitted(connection, transactions));
    }

    /**
     * The source's cluster and WAL position now; empty where the source will not tell (a function revoked, a server that
     * does not offer it), which never fails a run: only a connection that is gone does.
     */
    static Optional<SourcePosition> position(Connection connection) throws SQLException {
        OptionalRow row = OptionalRow.of(connection, POSITION);
        return row.failure() != null || row.values()[0] == null || row.values()[1] == null ? Optional.empty()
            : Optional.of(new SourcePosition((String) row.values()[0], (String) row.values()[1]));
    }
}
