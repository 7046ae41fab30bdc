package datakit.db;

import datakit.config.ConnectionSettings;
import datakit.config.PgParam;
import datakit.error.DatakitException;
import datakit.sql.TableRef;
import java.net.ConnectException;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.security.cert.CertificateException;
import java.sql.SQLException;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.postgresql.util.PSQLException;
import org.postgresql.util.ServerErrorMessage;

/**
 * Turns driver exceptions into one-line {@link DatakitException}s that say what failed, why, and
 * which setting to check. PgJDBC messages never contain the password, and neither do these.
 */
public final class SqlErrors {
    /** PgBouncer's answer to a startup parameter it neither handles nor was told to ignore. */
    private static final Pattern UNSUPPORTED_STARTUP_PARAMETER = Pattern.compile("unsupported startup parameter: (\\S+)");

    private SqlErrors() {
    }

    /** A failure to open a connection to the database {@code settings} describe. */
    public static DatakitException connectFailure(ConnectionSettings settings, Throwable e, int attempts) {
        String target = "Cannot connect to the %s %s@%s".formatted(settings.role().label(), settings.username(), settings.describe());
        String state = sqlState(e);
        // No pg_hba.conf line lets this plain connection in: none for this client at all, or only hostssl lines.
        if ("28000".equals(state) && serverMessage(e).endsWith("no encryption")) {
            return DatakitException.badInput(("%s: %s. The server's pg_hba.conf lets no connection without TLS in "
                + "from here: if it takes TLS ones (hostssl), set sslmode (from %s) to require, verify-ca or verify-full; "
                + "else ask for a pg_hba.conf line for this host, user and database.")
                .formatted(target, serverMessage(e), settings.origin(PgParam.SSLMODE)), e);
        }
        if ("28P01".equals(state) || "28000".equals(state)) {
            return DatakitException.badInput("%s: %s. Check the user and password (password from %s)."
                .formatted(target, serverMessage(e), settings.origin(PgParam.PASSWORD)), e);
        }
        if ("08004".equals(state)) {
            return DatakitException.badInput("%s: %s. Check the connection settings (password from %s, sslmode from %s)."
                .formatted(target, serverMessage(e), settings.origin(PgParam.PASSWORD), settings.origin(PgParam.SSLMODE)), e);
        }
        Optional<String> parameter = unsupportedStartupParameter(e);
        if (parameter.isPresent()) {
            return DatakitException.badInput("%s: %s. %s".formatted(target, serverMessage(e),
                startupParameterHint(settings, parameter.get())), e);
        }
        if (pooledStatementClash(e)) {
            return DatakitException.badInput("%s: %s. %s.".formatted(target, serverMessage(e), POOLED_STATEMENT_HINT), e);
        }
        // The server checks CONNECT against the login, before the login's settings could switch to another role.
        Optional<String> grant = "42501".equals(state) ? Grants.fix(e, settings.role(), settings.username(), Optional.empty()) : Optional.empty();
        if (grant.isPresent()) {
            return DatakitException.badInput("%s: %s. As the database's owner or a superuser, run %s"
                .formatted(target, serverMessage(e), grant.get()), e);
        }
        if ("3D000".equals(state)) {
            return DatakitException.badInput("%s: %s. Check the database name (from %s)."
                .formatted(target, serverMessage(e), settings.origin(PgParam.DATABASE)), e);
        }
        if (Retry.causedBy(e, UnknownHostException.class)) {
            return DatakitException.badInput("%s: the host name \"%s\" is unknown. Check the host (from %s)."
                .formatted(target, settings.host(), settings.origin(PgParam.HOST)), e);
        }
        if (Retry.causedBy(e, CertificateException.class)) {
            return DatakitException.badInput(("%s: the server's TLS certificate could not be verified with the CA "
                + "certificate %s (%s). Check sslrootcert (from %s): it must hold the CA that signed the server's certificate, and that "
                + "certificate must be within its validity dates.")
                .formatted(target, settings.sslrootcert() == null ? "~/.postgresql/root.crt" : settings.sslrootcert(), rootCause(e),
                    settings.origin(PgParam.SSLROOTCERT)), e);
        }
        if (hostNameRejected(e)) {
            return DatakitException.badInput(("%s: the server's TLS certificate is not valid for the host name %s, which "
                + "sslmode %s (from %s) checks. Check the host (from %s): connect through a name the certificate lists, or use sslmode "
                + "verify-ca to check the CA only.")
                .formatted(target, settings.host(), settings.sslmode(), settings.origin(PgParam.SSLMODE), settings.origin(PgParam.HOST)), e);
        }
        String tries = attempts > 1 ? " (tried " + attempts + " times)" : "";
        if (Retry.causedBy(e, ConnectException.class)) {
            return DatakitException.failed("%s: connection refused%s. Check that the server is running and that the host (from %s) and port (from %s) are right."
                    .formatted(target, tries, settings.origin(PgParam.HOST), settings.origin(PgParam.PORT)), e);
        }
        if (Retry.causedBy(e, SocketTimeoutException.class) || loginTimedOut(e)) {
            return DatakitException.failed("%s: no answer within %d s%s. Check the host, port and firewall, or raise connect_timeout."
                    .formatted(target, settings.connectTimeoutSeconds(), tries), e);
        }
        return DatakitException.failed("%s: %s%s.".formatted(target, serverMessage(e), tries), e);
    }

    /** PgJDBC's loginTimeout (connect_timeout) ran out: the server took the connection and did not answer in time. */
    private static boolean loginTimedOut(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof PSQLException p && "08001".equals(p.getSQLState()) && "Connection attempt timed out.".equals(p.getMessage())) {
                return true;
            }
        }
        return false;
    }

    /**
     * A server-side prepared statement that exists twice or not at all (42P05, 26000): what transaction
     * pooling does to named prepared statements. Never the user's SQL.
     */
    static boolean pooledStatementClash(Throwable e) {
        String state = sqlState(e);
        return "42P05".equals(state) || "26000".equals(state);
    }

    /**
     * Whether the server's error is about the statement it was given: syntax and unknown names (class 42),
     * bad values (22), an attempt to write in a read-only transaction (25006), what PostgreSQL does not
     * support in such a query (0A000, a data-modifying WITH below the top level). Not a prepared statement
     * that transaction pooling mixed up (42P05, though class 42).
     */
    public static boolean aboutTheStatement(Throwable e) {
        String state = sqlState(e);
        return state != null && (state.startsWith("42") || state.startsWith("22") || state.equals("25006") || state.equals("0A000"))
            && !pooledStatementClash(e);
    }

    private static final String POOLED_STATEMENT_HINT = "A connection pooler in transaction mode gave this transaction a server "
        + "connection whose prepared statements belong to another: leave prepareThreshold at the datakits' default, 0, in the JDBC URL";

    /**
     * The startup parameter a connection pooler refused ({@code unsupported startup parameter: search_path}):
     * a configuration error, which retrying cannot fix.
     */
    static Optional<String> unsupportedStartupParameter(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            Matcher m = t.getMessage() == null ? null : UNSUPPORTED_STARTUP_PARAMETER.matcher(t.getMessage());
            if (m != null && m.find()) {
                return Optional.of(m.group(1));
            }
        }
        return Optional.empty();
    }

    /** What sent the refused parameter, and what to change: the URL's property, or the pooler's ignore_startup_parameters. */
    private static String startupParameterHint(ConnectionSettings settings, String parameter) {
        String url = "the JDBC URL (" + settings.role().urlFlag() + " or " + settings.role().urlVariable() + ")";
        return switch (parameter) {
            case "replication", "options" -> "A connection pooler such as PgBouncer is in the way: postgres-cdc streams changes on a "
                + "replication connection, which poolers do not carry. Point postgres-cdc's source at the server itself.";
            case "search_path" -> "A connection pooler such as PgBouncer is in the way, and the property currentSchema of " + url
                + " asks for search_path at connection start: take it out, or add search_path to PgBouncer's ignore_startup_parameters.";
            default -> "A connection pooler such as PgBouncer is in the way, and the driver sends " + parameter + " at connection start "
                + "(a property of " + url + ", or the driver's own): add " + parameter + " to PgBouncer's ignore_startup_parameters, "
                + "or take the property out of the URL.";
        };
    }

    /**
     * Whether the server's TLS certificate was refused: not signed by a trusted CA, expired, or not for the
     * host dialled. Retrying cannot help.
     */
    static boolean certificateRejected(Throwable e) {
        return Retry.causedBy(e, CertificateException.class) || hostNameRejected(e);
    }

    /** PgJDBC's verify-full host name check throws without a cause; its message names the verifier class, untranslated. */
    private static boolean hostNameRejected(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof PSQLException && t.getMessage() != null && t.getMessage().contains("PgjdbcHostnameVerifier")) {
                return true;
            }
        }
        return false;
    }

    /** The last message of the cause chain: the JDK's reason without its wrappers' class names. */
    private static String rootCause(Throwable e) {
        String message = e.getClass().getSimpleName();
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t.getMessage() != null) {
                message = t.getMessage();
            }
        }
        return oneLine(message);
    }

    /**
     * A failure while doing {@code action} ("Reading sales.orders from the source"); a permission error asks
     * for the missing privilege without naming it (see {@link #failure(String, Throwable, Database)}).
     */
    public static DatakitException failure(String action, Throwable e) {
        return failure(action, e, Optional.empty());
    }

    /**
     * A failure while doing {@code action} on {@code database}: like {@link #failure(String, Throwable)}, with a
     * permission error answered by the GRANT to run there, for the role the server checked.
     */
    public static DatakitException failure(String action, Throwable e, Database database) {
        return failure(action, e, Optional.of(database));
    }

    /**
     * A failure while copying from {@code source} into {@code warehouse}: a permission error is the warehouse's
     * (which creates and writes bronze) or, for a large object, the source's (which reads it).
     */
    public static DatakitException loadFailure(String action, Throwable e, Database source, Database warehouse) {
        return failure(action, e, serverMessage(e).contains("large object") ? source : warehouse);
    }

    private static DatakitException failure(String action, Throwable e, Optional<Database> database) {
        if (e instanceof DatakitException known) {
            return known;
        }
        if (RecoveryConflict.is(e)) {
            return DatakitException.failed("%s failed: %s. %s.".formatted(action, serverMessage(e), RecoveryConflict.explain(e)), e);
        }
        if ("25006".equals(sqlState(e))) {
            return DatakitException.badInput(("%s failed: %s. The datakits read the source in read-only "
                + "transactions; take the writing part out of --query.").formatted(action, serverMessage(e)), e);
        }
        if ("57014".equals(sqlState(e)) && serverMessage(e).contains("statement timeout")) {
            return DatakitException.failed(("%s failed: %s. Not retried, since it would time out again: raise "
                + "statement_timeout (?statement_timeout=MS in the URL or SOURCE_PG_/WAREHOUSE_PG_STATEMENT_TIMEOUT, 0 for none; "
                + "or the role's default).").formatted(action, serverMessage(e)), e);
        }
        if (pooledStatementClash(e)) {
            return DatakitException.badInput("%s failed: %s. %s.".formatted(action, serverMessage(e), POOLED_STATEMENT_HINT), e);
        }
        if ("42501".equals(sqlState(e))) {
            return DatakitException.badInput("%s failed: %s. Trying again will not help: %s"
                .formatted(action, serverMessage(e), grant(e, database)), e);
        }
        return DatakitException.failed("%s failed: %s.".formatted(action, serverMessage(e)), e);
    }

    /** What to grant for a permission error, and to whom: the GRANT itself where the message names what is missing. */
    private static String grant(Throwable e, Optional<Database> database) {
        if (database.isEmpty()) {
            return "grant the missing privilege to the user named in the settings.";
        }
        ConnectionSettings settings = database.get().settings();
        String role = database.get().currentUser();
        return Grants.fix(e, settings.role(), role, Optional.empty()).map(g -> "grant it on the " + settings.role().label() + ": " + g)
            .orElse("grant the missing privilege on the " + settings.role().label() + " to " + TableRef.display(role) + ".");
    }

    /** The server's error as it sent it (message, detail, hint), if the server sent {@code e}. */
    static Optional<ServerErrorMessage> serverError(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof PSQLException p && p.getServerErrorMessage() != null) {
                return Optional.of(p.getServerErrorMessage());
            }
        }
        return Optional.empty();
    }

    /** The server's message with its detail and hint on one line, or the driver's message. */
    public static String serverMessage(Throwable e) {
        return oneLine(serverError(e).map(m -> m.getMessage() + (m.getDetail() == null ? "" : " (" + m.getDetail() + ")")
            + (m.getHint() == null ? "" : ". Hint: " + m.getHint())).orElseGet(() -> driverMessage(e)));
    }

    /** The driver's own message beats a pool's wrapper ("Connection is not available..."). */
    private static String driverMessage(Throwable e) {
        for (Class<?> type : new Class<?>[] {PSQLException.class, SQLException.class, Throwable.class}) {
            for (Throwable t = e; t != null; t = t.getCause()) {
                if (type.isInstance(t) && t.getMessage() != null) {
                    return t.getMessage();
                }
            }
        }
        return e.getClass().getSimpleName();
    }

    /** The first SQLSTATE in the cause chain, or null. */
    public static String sqlState(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof SQLException sql && sql.getSQLState() != null) {
                return sql.getSQLState();
            }
        }
        return null;
    }

    private static String oneLine(String s) {
        return s.replaceAll("\\s*\\R\\s*", " ").strip().replaceAll("\\.$", "");
    }
}
