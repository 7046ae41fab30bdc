package datakit.checkpoint;

import datakit.wal.Lsn;
import java.util.Optional;

/**
 * Where a source's data stood: its cluster ({@code pg_control_system()}'s system identifier, which a hot standby shares with
 * its primary and a physical backup keeps, while a new cluster filled by pg_dump gets its own) and its WAL position (on a
 * primary, how far WAL was written; on a standby, how far it was replayed). Of one cluster, a position further on holds every
 * commit of one before it, whichever server of the cluster is read, so a source at a smaller position than an incremental
 * checkpoint's has not yet committed some of what the run that wrote the checkpoint read.
 *
 * @param systemIdentifier the cluster's system identifier, as text
 * @param lsn              the WAL position as PostgreSQL prints it ({@code 0/3000060})
 */
public record SourcePosition(String systemIdentifier, String lsn) {

    /**
     * Why a source at this position is behind what a run read at {@code read}, if it is: the same cluster, and an earlier
     * position. Another cluster's positions cannot be compared: the cursor decides there.
     */
    public Optional<String> behind(SourcePosition read) {
        if (!systemIdentifier.equals(read.systemIdentifier) || !position().isBefore(read.position())) {
            return Optional.empty();
        }
        return Optional.of("its WAL position %s is before the %s the last run read at".formatted(lsn, read.lsn));
    }

    private Lsn position() {
        return Lsn.parse(lsn);
    }
}
