package datakit.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import datakit.error.DatakitException;
import datakit.error.ExitCode;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class ConnectionUrlTest {
    private static final String EXPECTED =
        " Expected postgresql://user:password@host:port/database?sslmode=... or jdbc:postgresql://host:port/database.";

    private static DatakitException badUrl(String url, String origin) {
        var error = assertThrows(DatakitException.class, () -> ConnectionUrl.parse(url, origin));
        assertThat(error.exitCode()).isEqualTo(ExitCode.BAD_INPUT);
        assertThat(error.getMessage()).startsWith(origin + " is not a valid PostgreSQL URL (");
        return error;
    }

    // --- parsing ---------------------------------------------------------------------------------

    @Test
    void libpqUrlGivesUserPasswordHostPortDatabaseAndQueryParameters() {
        var url = ConnectionUrl.parse(
            "postgresql://alice:s3cret@db.example.com:6543/shop?sslmode=require&application_name=nightly", "--source");

        assertThat(url.params()).isEqualTo(Map.of(
            PgParam.USERNAME, "alice",
            PgParam.PASSWORD, "s3cret",
            PgParam.HOST, "db.example.com",
            PgParam.PORT, "6543",
            PgParam.DATABASE, "shop",
            PgParam.SSLMODE, "require",
            PgParam.APPLICATION_NAME, "nightly"));
        assertThat(url.driverProperties()).isEmpty();
    }

    @Test
    void urlWithOnlyAHostSetsOnlyTheHost() {
        var url = ConnectionUrl.parse("postgresql://db.example.com", "--source");

        assertThat(url.params()).isEqualTo(Map.of(PgParam.HOST, "db.example.com"));
    }

    @Test
    void userWithoutPasswordSetsNoPassword() {
        var url = ConnectionUrl.parse("postgresql://alice@h/db", "--source");

        assertThat(url.params()).containsEntry(PgParam.USERNAME, "alice").doesNotContainKey(PgParam.PASSWORD);
    }

    @Test
    void percentEncodedPasswordIsDecodedWithAtColonSlashAndPercent() {
        var url = ConnectionUrl.parse("postgresql://alice:p%40ss%3Aw%2Fo%25rd@h:5432/db", "--source");

        assertThat(url.params())
            .containsEntry(PgParam.PASSWORD, "p@ss:w/o%rd")
            .containsEntry(PgParam.USERNAME, "alice")
            .containsEntry(PgParam.HOST, "h");
    }

    @Test
    void percentEncodedUtf8IsDecodedInUserAndDatabase() {
        var url = ConnectionUrl.parse("postgresql://j%C3%BCrgen@h/caf%C3%A9%20db", "--source");

        assertThat(url.params())
            .containsEntry(PgParam.USERNAME, "jürgen")
            .containsEntry(PgParam.DATABASE, "café db");
    }

    @Test
    void unencodedAtInThePasswordSplitsAtTheLastAt() {
        var url = ConnectionUrl.parse("postgresql://alice:p@ss@h/db", "--source");

        assertThat(url.params())
            .containsEntry(PgParam.PASSWORD, "p@ss")
            .containsEntry(PgParam.HOST, "h");
    }

    @Test
    void ipv6HostInBracketsKeepsItsColonsAndGivesThePort() {
        var url = ConnectionUrl.parse("postgresql://u@[::1]:5433/db", "--source");

        assertThat(url.params())
            .containsEntry(PgParam.HOST, "::1")
            .containsEntry(PgParam.PORT, "5433")
            .containsEntry(PgParam.DATABASE, "db");
    }

    @Test
    void ipv6HostWithoutPortGivesNoPort() {
        var url = ConnectionUrl.parse("postgresql://[2001:db8::7]/db", "--source");

        assertThat(url.params())
            .containsEntry(PgParam.HOST, "2001:db8::7")
            .doesNotContainKey(PgParam.PORT);
    }

    @Test
    void postgresSchemeIsAnAliasOfPostgresql() {
        var alias = ConnectionUrl.parse("postgres://alice:pw@h:5433/db?sslmode=disable", "--source");
        var full = ConnectionUrl.parse("postgresql://alice:pw@h:5433/db?sslmode=disable", "--source");

        assertThat(alias).isEqualTo(full);
    }

    @Test
    void jdbcUrlReadsUserAndPasswordFromTheQueryAndPassesUnknownPropertiesToTheDriver() {
        var url = ConnectionUrl.parse("jdbc:postgresql://h:5/db?user=u&password=p&tcpKeepAlive=true", "--source");

        assertThat(url.params()).isEqualTo(Map.of(
            PgParam.HOST, "h",
            PgParam.PORT, "5",
            PgParam.DATABASE, "db",
            PgParam.USERNAME, "u",
            PgParam.PASSWORD, "p"));
        assertThat(url.driverProperties()).isEqualTo(Map.of("tcpKeepAlive", "true"));
    }

    @Test
    void jdbcUrlUnderstandsPgJdbcSpellingsOfKnownParameters() {
        var url = ConnectionUrl.parse("jdbc:postgresql://h/db?ApplicationName=nightly&connectTimeout=7", "--source");

        assertThat(url.params())
            .containsEntry(PgParam.APPLICATION_NAME, "nightly")
            .containsEntry(PgParam.CONNECT_TIMEOUT, "7");
        assertThat(url.driverProperties()).isEmpty();
    }

    @Test
    void jdbcUrlWithOnlyADatabaseMeansLocalHostAndDefaultPort() {
        var url = ConnectionUrl.parse("jdbc:postgresql:shop", "--source");

        assertThat(url.params()).isEqualTo(Map.of(PgParam.DATABASE, "shop"));
        assertThat(url.driverProperties()).isEmpty();
    }

    @Test
    void unknownQueryParameterInALibpqUrlIsBadInputNamingTheParameter() {
        var error = badUrl("postgresql://h/db?tcpKeepAlive=true", "SOURCE_DATABASE_URL");

        assertThat(error.getMessage()).isEqualTo(
            "SOURCE_DATABASE_URL is not a valid PostgreSQL URL (postgresql://h/db?tcpKeepAlive=true): "
                + "parameter \"tcpKeepAlive\" is not one the datakits understand. Known: host, port, database, dbname, "
                + "username, user, password, sslmode, sslcert, sslkey, sslrootcert, connect_timeout, application_name, "
                + "options, statement_timeout, pool_min, pool_size, pool_max, max_retries. "
                + "Use a jdbc:postgresql:// URL to pass other PgJDBC properties." + EXPECTED);
    }

    @Test
    void databaseBeatsDbnameWhateverTheOrder() {
        assertThat(ConnectionUrl.parse("postgresql://h/?dbname=alias&database=preferred", "--source").params())
            .containsEntry(PgParam.DATABASE, "preferred");
        assertThat(ConnectionUrl.parse("postgresql://h/?database=preferred&dbname=alias", "--source").params())
            .containsEntry(PgParam.DATABASE, "preferred");
    }

    @Test
    void dbnameInTheQueryOverridesTheDatabaseInThePath() {
        var url = ConnectionUrl.parse("postgresql://h/pathdb?dbname=querydb", "--source");

        assertThat(url.params()).containsEntry(PgParam.DATABASE, "querydb");
    }

    @Test
    void usernameBeatsUserWhenUserComesFirst() {
        var url = ConnectionUrl.parse("postgresql://h/db?user=alias&username=preferred", "--source");

        assertThat(url.params()).containsEntry(PgParam.USERNAME, "preferred");
    }

    @Test
    void usernameBeatsUserWhenUsernameComesFirst() {
        var url = ConnectionUrl.parse("postgresql://h/db?username=preferred&user=alias", "--source");

        assertThat(url.params()).containsEntry(PgParam.USERNAME, "preferred");
    }

    @Test
    void poolMaxIsAnAliasOfPoolSize() {
        var url = ConnectionUrl.parse("postgresql://h/db?pool_max=8", "--source");

        assertThat(url.params()).containsEntry(PgParam.POOL_SIZE, "8");
    }

    // --- malformed URLs --------------------------------------------------------------------------

    @Test
    void otherSchemeIsRefused() {
        var error = badUrl("mysql://x", "--source");

        assertThat(error.getMessage()).isEqualTo("--source is not a valid PostgreSQL URL (mysql://x): "
            + "it does not start with postgresql://, postgres:// or jdbc:postgresql:." + EXPECTED);
    }

    @Test
    void missingColonAfterTheSchemeIsRefused() {
        var error = badUrl("postgresql//x", "--source");

        assertThat(error.getMessage()).isEqualTo("--source is not a valid PostgreSQL URL (postgresql//x): "
            + "it does not start with postgresql://, postgres:// or jdbc:postgresql:." + EXPECTED);
    }

    @Test
    void percentWithoutTwoHexDigitsIsRefused() {
        var error = badUrl("postgresql://h/db%zz", "WAREHOUSE_DATABASE_URL");

        assertThat(error.getMessage()).isEqualTo("WAREHOUSE_DATABASE_URL is not a valid PostgreSQL URL (postgresql://h/db%zz): "
            + "it has a % that is not followed by two hex digits (write a literal % as %25)." + EXPECTED);
    }

    @Test
    void percentAtTheEndIsRefused() {
        var error = badUrl("postgresql://h/db%2", "--source");

        assertThat(error.getMessage()).contains("it has a % that is not followed by two hex digits");
    }

    @Test
    void severalHostsAreRefused() {
        var error = badUrl("postgresql://h1,h2/db", "--source");

        assertThat(error.getMessage()).isEqualTo("--source is not a valid PostgreSQL URL (postgresql://h1,h2/db): "
            + "it names several hosts; the datakits connect to one host. Give the primary's host." + EXPECTED);
    }

    @Test
    void unclosedIpv6BracketIsRefused() {
        var error = badUrl("postgresql://[::1/db", "--source");

        assertThat(error.getMessage()).isEqualTo("--source is not a valid PostgreSQL URL (postgresql://[::1/db): "
            + "the IPv6 address has no closing ]." + EXPECTED);
    }

    @Test
    void textAfterTheIpv6AddressIsRefused() {
        var error = badUrl("postgresql://[::1]x/db", "--source");

        assertThat(error.getMessage()).contains("unexpected text after the IPv6 address");
    }

    // --- passwords never appear in error messages ------------------------------------------------

    @ParameterizedTest
    @ValueSource(strings = {
        "mysql://alice:Zq9xSecret@h/db",
        "postgresql://alice:Zq9xSecret@h/db%zz",
        "postgresql://alice:Zq9xSecret@h1,h2/db",
        "postgresql://alice:Zq9xSecret@[::1/db",
        "postgresql://alice:Zq9xSecret@[::1]x/db",
        "postgresql://alice:Zq9xSecret@h/db?tcpKeepAlive=true",
        "postgresql://alice:Zq9x%zzSecret@h/db",
        "postgresql://h/db?user=alice&password=Zq9xSecret&bogus=1",
        "jdbc:postgresql://h/db?user=alice&password=Zq9xSecret&x=%zz",
        "postgresql://alice:Zq9x/Secret@h/db%zz",
        "postgresql://alice:Zq9x@Secret@h1,h2/db",
    })
    void errorMessagesNeverContainThePassword(String url) {
        var error = badUrl(url, "--source");

        assertThat(error.getMessage()).doesNotContain("Zq9x", "Secret").contains("****");
    }

    @Test
    void errorForAUrlMissingTheColonAfterTheSchemeDoesNotContainThePassword() {
        var error = badUrl("postgresql//alice:Zq9xSecret@h/db", "--source");

        assertThat(error.getMessage()).doesNotContain("Zq9xSecret");
    }

    @Test
    void aPasswordWithAnUnencodedQuestionMarkIsReadAsLibpqReadsIt() {
        // User information runs to the last @ before the first /, so the ? does not start a query.
        var url = ConnectionUrl.parse("postgresql://alice:Head?Tail@h/db?sslmode=require", "--source");

        assertThat(url.params()).containsEntry(PgParam.PASSWORD, "Head?Tail").containsEntry(PgParam.HOST, "h")
            .containsEntry(PgParam.DATABASE, "db").containsEntry(PgParam.SSLMODE, "require");
    }

    @Test
    void aPasswordWithAnUnencodedSlashIsRefusedWithoutRepeatingIt() {
        var error = badUrl("postgresql://alice:Zq9x/Secret@h/db", "--source");

        assertThat(error.getMessage()).contains("percent-encode / and @").doesNotContain("Zq9x", "Secret");
    }

    // --- mask ------------------------------------------------------------------------------------

    @Test
    void maskHidesThePasswordInUserInfo() {
        assertThat(ConnectionUrl.mask("postgresql://alice:s3cret@h:5432/db?sslmode=require"))
            .isEqualTo("postgresql://alice:****@h:5432/db?sslmode=require");
    }

    @Test
    void maskHidesPasswordQueryParameters() {
        assertThat(ConnectionUrl.mask("jdbc:postgresql://h/db?user=alice&password=s3cret&ssl=true"))
            .isEqualTo("jdbc:postgresql://h/db?user=alice&password=****&ssl=true");
        assertThat(ConnectionUrl.mask("jdbc:postgresql://h/db?password=s3cret"))
            .isEqualTo("jdbc:postgresql://h/db?password=****");
        assertThat(ConnectionUrl.mask("jdbc:postgresql://h/db?PASSWORD=s3cret"))
            .isEqualTo("jdbc:postgresql://h/db?PASSWORD=****");
    }

    @Test
    void maskHidesAPasswordWithAnUnencodedAt() {
        assertThat(ConnectionUrl.mask("postgresql://alice:p@ss@h/db")).isEqualTo("postgresql://alice:****@h/db");
    }

    @Test
    void maskHidesAPasswordWithAnUnencodedSlash() {
        assertThat(ConnectionUrl.mask("postgresql://alice:pa/ss@h/db")).isEqualTo("postgresql://alice:****@h/db");
    }

    @Test
    void maskHidesAPasswordWithAnUnencodedSlashAndAt() {
        assertThat(ConnectionUrl.mask("postgresql://alice:a/b@c@h:5432/db")).isEqualTo("postgresql://alice:****@h:5432/db");
    }

    @Test
    void maskLeavesUrlsWithoutPasswordUnchanged() {
        assertThat(ConnectionUrl.mask("postgresql://alice@h:5432/db")).isEqualTo("postgresql://alice@h:5432/db");
        assertThat(ConnectionUrl.mask("postgresql://[::1]:5432/db")).isEqualTo("postgresql://[::1]:5432/db");
        assertThat(ConnectionUrl.mask("jdbc:postgresql:db")).isEqualTo("jdbc:postgresql:db");
    }

    @Test
    void maskHidesAPasswordBeforeAnIpv6Host() {
        assertThat(ConnectionUrl.mask("postgresql://alice:s3cret@[::1]:5433/db"))
            .isEqualTo("postgresql://alice:****@[::1]:5433/db");
    }
}
