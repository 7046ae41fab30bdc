package datakit.config;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ConnectionSettingsTest {
    @TempDir
    Path home;

    private static ConnectionSettings settings(String host, int port, String database, Secret password,
                                               String options, String statementTimeout, Map<String, String> driverProperties) {
        return new ConnectionSettings(Role.SOURCE, host, port, database, "alice", password, "require",
            null, null, null, 10, "orders-full", options, statementTimeout, 1, 4, 3, driverProperties,
            Map.of(PgParam.HOST, "--source"), false);
    }

    private static ConnectionSettings settings(String host, int port, String database) {
        return settings(host, port, database, new Secret("Zq9xSecret"), null, null, Map.of());
    }

    private ConnectionSettings resolve(String urlFlag, Map<String, String> process) {
        var env = new Environment(process, Map.of(), ".env", home, "osuser");
        return new ConnectionResolver(env, message -> { }).resolve(Role.SOURCE, urlFlag, "orders-full");
    }

    // --- jdbcUrl and describe --------------------------------------------------------------------

    @Test
    void jdbcUrlHasHostPortAndDatabaseButNoCredentials() {
        var settings = settings("db.example.com", 6543, "shop");

        assertThat(settings.jdbcUrl()).isEqualTo("jdbc:postgresql://db.example.com:6543/shop");
        assertThat(settings.describe()).isEqualTo("db.example.com:6543/shop");
    }

    @Test
    void jdbcUrlEncodesOddDatabaseNames() {
        var settings = settings("h", 5432, "my db/2024?x&y=ü");

        assertThat(settings.jdbcUrl()).isEqualTo("jdbc:postgresql://h:5432/my+db%2F2024%3Fx%26y%3D%C3%BC");
    }

    @Test
    void pgjdbcReadsBackTheOddDatabaseName() {
        for (String database : new String[] {"my db/2024?x&y=ü", "a+b", "100%", "semi;colon"}) {
            Properties parsed = org.postgresql.Driver.parseURL(settings("h", 5432, database).jdbcUrl(), new Properties());

            assertThat(parsed).as(database).isNotNull();
            assertThat(parsed.getProperty("PGDBNAME")).as(database).isEqualTo(database);
        }
    }

    @Test
    void jdbcUrlBracketsAnIpv6Host() {
        var settings = settings("::1", 5433, "shop");

        assertThat(settings.jdbcUrl()).isEqualTo("jdbc:postgresql://[::1]:5433/shop");
        assertThat(settings.describe()).isEqualTo("[::1]:5433/shop");
        Properties parsed = org.postgresql.Driver.parseURL(settings.jdbcUrl(), new Properties());
        assertThat(parsed.getProperty("PGHOST")).isEqualTo("[::1]");
        assertThat(parsed.getProperty("PGPORT")).isEqualTo("5433");
    }

    @Test
    void resolvedIpv6UrlRoundTripsToTheJdbcUrl() {
        var settings = resolve("postgresql://alice@[::1]:5433/shop", Map.of());

        assertThat(settings.jdbcUrl()).isEqualTo("jdbc:postgresql://[::1]:5433/shop");
    }

    // --- jdbcProperties and serverSettings ----------------------------------------------------------

    /** Server-side keepalives every connection asks for, ahead of the user's own options. */
    static final String KEEPALIVES = "-c tcp_keepalives_idle=60 -c tcp_keepalives_interval=10 -c tcp_keepalives_count=6";

    @Test
    void jdbcPropertiesCarryCredentialsSslApplicationNameAndTimeoutButNoStartupOptions() {
        var props = settings("h", 5432, "shop", new Secret("Zq9xSecret"), "-c work_mem=64MB", "30s", Map.of()).jdbcProperties();

        assertThat(props).containsExactlyInAnyOrderEntriesOf(Map.of(
            "user", "alice",
            "password", "Zq9xSecret",
            "sslmode", "require",
            "ApplicationName", "orders-full",
            "connectTimeout", "10",
            "loginTimeout", "10",
            "tcpKeepAlive", "true",
            "prepareThreshold", "0",
            // application_name in the startup packet, not in a SET after the login
            "assumeMinServerVersion", "9.0"));
    }

    /** A server that takes the connection and never answers fails the login after connect_timeout, unless the URL says otherwise. */
    @Test
    void connectTimeoutBoundsTheWholeLoginUnlessTheJdbcUrlSetsLoginTimeout() {
        assertThat(settings("h", 5432, "shop").jdbcProperties()).containsEntry("loginTimeout", "10");
        assertThat(settings("h", 5432, "shop", null, null, null, Map.of("loginTimeout", "30")).jdbcProperties())
            .containsEntry("loginTimeout", "30").containsEntry("connectTimeout", "10");
    }

    @Test
    void jdbcPropertiesLeaveOutAMissingPassword() {
        var props = settings("h", 5432, "shop", null, null, null, Map.of()).jdbcProperties();

        assertThat(props).doesNotContainKey("password").containsEntry("user", "alice");
    }

    @Test
    void aJdbcUrlMayPrepareStatementsOnTheServerAgain() {
        var props = settings("h", 5432, "shop", null, null, null, Map.of("prepareThreshold", "5")).jdbcProperties();

        assertThat(props).containsEntry("prepareThreshold", "5");
    }

    @Test
    void serverSettingsAreTheKeepalivesThenTheUsersOptionsThenTheStatementTimeout() {
        var settings = settings("h", 5432, "shop", null, "-c work_mem=64MB --statement-timeout=1min -c tcp_keepalives_idle=30", "30s",
            Map.of());

        assertThat(settings.serverSettings()).containsExactly(
            Map.entry("tcp_keepalives_idle", "30"),
            Map.entry("tcp_keepalives_interval", "10"),
            Map.entry("tcp_keepalives_count", "6"),
            Map.entry("work_mem", "64MB"),
            Map.entry("statement_timeout", "30s"));
    }

    @Test
    void withoutOptionsOnlyTheKeepalivesAreSet() {
        assertThat(settings("h", 5432, "shop").serverSettings()).containsExactly(
            Map.entry("tcp_keepalives_idle", "60"),
            Map.entry("tcp_keepalives_interval", "10"),
            Map.entry("tcp_keepalives_count", "6"));
    }

    @Test
    void theReplicationConnectionGetsTheServerSettingsAsStartupOptions() {
        var props = settings("h", 5432, "shop", null, "-c search_path=my\\ app", "5min", Map.of()).replicationProperties();

        assertThat(props.getProperty("options")).isEqualTo(KEEPALIVES + " -c search_path=my\\ app -c statement_timeout=5min");
    }

    @Test
    void sslFilesArePassedWhenSet() {
        var settings = new ConnectionSettings(Role.SOURCE, "h", 5432, "shop", "alice", null, "verify-full",
            "/c/client.crt", "/c/client.key", "system", 10, "orders-full", null, null, 1, 4, 3, Map.of(), Map.of(), false);

        assertThat(settings.jdbcProperties())
            .containsEntry("sslcert", "/c/client.crt")
            .containsEntry("sslkey", "/c/client.key")
            .containsEntry("sslrootcert", "system")
            .containsEntry("sslmode", "verify-full");
    }

    @Test
    void extraJdbcPropertiesArePassedButCannotOverrideResolvedOnes() {
        var props = settings("h", 5432, "shop", null, null, null, Map.of("tcpKeepAlive", "true", "sslmode", "disable"))
            .jdbcProperties();

        assertThat(props).containsEntry("tcpKeepAlive", "true").containsEntry("sslmode", "require");
    }

    @Test
    void resolvedJdbcUrlPropertiesReachTheDriver() {
        var settings = resolve("jdbc:postgresql://h/db?user=u&password=p&tcpKeepAlive=true&statement_timeout=30s", Map.of());

        assertThat(settings.jdbcProperties())
            .containsEntry("tcpKeepAlive", "true")
            .containsEntry("user", "u")
            .containsEntry("password", "p")
            .doesNotContainKey("options");
        assertThat(settings.serverSettings()).containsEntry("statement_timeout", "30s");
    }

    // --- secrets ---------------------------------------------------------------------------------

    @Test
    void recordToStringNeverShowsThePassword() {
        var settings = settings("h", 5432, "shop");

        assertThat(settings.toString()).doesNotContain("Zq9xSecret").contains("password=****");
    }

    @Test
    void secretToStringNeverShowsTheValue() {
        var secret = new Secret("Zq9xSecret");

        assertThat(secret.toString()).isEqualTo("****");
        assertThat(String.valueOf(Map.of("password", secret))).doesNotContain("Zq9xSecret");
        assertThat(secret.value()).isEqualTo("Zq9xSecret");
    }

    @Test
    void originNamesWhereAValueCameFromOrTheDefault() {
        var settings = settings("h", 5432, "shop");

        assertThat(settings.origin(PgParam.HOST)).isEqualTo("--source");
        assertThat(settings.origin(PgParam.PORT)).isEqualTo("the default");
    }
}
