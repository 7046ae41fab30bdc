package datakit.testing;

import datakit.config.ConnectionUrl;
import datakit.config.PgParam;
import datakit.sandbox.PostgresSandbox;
import datakit.sandbox.PostgresServer;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Locale;
import java.util.UUID;

/**
 * The PostgreSQL server the integration tests run against, started once per JVM: the server named
 * by {@code DATAKIT_TEST_DATABASE_URL} when set (CI starts one), else a sandbox (Testcontainers when
 * Docker runs, else local PostgreSQL binaries in a temporary directory). Tests create their own databases.
 */
public final class TestPostgres {
    private static PostgresServer server;
    /** Databases made on a server we do not own, dropped when the tests end. */
    private static final java.util.List<String> CREATED = new java.util.concurrent.CopyOnWriteArrayList<>();

    private TestPostgres() {
    }

    public static synchronized PostgresServer server() {
        if (server == null) {
            String url = System.getenv("DATAKIT_TEST_DATABASE_URL");
            if (url != null && !url.isBlank()) {
                server = external(url);
                Runtime.getRuntime().addShutdownHook(new Thread(TestPostgres::dropCreatedDatabases, "drop-test-databases"));
            } else {
                server = PostgresSandbox.start(System.err::println);
            }
        }
        return server;
    }

    /** A new, empty database on the test server; its name starts with {@code prefix}. */
    public static TestDatabase createDatabase(String prefix) {
        TestDatabase database = createDatabase(server(), prefix);
        CREATED.add(database.name());
        return database;
    }

    /** A new, empty database on {@code server}, such as a test's own {@link datakit.sandbox.LocalCluster}. */
    public static TestDatabase createDatabase(PostgresServer server, String prefix) {
        String name = (prefix + "_" + UUID.randomUUID().toString().substring(0, 8)).toLowerCase(Locale.ROOT);
        try (Connection admin = connect(server, "postgres"); Statement st = admin.createStatement()) {
            st.execute("CREATE DATABASE \"" + name + "\"");
        } catch (SQLException e) {
            throw new IllegalStateException("cannot create test database " + name + " on " + server.description(), e);
        }
        return new TestDatabase(server, name);
    }

    /**
     * Drops what the tests made on a server we do not own. The slots go first, all of them, as they are quick to drop and
     * keep WAL for ever (a database holding one cannot be dropped either); then the databases, each on its own (each drop
     * waits for a checkpoint: the build gives this hook minutes, see the failsafe configuration), then the roles named
     * after them.
     */
    private static void dropCreatedDatabases() {
        try (Connection admin = connect("postgres"); Statement st = admin.createStatement()) {
            for (String name : CREATED) {
                try {
                    st.execute("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = '" + name
                        + "' AND NOT active");
                } catch (SQLException e) {
                    System.err.println("could not drop the slots of the test database " + name + ": " + e.getMessage());
                }
            }
            for (String name : CREATED) {
                try {
                    st.execute("DROP DATABASE IF EXISTS \"" + name + "\" WITH (FORCE)");
                } catch (SQLException e) {
                    System.err.println("could not drop the test database " + name + ": " + e.getMessage());
                }
            }
            dropTestRoles(admin);
        } catch (SQLException e) {
            System.err.println("could not drop the test databases " + CREATED + ": " + e.getMessage());
        }
    }

    /** The roles the tests made, each named after a database of theirs ({@code reader_<database>}), once their databases are gone. */
    private static void dropTestRoles(Connection admin) throws SQLException {
        var roles = new java.util.ArrayList<String>();
        try (Statement st = admin.createStatement(); var rs = st.executeQuery("SELECT rolname FROM pg_roles WHERE rolname !~ '^pg_'")) {
            while (rs.next()) {
                String role = rs.getString(1);
                if (CREATED.stream().anyMatch(database -> role.equals(database) || role.endsWith("_" + database))) {
                    roles.add(role);
                }
            }
        }
        for (String role : roles) {
            try (Statement st = admin.createStatement()) {
                st.execute("DROP OWNED BY \"" + role + "\"; DROP ROLE \"" + role + "\"");
            } catch (SQLException e) {
                System.err.println("could not drop the test role " + role + ": " + e.getMessage());
            }
        }
    }

    /** A superuser connection to a database of the test server. */
    public static Connection connect(String database) throws SQLException {
        return connect(server(), database);
    }

    /** A superuser connection to a database of {@code server}. */
    public static Connection connect(PostgresServer server, String database) throws SQLException {
        return DriverManager.getConnection(server.jdbcUrl(database), server.adminUser(), server.adminPassword());
    }

    /** A server someone else runs: tests create databases on it but never stop it. */
    private record ExternalServer(String host, int port, String adminUser, String adminPassword) implements PostgresServer {
        @Override
        public String description() {
            return "the server of DATAKIT_TEST_DATABASE_URL at " + host + ":" + port;
        }

        @Override
        public void close() {
            // Not ours to stop.
        }
    }

    private static PostgresServer external(String url) {
        var params = ConnectionUrl.parse(url, "DATAKIT_TEST_DATABASE_URL").params();
        String host = params.getOrDefault(PgParam.HOST, "localhost");
        int port = Integer.parseInt(params.getOrDefault(PgParam.PORT, "5432"));
        String user = params.getOrDefault(PgParam.USERNAME, "postgres");
        String password = params.getOrDefault(PgParam.PASSWORD, "");
        return new ExternalServer(host, port, user, password);
    }
}
