package datakit.cdc;

import datakit.config.ConnectionSettings;
import datakit.config.PgParam;
import datakit.db.SqlErrors;
import datakit.error.DatakitException;
import datakit.error.ExitCode;
import java.util.Optional;

/**
 * A replication connection opened (and closed) once, before anything else connects or is created: change
 * data capture needs a walsender of the server itself. A connection pooler refuses it at once, and that
 * stops the run then. Any other failure is held until the ordinary connection's checks have passed, which
 * say more precisely what is wrong when they fail too (a wrong password, a missing REPLICATION privilege);
 * then it stops the run all the same, before a publication or slot is made.
 */
public final class ReplicationProbe {
    private final Optional<DatakitException> failure;

    private ReplicationProbe(Optional<DatakitException> failure) {
        this.failure = failure;
    }

    /** Opens a replication connection; fails at once only when a pooler refused it (PgBouncer: "unsupported startup parameter"). */
    public static ReplicationProbe open(ConnectionSettings settings) {
        try {
            ReplicationSession.open(settings).close();
            return new ReplicationProbe(Optional.empty());
        } catch (DatakitException e) {
            String reason = SqlErrors.serverMessage(e.getCause() == null ? e : e.getCause());
            if (reason.contains("unsupported startup parameter")) {
                throw DatakitException.badInput("The source %s refused a replication connection (%s): replication connections cannot go "
                    + "through a connection pooler such as PgBouncer. Point --source (%s) at the PostgreSQL server itself.",
                    settings.describe(), reason, settings.origin(PgParam.HOST));
            }
            return new ReplicationProbe(Optional.of(refused(settings, reason, e.exitCode())));
        }
    }

    /** Fails with the probe's reason, if it failed: call once the ordinary connection's checks have passed. */
    void requireConnected() {
        failure.ifPresent(e -> {
            throw e;
        });
    }

    /**
     * A logical replication connection passes the same pg_hba.conf lines as an ordinary one to its database (the
     * "replication" keyword there is for physical replication only), so what refuses it alone is mostly the
     * server's walsender limit; the server's reason says which.
     */
    private static DatakitException refused(ConnectionSettings settings, String reason, ExitCode exitCode) {
        return new DatakitException(exitCode, ("The source %s refused a replication connection (%s), though it takes ordinary ones, and "
            + "change data capture needs one: each running stream holds one of the server's max_wal_senders.")
            .formatted(settings.describe(), reason));
    }
}
