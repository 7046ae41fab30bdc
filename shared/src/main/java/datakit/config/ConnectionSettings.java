package datakit.config;

import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Properties;

/**
 * Everything needed to connect to one database, resolved and checked once at start-up (see
 * {@link ConnectionResolver}). The password is a {@link Secret}, so printing the record is safe.
 *
 * @param origins where each parameter came from ({@code --source}, {@code SOURCE_PG_PORT (.env)}...),
 *                so errors can name the setting to fix
 * @param rowSecurity whether reads may be filtered by row-level security policies ({@code --enable-row-security});
 *                    without it a source read that a policy would filter fails instead of returning fewer rows
 */
public record ConnectionSettings(
        Role role,
        String host,
        int port,
        String database,
        String username,
        Secret password,
        String sslmode,
        String sslcert,
        String sslkey,
        String sslrootcert,
        int connectTimeoutSeconds,
        String applicationName,
        String options,
        String statementTimeout,
        int poolMin,
        int poolSize,
        int maxRetries,
        Map<String, String> driverProperties,
        Map<PgParam, String> origins,
        boolean rowSecurity) {

    /**
     * The server drops a connection whose client vanished within about two minutes instead of two hours, so
     * a dead run's transaction and locks do not linger.
     */
    private static final Map<String, String> SERVER_KEEPALIVES = keepalives();

    public ConnectionSettings {
        driverProperties = Map.copyOf(driverProperties);
        origins = Map.copyOf(origins);
    }

    /**
     * These settings with a pool of at least {@code connections}, all kept open: a parallel run holds one
     * per worker, and the pool opens them in the background while the run plans.
     */
    public ConnectionSettings withPoolReadyFor(int connections) {
        return poolSize >= connections && poolMin >= connections ? this : new ConnectionSettings(role, host, port, database, username,
            password, sslmode, sslcert, sslkey, sslrootcert, connectTimeoutSeconds, applicationName, options, statementTimeout,
            Math.max(poolMin, connections), Math.max(poolSize, connections), maxRetries, driverProperties, origins, rowSecurity);
    }

    /** These settings, reading under the row-level security policies or not ({@code --enable-row-security}). */
    public ConnectionSettings withRowSecurity(boolean enabled) {
        return new ConnectionSettings(role, host, port, database, username, password, sslmode, sslcert, sslkey, sslrootcert,
            connectTimeoutSeconds, applicationName, options, statementTimeout, poolMin, poolSize, maxRetries, driverProperties, origins,
            enabled);
    }

    /** {@code host:port/database}: how the database is named in output, logs and bronze metadata. */
    public String describe() {
        return hostForUrl() + ":" + port + "/" + database;
    }

    /** The JDBC URL without credentials; they travel in {@link #jdbcProperties()}. */
    public String jdbcUrl() {
        return "jdbc:postgresql://" + hostForUrl() + ":" + port + "/" + URLEncoder.encode(database, StandardCharsets.UTF_8);
    }

    private String hostForUrl() {
        return host.contains(":") ? "[" + host + "]" : host;
    }

    /**
     * PgJDBC properties that any connection pooler carries: credentials, TLS, timeouts (connect_timeout bounds the TCP
     * connect and the whole login) and names, and no
     * {@code options} startup parameter (PgBouncer refuses it, or drops it when told to ignore it). The
     * server settings travel per transaction instead ({@link #serverSettings()}). Statements are never
     * prepared on the server ({@code prepareThreshold=0}): in transaction pooling a named prepared statement
     * stays on a server connection that the next transaction of this client may not get, and that another
     * client may. A JDBC URL's own properties override these defaults, not the resolved settings.
     */
    public Properties jdbcProperties() {
        var props = new Properties();
        props.putAll(driverProperties);
        props.setProperty("user", username);
        if (password != null) {
            props.setProperty("password", password.value());
        }
        props.setProperty("sslmode", sslmode);
        putIfSet(props, "sslcert", sslcert);
        putIfSet(props, "sslkey", sslkey);
        putIfSet(props, "sslrootcert", sslrootcert);
        props.setProperty("connectTimeout", String.valueOf(connectTimeoutSeconds));
        // connectTimeout bounds the TCP connect only: a server (or anything at its address) that takes the connection and never
        // answers would hold the login for ever. libpq's connect_timeout bounds the whole login, and so does this.
        props.putIfAbsent("loginTimeout", String.valueOf(connectTimeoutSeconds));
        props.setProperty("ApplicationName", applicationName);
        // From 9.0 on the name travels in the startup packet (a pooler passes it on), not in a SET after the login: one round
        // trip less for every connection, and replication connections, which take no SET, are named too.
        props.putIfAbsent("assumeMinServerVersion", "9.0");
        props.putIfAbsent("tcpKeepAlive", "true");
        props.putIfAbsent("prepareThreshold", "0");
        return props;
    }

    /**
     * PgJDBC properties with the server settings in the {@code options} startup parameter, for the one
     * connection that has no transactions to carry them and that no pooler carries anyway: CDC's replication
     * connection.
     */
    public Properties replicationProperties() {
        var props = jdbcProperties();
        var options = new StringBuilder();
        serverSettings().forEach((name, value) -> options.append(" -c ").append(name).append('=').append(value.replace("\\", "\\\\")
            .replace(" ", "\\ ")));
        props.setProperty("options", options.toString().strip());
        return props;
    }

    /**
     * The server settings every transaction on this database starts with (see db.TransactionSettings): TCP
     * keepalives, then the user's {@code options}, then {@code statement_timeout}; a later one wins.
     */
    public Map<String, String> serverSettings() {
        var settings = new LinkedHashMap<>(SERVER_KEEPALIVES);
        if (options != null) {
            settings.putAll(ServerOptions.parse(options));
        }
        if (statementTimeout != null) {
            settings.put("statement_timeout", statementTimeout);
        }
        return settings;
    }

    private static Map<String, String> keepalives() {
        var keepalives = new LinkedHashMap<String, String>();
        keepalives.put("tcp_keepalives_idle", "60");
        keepalives.put("tcp_keepalives_interval", "10");
        keepalives.put("tcp_keepalives_count", "6");
        return Collections.unmodifiableMap(keepalives);
    }

    private static void putIfSet(Properties props, String key, String value) {
        if (value != null) {
            props.setProperty(key, value);
        }
    }

    /** Where a parameter's value came from, or "the default". */
    public String origin(PgParam param) {
        return origins.getOrDefault(param, "the default");
    }
}
