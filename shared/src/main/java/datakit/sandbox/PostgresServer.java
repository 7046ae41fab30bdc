package datakit.sandbox;

import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;

/**
 * A running, throwaway PostgreSQL server that the caller may create databases on, with
 * {@code wal_level=logical} and password authentication over TCP. {@link #close()} stops it and deletes
 * its data. Start one with {@link PostgresSandbox#start}.
 */
public interface PostgresServer extends AutoCloseable {

    /** The address to connect to, such as {@code 127.0.0.1}. */
    String host();

    int port();

    /** A superuser, {@code postgres}. */
    String adminUser();

    String adminPassword();

    /**
     * {@code postgresql://user:password@host:port/database}, the form {@code --source} and
     * {@code SOURCE_DATABASE_URL} take, with user, password and database percent-encoded.
     */
    default String url(String database) {
        return "postgresql://" + encode(adminUser()) + ":" + encode(adminPassword()) + "@" + hostForUrl() + ":" + port()
            + "/" + encode(database);
    }

    /** {@code jdbc:postgresql://host:port/database}, without credentials, for PgJDBC. */
    default String jdbcUrl(String database) {
        return "jdbc:postgresql://" + hostForUrl() + ":" + port() + "/" + encode(database);
    }

    private String hostForUrl() {
        return host().contains(":") ? "[" + host() + "]" : host();
    }

    private static String encode(String part) {
        // URLEncoder writes a space as '+', which a URL's user, password and path keep as a literal '+'.
        return URLEncoder.encode(part, StandardCharsets.UTF_8).replace("+", "%20");
    }

    /**
     * Which server this is, for the user: "local PostgreSQL 15.18 from /usr/lib/postgresql/15/bin in
     * /tmp/datakit-pg-123" or "Testcontainers postgres:17.6".
     */
    String description();

    /** Stops the server and deletes its data. Calling it again does nothing. */
    @Override
    void close();
}
