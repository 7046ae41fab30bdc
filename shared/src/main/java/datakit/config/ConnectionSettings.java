package datakit.config;

import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.Properties;

/**
 * Everything needed to connect to one database, resolved and checked once at start-up (see
 * {@link ConnectionResolver}). The password is a {@link Secret}, so printing the record is safe.
 *
 * @param origins where each parameter came from ({@code --source}, {@code SOURCE_PG_PORT (.env)}...),
 *                so errors can name the setting to fix
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
        Map<PgParam, String> origins) {

    private static final String SERVER_KEEPALIVES =
        "-c tcp_keepalives_idle=60 -c tcp_keepalives_interval=10 -c tcp_keepalives_count=6";

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
            Math.max(poolMin, connections), Math.max(poolSize, connections), maxRetries, driverProperties, origins);
    }

    /** {@code host:port/database}: how the database is named in output, logs and bronze metadata. */
    public String describe() {
        return hostForUrl() + ":" + port + "/" + database;
    }

    /** The JDBC URL without credentials; they travel in {@link #driverProperties(String)}. */
    public String jdbcUrl() {
        return "jdbc:postgresql://" + hostForUrl() + ":" + port + "/" + URLEncoder.encode(database, StandardCharsets.UTF_8);
    }

    private String hostForUrl() {
        return host.contains(":") ? "[" + host + "]" : host;
    }

    /**
     * PgJDBC properties. {@code sessionOptions} are extra {@code -c name=value} settings the caller needs
     * on every connection (the source adds {@code default_transaction_read_only=on}).
     */
    public Properties driverProperties(String sessionOptions) {
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
        props.setProperty("ApplicationName", applicationName);
        props.putIfAbsent("tcpKeepAlive", "true");
        // The server drops a session whose client vanished within about two minutes instead of two hours,
        // so a dead run's transaction and locks do not linger. The user's options come after and win.
        var startupOptions = new StringBuilder(SERVER_KEEPALIVES);
        if (options != null) {
            startupOptions.append(' ').append(options);
        }
        if (statementTimeout != null) {
            startupOptions.append(" -c statement_timeout=").append(statementTimeout);
        }
        if (sessionOptions != null && !sessionOptions.isBlank()) {
            startupOptions.append(' ').append(sessionOptions);
        }
        props.setProperty("options", startupOptions.toString().strip());
        return props;
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
