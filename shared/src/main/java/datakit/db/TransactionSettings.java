package datakit.db;

import datakit.config.ConnectionSettings;
import datakit.config.PgParam;
import datakit.config.Role;
import datakit.error.DatakitException;
import datakit.sql.Sql;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.jooq.ConnectionProvider;
import org.jooq.exception.DataAccessException;

/**
 * The server settings every transaction of the datakits starts with, set with {@code SET LOCAL}
 * ({@code set_config(..., true)}) as its first statements: TCP keepalives, the user's {@code options} and
 * {@code statement_timeout}, and on the source {@code jit = off}, {@code row_security = off} (unless
 * {@code --enable-row-security}) and a {@code READ ONLY} transaction. One mechanism, direct or through a
 * connection pooler: a pooler in transaction mode gives each transaction whatever server connection is free,
 * so settings made at connection start or with a session-level {@code SET} would be lost, or left behind for
 * another client. Local settings end with their transaction, on any server connection.
 */
public final class TransactionSettings {
    private final ConnectionSettings connection;
    private final String statement;

    private TransactionSettings(ConnectionSettings connection, Map<String, String> settings, boolean readOnly) {
        this.connection = connection;
        this.statement = render(settings, readOnly);
    }

    /** The settings of transactions on the database {@code connection} describes, opened with {@code access}. */
    public static TransactionSettings of(ConnectionSettings connection, Database.Access access) {
        var settings = new LinkedHashMap<String, String>();
        if (access == Database.Access.READ_ONLY) {
            // Source reads are plain projections: JIT compilation would only add its compile time to each query.
            settings.put("jit", "off");
        }
        if (connection.role() == Role.SOURCE) {
            // Like pg_dump: a policy that would hide rows makes the read fail rather than return fewer rows.
            settings.put("row_security", connection.rowSecurity() ? "on" : "off");
        }
        settings.putAll(connection.serverSettings());
        return new TransactionSettings(connection, settings, access == Database.Access.READ_ONLY);
    }

    /**
     * Begins a transaction on {@code connection} (autocommit off) with these settings. {@code first} are
     * statements that must come before any query ({@code SET TRANSACTION ISOLATION LEVEL ...}, {@code SET
     * TRANSACTION SNAPSHOT ...}); they run first, in one round trip, and the settings in a second.
     */
    public void begin(Connection transaction, String... first) throws SQLException {
        transaction.setAutoCommit(false);
        try (Statement st = transaction.createStatement()) {
            if (first.length > 0) {
                st.execute(String.join("; ", first));
            }
            try {
                st.execute(statement);
            } catch (SQLException e) {
                if (refusedByTheServer(e)) {
                    throw refused(e);
                }
                throw e;
            }
        }
    }

    /**
     * jOOQ's access to {@code connection}, a connection of one caller that autocommits, where each statement runs
     * in a transaction of its own, begun with these settings and committed once the statement is done; inside a
     * transaction the caller began itself ({@link #begin}), statements run in that one. For a connection that runs
     * a few statements over a long time (CDC's source checks, slot and heartbeats): none of them holds a snapshot
     * or a transaction open in between.
     */
    public ConnectionProvider eachStatement(Connection connection) {
        return new ConnectionProvider() {
            private boolean began;

            @Override
            public Connection acquire() {
                try {
                    if (connection.getAutoCommit()) {
                        began = true;
                        begin(connection);
                    }
                    return connection;
                } catch (SQLException | RuntimeException e) {
                    release(connection);
                    throw e instanceof SQLException sql ? new DataAccessException(sql.getMessage(), sql) : (RuntimeException) e;
                }
            }

            @Override
            public void release(Connection released) {
                if (!began) {
                    return;
                }
                began = false;
                try {
                    // The commit of a transaction whose statement failed rolls it back.
                    released.commit();
                    released.setAutoCommit(true);
                } catch (SQLException e) {
                    throw new DataAccessException(e.getMessage(), e);
                }
            }
        };
    }

    /** One round trip: each setting local to the transaction, then READ ONLY (which can always be set, unlike READ WRITE). */
    /**
     * Lets the current transaction sit idle as long as it must (while other connections work for it) without the server's
     * {@code idle_in_transaction_session_timeout}, or on PostgreSQL 17+ {@code transaction_timeout}, ending it.
     */
    public static void mayIdle(Connection transaction) {
        var db = datakit.sql.Sql.using(transaction);
        db.execute("SET LOCAL idle_in_transaction_session_timeout = 0");
        try {
            if (transaction.getMetaData().getDatabaseMajorVersion() >= 17) {
                db.execute("SET LOCAL transaction_timeout = 0");
            }
        } catch (SQLException e) {
            throw new org.jooq.exception.DataAccessException(e.getMessage(), e);
        }
    }

    private static String render(Map<String, String> settings, boolean readOnly) {
        var statements = new ArrayList<String>();
        if (!settings.isEmpty()) {
            statements.add("SELECT " + settings.entrySet().stream()
                .map(s -> "pg_catalog.set_config(" + Sql.literal(s.getKey()) + ", " + Sql.literal(s.getValue()) + ", true)")
                .collect(Collectors.joining(", ")));
        }
        if (readOnly) {
            statements.add("SET TRANSACTION READ ONLY");
        }
        return String.join("; ", statements);
    }

    /**
     * A setting the server refuses (an unknown name, a bad value, one that only a connection's start may set, one
     * that only the start of a transaction may set: 25001) comes from the user's options or statement_timeout: a
     * configuration error that no retry fixes.
     */
    private static boolean refusedByTheServer(SQLException e) {
        String state = SqlErrors.sqlState(e);
        return state != null && (state.startsWith("42") || state.startsWith("22") || state.equals("55P02") || state.equals("25001"));
    }

    private DatakitException refused(SQLException e) {
        List<String> origins = new ArrayList<>();
        if (connection.options() != null) {
            origins.add("options from " + connection.origin(PgParam.OPTIONS));
        }
        if (connection.statementTimeout() != null) {
            origins.add("statement_timeout from " + connection.origin(PgParam.STATEMENT_TIMEOUT));
        }
        return DatakitException.badInput(("The %s refused a setting: %s. The datakits set the %s at the start of "
            + "each transaction (SET LOCAL); fix %s.").formatted(connection.role().label(), SqlErrors.serverMessage(e),
            origins.isEmpty() ? "server settings" : String.join(" and ", origins), origins.isEmpty() ? "them" : "it there"), e);
    }
}
