package datakit.cdc;

import datakit.config.ConnectionSettings;
import datakit.db.SqlErrors;
import datakit.sql.Sql;
import datakit.wal.Lsn;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.postgresql.PGConnection;
import org.postgresql.PGProperty;
import org.postgresql.replication.LogSequenceNumber;
import org.postgresql.replication.PGReplicationStream;
import org.postgresql.replication.ReplicationSlotInfo;

/**
 * A replication connection to the source ({@code replication=database}), never taken from a pool: it
 * creates the slot, whose exported snapshot lives only until the next command on this connection, and
 * then streams the slot's changes with {@code pgoutput}.
 */
final class ReplicationSession implements AutoCloseable {
    private final Connection connection;
    private PGReplicationStream stream;

    private ReplicationSession(Connection connection) {
        this.connection = connection;
    }

    public static ReplicationSession open(ConnectionSettings settings) {
        Properties props = settings.replicationProperties();
        PGProperty.REPLICATION.set(props, "database");
        PGProperty.ASSUME_MIN_SERVER_VERSION.set(props, "10");
        PGProperty.PREFER_QUERY_MODE.set(props, "simple");
        try {
            return new ReplicationSession(DriverManager.getConnection(settings.jdbcUrl(), props));
        } catch (SQLException e) {
            throw SqlErrors.connectFailure(settings, e, 1);
        }
    }

    /** A new slot: where its stream starts, and the snapshot that holds exactly what came before. */
    public record NewSlot(Lsn consistentPoint, String snapshot) {
    }

    /**
     * Creates a pgoutput slot and exports its snapshot: import it before this session's next command. With {@code failover}
     * (PostgreSQL 17+), the slot is one the server synchronizes to its standbys (sync_replication_slots), so a promoted
     * standby has it.
     */
    NewSlot createSlot(String name, boolean failover) throws SQLException {
        if (failover) {
            try (Statement statement = connection.createStatement();
                 ResultSet made = statement.executeQuery("CREATE_REPLICATION_SLOT " + Sql.quote(name)
                     + " LOGICAL pgoutput (SNAPSHOT 'export', FAILOVER true)")) {
                made.next();
                return new NewSlot(Lsn.parse(made.getString("consistent_point")), made.getString("snapshot_name"));
            }
        }
        ReplicationSlotInfo info = pg().getReplicationAPI().createReplicationSlot().logical()
            .withSlotName(name).withOutputPlugin("pgoutput").make();
        return new NewSlot(Lsn.of(info.getConsistentPoint().asLong()), info.getSnapshotName());
    }

    /**
     * Creates a temporary pgoutput slot, gone when this session ends, only for its exported snapshot and the exact WAL
     * position that snapshot ends at: what a table's snapshot inside a running stream meets the stream at
     * ({@link TableSnapshot}). Making it waits for the transactions in progress to end, as every slot's making does.
     */
    NewSlot createCutSlot(String name) throws SQLException {
        ReplicationSlotInfo info = pg().getReplicationAPI().createReplicationSlot().logical()
            .withSlotName(name).withOutputPlugin("pgoutput").withTemporaryOption().make();
        return new NewSlot(Lsn.of(info.getConsistentPoint().asLong()), info.getSnapshotName());
    }

    /** 17+: makes an existing slot (not in use) a failover slot, synchronized to the standbys that sync slots. */
    void enableFailover(String name) throws SQLException {
        try (Statement statement = connection.createStatement()) {
            statement.execute("ALTER_REPLICATION_SLOT " + Sql.quote(name) + " (FAILOVER true)");
        }
    }

    /**
     * Streams the slot's changes for {@code publication} from {@code start} (the server starts at the
     * slot's confirmed position when that is later). {@code streaming} asks protocol version 2 to send
     * large transactions while they are still in progress. The stream ends when its reader ends it
     * ({@link MessageReader#close()}), or when this session closes.
     * The driver reports to the server every second: a connection the server closed is noticed by
     * writing to it, since the driver's non-blocking read does not see the end of the stream.
     */
    public PGReplicationStream start(String slot, String publication, Lsn start, boolean streaming) throws SQLException {
        var builder = pg().getReplicationAPI().replicationStream().logical()
            .withSlotName(slot)
            .withStartPosition(LogSequenceNumber.valueOf(start.value()))
            .withSlotOption("proto_version", streaming ? "2" : "1")
            .withSlotOption("publication_names", publication)
            .withStatusInterval(1, TimeUnit.SECONDS)
            // The driver would otherwise confirm the server's position by itself once everything received is
            // confirmed: the slot must hear only of positions the warehouse has recorded.
            .withAutomaticFlush(false);
        if (streaming) {
            builder = builder.withSlotOption("streaming", "on");
        }
        stream = builder.start();
        return stream;
    }

    /** The walsender's process id on the server, to find it in pg_stat_replication. */
    int backendPid() throws SQLException {
        return pg().getBackendPID();
    }

    private PGConnection pg() throws SQLException {
        return connection.unwrap(PGConnection.class);
    }

    /**
     * Ends the stream and the connection. A connection lost meanwhile is no failure here: the run has
     * committed or rolled back by now, and the next run starts from the warehouse's checkpoint.
     */
    @Override
    public void close() {
        try {
            if (stream != null && !stream.isClosed()) {
                stream.close();
            }
        } catch (SQLException e) {
            // As below.
        }
        try {
            connection.close();
        } catch (SQLException e) {
            // The walsender ends with the connection either way.
        }
    }
}
