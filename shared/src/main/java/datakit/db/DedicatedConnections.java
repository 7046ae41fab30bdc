package datakit.db;

import java.io.PrintWriter;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.SQLFeatureNotSupportedException;
import java.util.logging.Logger;
import javax.sql.DataSource;

/**
 * A DataSource that opens a new connection, outside any pool, for each {@link #getConnection()}: what Flyway gets, so that
 * migrating never waits for the run's own pool. Its connections end when closed.
 */
final class DedicatedConnections implements DataSource {
    /** Opens one connection with the database's settings. */
    @FunctionalInterface
    interface Opener {
        Connection open() throws SQLException;
    }

    private final Opener opener;
    private final int loginTimeoutSeconds;

    DedicatedConnections(Opener opener, int loginTimeoutSeconds) {
        this.opener = opener;
        this.loginTimeoutSeconds = loginTimeoutSeconds;
    }

    @Override
    public Connection getConnection() throws SQLException {
        return opener.open();
    }

    /** The database's settings name the user: another one is not taken. */
    @Override
    public Connection getConnection(String username, String password) throws SQLException {
        throw new SQLFeatureNotSupportedException("connections are made with the database's own settings");
    }

    @Override
    public PrintWriter getLogWriter() {
        return null;
    }

    @Override
    public void setLogWriter(PrintWriter out) {
        // The driver logs through java.util.logging.
    }

    @Override
    public void setLoginTimeout(int seconds) {
        // The settings' connect_timeout bounds the login.
    }

    @Override
    public int getLoginTimeout() {
        return loginTimeoutSeconds;
    }

    @Override
    public Logger getParentLogger() throws SQLFeatureNotSupportedException {
        throw new SQLFeatureNotSupportedException("no parent logger");
    }

    @Override
    public <T> T unwrap(Class<T> type) throws SQLException {
        if (type.isInstance(this)) {
            return type.cast(this);
        }
        throw new SQLException("not a wrapper for " + type.getName());
    }

    @Override
    public boolean isWrapperFor(Class<?> type) {
        return type.isInstance(this);
    }
}
