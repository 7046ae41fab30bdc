package datakit.source;

import datakit.checkpoint.SourcePosition;
import datakit.checkpoint.XidRanges;
import datakit.db.Database;
import datakit.error.DatakitException;
import datakit.db.ReplayLag;
import datakit.db.SqlErrors;
import datakit.json.KeyProfile;
import datakit.sql.Sql;
import datakit.sql.TableRef;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.jooq.DSLContext;
import org.jooq.exception.DataAccessException;
import org.postgresql.PGConnection;
import org.postgresql.copy.CopyOut;

/**
 * One read-only, repeatable-read transaction on the source, begun with the source's settings (see
 * {@link datakit.db.TransactionSettings}: {@code row_security} off, so a policy that would hide rows fails
 * the read): the plan (catalog lookups, row estimate) and the COPY that follow see the same snapshot, so the
 * columns described are the columns streamed. The session holds the transaction and its connection; it plans reads
 * with {@link ReadPlanner}, whose SQL text {@link ReadSql} writes.
 * User SQL ({@code --where}, {@code --query}) only ever runs through plain JDBC statements, never
 * through jOOQ's templating, where a {@code ?} operator would be taken for a bind parameter.
 */
public final class SourceSession implements AutoCloseable {
    private final Database database;
    private final Connection connection;
    private final DSLContext db;
    private final Optional<SourceProgress> progress;
    private boolean broken;

    private SourceSession(Database database, Connection connection, Optional<SourceProgress> progress) {
        this.database = database;
        this.connection = connection;
        this.db = Sql.using(connection);
        this.progress = progress;
    }

    /** Starts the transaction. The session's connection is held until {@link #close()}. */
    public static SourceSession begin(Database database) {
        return begin(database, Optional.empty());
    }

    /**
     * Starts a transaction that sees what the transaction that exported {@code snapshot} sees, so
     * parallel sessions read one consistent state. The exporting transaction must still be open.
     */
    public static SourceSession begin(Database database, Optional<String> snapshot) {
        return begin(database, snapshot, Optional.empty());
    }

    /**
     * Starts the transaction after asking the source, on the same connection in a transaction of its own, what it has
     * committed ({@link #progress()}), and which of {@code transactions} it has not: everything counted there is in this
     * session's snapshot.
     */
    public static SourceSession beginAfterProgress(Database database, XidRanges transactions) {
        return begin(database, Optional.empty(), Optional.of(transactions));
    }

    private static SourceSession begin(Database database, Optional<String> snapshot, Optional<XidRanges> askProgress) {
        Connection connection = database.connect();
        try {
            Optional<SourceProgress> progress = Optional.empty();
            if (askProgress.isPresent()) {
                database.begin(connection);
                progress = Optional.of(SourceProgress.read(connection, askProgress.get()));
                connection.rollback();
            }
            var first = new ArrayList<String>(List.of("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"));
            snapshot.ifPresent(id -> first.add("SET TRANSACTION SNAPSHOT " + Sql.literal(id)));
            database.begin(connection, first.toArray(String[]::new));
            return new SourceSession(database, connection, progress);
        } catch (SQLException | RuntimeException e) {
            database.discard(connection);
            throw SqlErrors.failure("Starting a read-only transaction on the source " + database.settings().describe()
                + snapshot.map(id -> " in the exported snapshot " + id).orElse(""), e, database);
        }
    }

    /**
     * Exports this transaction's snapshot for other sessions to share ({@code pg_export_snapshot()}). It
     * lives as long as this transaction, which therefore stays open while idle.
     */
    public String exportSnapshot() {
        db.execute("SET LOCAL idle_in_transaction_session_timeout = 0");
        return db.resultQuery("SELECT pg_catalog.pg_export_snapshot()").fetchOne(0, String.class);
    }

    /**
     * Plans the read of {@code selection} in this session's snapshot: columns, bronze types, COPY statement, row estimate
     * (see {@link ReadPlanner}).
     */
    public ReadPlan plan(Selection selection) {
        return new ReadPlanner(this).plan(selection);
    }

    /**
     * The key profile of each JSON column the plan reads as it is, counted over every row it reads, in
     * this session's snapshot (so it describes exactly the rows copied after it).
     */
    public List<KeyProfile> profileJson(ReadPlan plan) {
        Selection selection = plan.selection();
        String from = ReadSql.from(selection) + ReadSql.where(selection.where(), List.of());
        // Declared JSON columns are text on the source, where a value that does not parse would stop the read.
        return plan.columns().stream().filter(c -> c.expression().isEmpty() && c.json() && !plan.checks().jsonText().contains(c.name()))
            .map(c -> KeyProfile.of(sql -> rows(sql, selection), c.name(), c.jsonb(""), from)).toList();
    }

    /**
     * With {@code --enable-row-security}: what the run says of the rows it reads, naming the table whose row-level
     * security policies limit the rows of {@code selection} to those the source user may see (see {@link RowSecurity}).
     * Empty without the option.
     */
    public Optional<String> rowSecurityNote(Selection selection) {
        return new ReadPlanner(this).rowSecurityNote(selection);
    }

    Database database() {
        return database;
    }

    /** The session's connection, inside its transaction: for statements jOOQ must not template (user SQL). */
    Connection connection() {
        return connection;
    }

    /** jOOQ on the session's connection, for catalog queries. */
    DSLContext sql() {
        return db;
    }

    /** The source's catalog, read in this session's snapshot. */
    SourceCatalog catalog() {
        return new SourceCatalog(db, database.settings().describe());
    }

    /** The partition trees and block ranges of the source, read in this session's snapshot, for reading {@code selection}. */
    PartitionCatalog partitionCatalog(Selection selection) {
        return new PartitionCatalog(db, database.settings().rowSecurity(), sql -> rows(sql, selection));
    }

    /** Every row of a query that may contain user SQL, as text, in this session's snapshot. */
    List<List<String>> rows(String sql, Selection forErrors) {
        try (Statement st = connection.createStatement(); ResultSet rs = st.executeQuery(sql)) {
            var rows = new ArrayList<List<String>>();
            int n = rs.getMetaData().getColumnCount();
            while (rs.next()) {
                var row = new ArrayList<String>(n);
                for (int i = 1; i <= n; i++) {
                    row.add(rs.getString(i));
                }
                rows.add(row);
            }
            return rows;
        } catch (SQLException e) {
            throw ReadRefusal.of(database, forErrors, e);
        }
    }

    /** Starts streaming the plan's rows; the caller reads them with {@link CopyOut#readFromCopy()}. */
    public CopyOut startCopy(ReadPlan plan) throws SQLException {
        return startCopy(plan.copySql());
    }

    CopyOut startCopy(String copySql) throws SQLException {
        broken = true; // until the stream ends cleanly, a failure may leave the connection mid-protocol
        return connection.unwrap(PGConnection.class).getCopyAPI().copyOut(copySql);
    }

    /**
     * Takes the table's ACCESS SHARE lock at once, or fails: for a session that reads in a snapshot another transaction holds
     * the table locked in. An exclusive lock another session asked for meanwhile (an ALTER TABLE, DROP, TRUNCATE) waits for
     * that transaction, and a read that queued behind it would wait for ever; as pg_dump's workers do, the read gives up.
     */
    public void lockSharedNowait(TableRef table) {
        try (var st = connection.createStatement()) {
            st.execute("LOCK TABLE " + table.sql() + " IN ACCESS SHARE MODE NOWAIT");
        } catch (SQLException e) {
            if ("55P03".equals(e.getSQLState())) {
                throw DatakitException.notReady(("Another session asked for an exclusive lock on %s on the source (an ALTER TABLE, DROP, "
                    + "TRUNCATE...) while this run read in a snapshot that keeps it locked: it waits for this run, so the table was not "
                    + "read. The next run reads it.").formatted(table), e);
            }
            throw ReadRefusal.of(database, Selection.table(table), e);
        }
    }

    /** Marks the stream complete: the connection is in a clean state again. */
    public void copyDone() {
        broken = false;
    }

    /**
     * How far behind its primary the source's data is, when the source is a hot standby; read at once, so at about the snapshot's
     * time. Figures the source will not give are left unknown; only a lost connection fails.
     */
    public Optional<ReplayLag> replayLag() {
        try {
            return ReplayLag.of(connection);
        } catch (SQLException e) {
            throw new DataAccessException("Reading the replay lag of the source " + database.settings().describe() + " failed", e);
        }
    }

    /** What the source had committed just before this session's snapshot was taken, when the session began after asking it. */
    public SourceProgress progress() {
        return progress.orElseThrow(() -> new IllegalStateException("the session began without asking the source's progress"));
    }

    /**
     * The source's cluster and WAL position read now, in this session's snapshot: the snapshot holds no commit past it (see
     * {@link SourceProgress}). Empty where the source will not tell; only a lost connection fails.
     */
    public Optional<SourcePosition> position() {
        try {
            return SourceProgress.position(connection);
        } catch (SQLException e) {
            throw new DataAccessException("Reading the WAL position of the source " + database.settings().describe() + " failed", e);
        }
    }

    /**
     * Fails with what ended this session's transaction, if something did: a hot standby ends a session that sits idle in
     * a transaction holding up its replay, and a statement on it then reports why.
     */
    public void checkOpen() throws SQLException {
        try (Statement st = connection.createStatement()) {
            st.execute("SELECT 1");
        }
    }

    /** Ends the transaction. A connection left mid-COPY by a failure is discarded rather than reused. */
    @Override
    public void close() {
        if (broken) {
            database.discard(connection);
            return;
        }
        try {
            connection.rollback();
            connection.close();
        } catch (SQLException e) {
            database.discard(connection);
        }
    }
}
