package datakit.db;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import com.zaxxer.hikari.pool.HikariPool.PoolInitializationException;
import datakit.config.ConnectionSettings;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import javax.sql.DataSource;
import org.jooq.exception.DataAccessException;

/**
 * A pool of connections to one database (HikariCP), opened from resolved settings. Opening checks
 * the connection at once, so a wrong password or host fails with a clear message before any work;
 * passing failures are retried with backoff. Every transaction begins with the database's
 * {@link TransactionSettings} ({@link #begin}, {@link #inTransaction}), the same way directly and through a
 * connection pooler. A source database is opened read-only: its connections never autocommit, and each of
 * their transactions is {@code READ ONLY}, so no statement can write to the source.
 */
public final class Database implements AutoCloseable {
    private static final Duration FIRST_RETRY_DELAY = Duration.ofSeconds(1);

    /** Whether the database may be written. */
    public enum Access {
        READ_ONLY, READ_WRITE
    }

    private final ConnectionSettings settings;
    private final Access access;
    private final TransactionSettings transactions;
    private final HikariDataSource pool;
    private final Retry retry;
    private volatile String currentUser;

    private Database(ConnectionSettings settings, Access access, HikariDataSource pool) {
        this.settings = settings;
        this.access = access;
        this.transactions = TransactionSettings.of(settings, access);
        this.pool = pool;
        this.retry = new Retry(settings.maxRetries(), FIRST_RETRY_DELAY);
    }

    public static Database open(ConnectionSettings settings, Access access) {
        var retry = new Retry(settings.maxRetries(), FIRST_RETRY_DELAY);
        int[] attempts = {0};
        try {
            return retry.run(attempt -> {
                attempts[0] = attempt;
                return new Database(settings, access, startPool(settings, access));
            });
        } catch (SQLException e) {
            throw SqlErrors.connectFailure(settings, e, attempts[0]);
        }
    }

    private static HikariDataSource startPool(ConnectionSettings settings, Access access) throws SQLException {
        var config = new HikariConfig();
        config.setPoolName("datakit-" + settings.role().label());
        config.setJdbcUrl(settings.jdbcUrl());
        config.setDataSourceProperties(settings.jdbcProperties());
        config.setMaximumPoolSize(settings.poolSize());
        config.setMinimumIdle(settings.poolMin());
        config.setConnectionTimeout(settings.connectTimeoutSeconds() == 0 ? 0 : (settings.connectTimeoutSeconds() + 5) * 1000L);
        // One attempt when the pool starts: its failure carries the driver's reason (wrong password...).
        config.setInitializationFailTimeout(1);
        config.setReadOnly(access == Access.READ_ONLY);
        // A read-only connection never autocommits: PgJDBC begins each of its transactions READ ONLY.
        config.setAutoCommit(access != Access.READ_ONLY);
        config.setRegisterMbeans(false);
        try {
            var pool = new HikariDataSource(config);
            if (settings.poolMin() <= 1) {
                // Started with its one connection ready, a small pool then opens more only when asked: HikariCP would
                // otherwise log in once more in the background as soon as that connection is busy, to keep one idle,
                // which a run that works on one connection at a time never uses.
                pool.getHikariConfigMXBean().setMinimumIdle(0);
            }
            return pool;
        } catch (PoolInitializationException e) {
            throw e.getCause() instanceof SQLException sql ? sql : new SQLException(e.getMessage(), "08001", e);
        }
    }

    /**
     * One connection outside any pool, made once without retries: for health checks that report a
     * database they cannot reach at once, one-off catalog reads, and the CDC set-up that may write. A
     * read-only one comes in a read-only transaction with the database's settings begun; a read-write one
     * autocommits, and its caller begins transactions with {@link TransactionSettings#begin}.
     */
    public static Connection connectOnce(ConnectionSettings settings, Access access) throws SQLException {
        Connection connection = DriverManager.getConnection(settings.jdbcUrl(), settings.jdbcProperties());
        if (access == Access.READ_ONLY) {
            try {
                connection.setReadOnly(true);
                TransactionSettings.of(settings, access).begin(connection);
            } catch (SQLException | RuntimeException e) {
                connection.close();
                throw e;
            }
        }
        return connection;
    }

    /** A connection from the pool, retried with backoff while the failure may pass. Close it to return it. */
    public Connection connect() {
        return connecting(pool::getConnection);
    }

    /**
     * A connection of its own outside the pool, retried like {@link #connect()}: for a transaction held open for a whole
     * run (a stream's lock), which would otherwise keep one of the pool's connections from the run's own work, so that a
     * pool of one waited for itself. Made as {@link #connectOnce}; close it to end it.
     */
    public Connection connectDedicated() {
        return connecting(this::openDedicated);
    }

    private Connection openDedicated() throws SQLException {
        return connectOnce(settings, access);
    }

    private Connection connecting(DedicatedConnections.Opener opener) {
        int[] attempts = {0};
        try {
            return retry.run(attempt -> {
                attempts[0] = attempt;
                return opener.open();
            });
        } catch (SQLException e) {
            throw SqlErrors.connectFailure(settings, e, attempts[0]);
        }
    }

    /**
     * Begins a transaction on {@code connection} with this database's settings; {@code first} are statements
     * that must precede any query (see {@link TransactionSettings#begin}). Commit or roll back to end it.
     */
    public void begin(Connection connection, String... first) throws SQLException {
        transactions.begin(connection, first);
    }

    /** Commits the transaction on {@code connection} and begins the next one with the settings. */
    public void commitAndContinue(Connection connection) throws SQLException {
        connection.commit();
        transactions.begin(connection);
    }

    /** Work done in one transaction, on a connection of its own. */
    @FunctionalInterface
    public interface TransactionWork<T> {
        T run(Connection transaction) throws SQLException;
    }

    /**
     * Runs {@code work} in a transaction on a fresh connection, then commits. On failure nothing of it is
     * kept: the transaction rolls back and the connection is closed, or discarded if it cannot even do
     * that. A driver error that jOOQ wrapped is unwrapped, so a lost connection is seen as one (and
     * {@link #retry()} tries again).
     */
    public <T> T inTransaction(TransactionWork<T> work) throws SQLException {
        Connection connection = connect();
        try {
            begin(connection);
            T result = work.run(connection);
            connection.commit();
            connection.close();
            return result;
        } catch (DataAccessException e) {
            abandon(connection, e);
            if (e.getCause() instanceof SQLException sql) {
                throw sql;
            }
            throw e;
        } catch (SQLException | RuntimeException e) {
            abandon(connection, e);
            throw e;
        }
    }

    private void abandon(Connection connection, Exception failure) {
        try {
            connection.rollback();
            connection.close();
        } catch (SQLException e) {
            discard(connection);
            failure.addSuppressed(e);
        }
    }

    /**
     * Closes a connection for good instead of returning it to the pool: after a cancelled COPY or a
     * lost server its protocol state cannot be trusted.
     */
    public void discard(Connection connection) {
        try {
            pool.evictConnection(connection);
        } catch (RuntimeException e) {
            // The pool may already have dropped it.
        }
    }

    /**
     * Connections of their own outside the pool (each made as {@link #connectOnce}, retried like {@link #connect()}), for
     * tools that manage their own connections: Flyway holds two at once (its history table's lock and the migration), more
     * than a pool of one has.
     */
    public DataSource dataSource() {
        return new DedicatedConnections(() -> retry.run(attempt -> openDedicated()), settings.connectTimeoutSeconds());
    }

    public ConnectionSettings settings() {
        return settings;
    }

    /**
     * The role the server checks this database's privileges against ({@code current_user}), for the GRANT a
     * permission error asks for: the login, unless the login's settings switch to another role ({@code ALTER ROLE
     * ... SET role}). Asked once, when first needed; the login when the database cannot answer.
     */
    public String currentUser() {
        if (currentUser == null) {
            try {
                currentUser = inTransaction(connection -> {
                    try (Statement st = connection.createStatement(); ResultSet rs = st.executeQuery("SELECT current_user")) {
                        rs.next();
                        return rs.getString(1);
                    }
                });
            } catch (SQLException | RuntimeException e) {
                return settings.username();
            }
        }
        return currentUser;
    }

    /** The retry policy from this database's {@code max_retries}, for work that spans a connection. */
    public Retry retry() {
        return retry;
    }

    @Override
    public void close() {
        pool.close();
    }
}
