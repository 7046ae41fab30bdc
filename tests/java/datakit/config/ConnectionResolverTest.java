package datakit.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import datakit.error.DatakitException;
import datakit.error.ExitCode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class ConnectionResolverTest {
    private static final String DOT_ENV = "/app/.env";

    @TempDir
    Path home;

    private final List<String> warnings = new ArrayList<>();

    private ConnectionSettings resolve(Role role, String urlFlag, Map<String, String> process, Map<String, String> dotEnv) {
        var env = new Environment(process, dotEnv, DOT_ENV, home, "osuser");
        return new ConnectionResolver(env, warnings::add).resolve(role, urlFlag, "orders-full");
    }

    private ConnectionSettings resolve(String urlFlag, Map<String, String> process, Map<String, String> dotEnv) {
        return resolve(Role.SOURCE, urlFlag, process, dotEnv);
    }

    private DatakitException badInput(Role role, String urlFlag, Map<String, String> process, Map<String, String> dotEnv) {
        var error = assertThrows(DatakitException.class, () -> resolve(role, urlFlag, process, dotEnv));
        assertThat(error.exitCode()).isEqualTo(ExitCode.BAD_INPUT);
        return error;
    }

    private DatakitException badInput(Map<String, String> process) {
        return badInput(Role.SOURCE, null, process, Map.of());
    }

    // --- defaults --------------------------------------------------------------------------------

    @Test
    void nothingSetGivesLibpqDefaultsAndTheDatakitsName() {
        var settings = resolve(null, Map.of(), Map.of());

        assertThat(settings.role()).isEqualTo(Role.SOURCE);
        assertThat(settings.host()).isEqualTo("localhost");
        assertThat(settings.port()).isEqualTo(5432);
        assertThat(settings.username()).isEqualTo("osuser");
        assertThat(settings.database()).isEqualTo("osuser");
        assertThat(settings.password()).isNull();
        assertThat(settings.sslmode()).isEqualTo("prefer");
        assertThat(settings.sslcert()).isNull();
        assertThat(settings.sslkey()).isNull();
        assertThat(settings.sslrootcert()).isNull();
        assertThat(settings.connectTimeoutSeconds()).isEqualTo(10);
        assertThat(settings.maxRetries()).isEqualTo(3);
        assertThat(settings.poolMin()).isEqualTo(1);
        assertThat(settings.poolSize()).isEqualTo(4);
        assertThat(settings.applicationName()).isEqualTo("orders-full");
        assertThat(settings.options()).isNull();
        assertThat(settings.statementTimeout()).isNull();
        assertThat(settings.driverProperties()).isEmpty();
        assertThat(settings.origins()).isEmpty();
        assertThat(settings.origin(PgParam.HOST)).isEqualTo("the default");
        assertThat(warnings).isEmpty();
    }

    @Test
    void databaseDefaultsToTheGivenUser() {
        var settings = resolve(null, Map.of("SOURCE_PG_USER", "alice"), Map.of());

        assertThat(settings.database()).isEqualTo("alice");
    }

    @Test
    void poolMinDefaultsToOneWithAGivenPoolSize() {
        var settings = resolve(null, Map.of("SOURCE_PG_POOL_SIZE", "10"), Map.of());

        assertThat(settings.poolMin()).isEqualTo(1);
        assertThat(settings.poolSize()).isEqualTo(10);
    }

    // --- precedence ------------------------------------------------------------------------------

    @Test
    void urlFlagHidesTheEnvironmentUrl() {
        var settings = resolve("postgresql://flaghost/flagdb",
            Map.of("SOURCE_DATABASE_URL", "postgresql://envuser@envhost:6000/envdb?sslmode=require"), Map.of());

        assertThat(settings.host()).isEqualTo("flaghost");
        assertThat(settings.database()).isEqualTo("flagdb");
        assertThat(settings.port()).isEqualTo(5432);
        assertThat(settings.username()).isEqualTo("osuser");
        assertThat(settings.sslmode()).isEqualTo("prefer");
        assertThat(settings.origin(PgParam.HOST)).isEqualTo("--source");
    }

    @Test
    void urlFlagBeatsDiscreteEnvironmentVariables() {
        var settings = resolve("postgresql://flaghost:5000/db",
            Map.of("SOURCE_PG_PORT", "6543", "SOURCE_PG_SSLMODE", "require"), Map.of());

        assertThat(settings.port()).isEqualTo(5000);
        assertThat(settings.sslmode()).isEqualTo("require");
        assertThat(settings.origin(PgParam.SSLMODE)).isEqualTo("SOURCE_PG_SSLMODE");
    }

    @Test
    void processPortOverridesTheProcessUrlsPort() {
        var settings = resolve(null,
            Map.of("SOURCE_PG_PORT", "6543", "SOURCE_DATABASE_URL", "postgresql://envhost:5000/envdb"), Map.of());

        assertThat(settings.port()).isEqualTo(6543);
        assertThat(settings.host()).isEqualTo("envhost");
        assertThat(settings.origin(PgParam.PORT)).isEqualTo("SOURCE_PG_PORT");
        assertThat(settings.origin(PgParam.HOST)).isEqualTo("SOURCE_DATABASE_URL");
    }

    @Test
    void processUrlHidesTheDotEnvUrl() {
        var settings = resolve(null,
            Map.of("SOURCE_DATABASE_URL", "postgresql://envhost/envdb"),
            Map.of("SOURCE_DATABASE_URL", "postgresql://dotuser@dothost:6000/dotdb?sslmode=require"));

        assertThat(settings.host()).isEqualTo("envhost");
        assertThat(settings.port()).isEqualTo(5432);
        assertThat(settings.username()).isEqualTo("osuser");
        assertThat(settings.sslmode()).isEqualTo("prefer");
    }

    @Test
    void dotEnvDiscreteValueLosesToTheProcessUrlsValue() {
        var settings = resolve(null,
            Map.of("SOURCE_DATABASE_URL", "postgresql://envhost/envdb"),
            Map.of("SOURCE_PG_HOST", "dothost", "SOURCE_PG_SSLMODE", "require"));

        assertThat(settings.host()).isEqualTo("envhost");
        assertThat(settings.sslmode()).isEqualTo("require");
        assertThat(settings.origin(PgParam.SSLMODE)).isEqualTo("SOURCE_PG_SSLMODE (/app/.env)");
    }

    @Test
    void processDiscreteValueBeatsTheDotEnvDiscreteValue() {
        var settings = resolve(null, Map.of("SOURCE_PG_HOST", "prochost"), Map.of("SOURCE_PG_HOST", "dothost"));

        assertThat(settings.host()).isEqualTo("prochost");
        assertThat(settings.origin(PgParam.HOST)).isEqualTo("SOURCE_PG_HOST");
    }

    @Test
    void emptyProcessValueCountsAsUnset() {
        var settings = resolve(null, Map.of("SOURCE_PG_HOST", ""), Map.of("SOURCE_PG_HOST", "dothost"));

        assertThat(settings.host()).isEqualTo("dothost");
    }

    @Test
    void dotEnvDiscreteValueBeatsTheDotEnvUrl() {
        var settings = resolve(null, Map.of(),
            Map.of("SOURCE_PG_PORT", "6543", "SOURCE_DATABASE_URL", "postgresql://dothost:5000/dotdb"));

        assertThat(settings.port()).isEqualTo(6543);
        assertThat(settings.host()).isEqualTo("dothost");
        assertThat(settings.origin(PgParam.HOST)).isEqualTo("SOURCE_DATABASE_URL (/app/.env)");
    }

    @Test
    void dotEnvUrlBeatsLibpqVariables() {
        var settings = resolve(null, Map.of("PGHOST", "pghost", "PGPORT", "7000"),
            Map.of("SOURCE_DATABASE_URL", "postgresql://dothost/dotdb"));

        assertThat(settings.host()).isEqualTo("dothost");
        assertThat(settings.port()).isEqualTo(7000);
        assertThat(settings.origin(PgParam.PORT)).isEqualTo("PGPORT");
    }

    @Test
    void libpqVariablesFillWhatNothingElseSets() {
        var settings = resolve(null, Map.of(
            "PGHOST", "pghost",
            "PGPORT", "7000",
            "PGDATABASE", "pgdb",
            "PGUSER", "pguser",
            "PGPASSWORD", "pgpw",
            "PGSSLMODE", "require",
            "PGCONNECT_TIMEOUT", "20",
            "PGAPPNAME", "from-libpq",
            "PGOPTIONS", "-c search_path=app"), Map.of());

        assertThat(settings.host()).isEqualTo("pghost");
        assertThat(settings.port()).isEqualTo(7000);
        assertThat(settings.database()).isEqualTo("pgdb");
        assertThat(settings.username()).isEqualTo("pguser");
        assertThat(settings.password().value()).isEqualTo("pgpw");
        assertThat(settings.sslmode()).isEqualTo("require");
        assertThat(settings.connectTimeoutSeconds()).isEqualTo(20);
        assertThat(settings.applicationName()).isEqualTo("from-libpq");
        assertThat(settings.options()).isEqualTo("-c search_path=app");
        assertThat(settings.origin(PgParam.HOST)).isEqualTo("PGHOST");
    }

    @Test
    void pghostFromTheDotEnvFileIsAFallbackToo() {
        var settings = resolve(null, Map.of(), Map.of("PGHOST", "pghost"));

        assertThat(settings.host()).isEqualTo("pghost");
        assertThat(settings.origin(PgParam.HOST)).isEqualTo("PGHOST (/app/.env)");
    }

    @Test
    void discreteVariableBeatsPghost() {
        var settings = resolve(null, Map.of("PGHOST", "pghost"), Map.of("SOURCE_PG_HOST", "dothost"));

        assertThat(settings.host()).isEqualTo("dothost");
    }

    @Test
    void applicationNameFromTheUrlReplacesTheDatakitsName() {
        var settings = resolve("postgresql://h/db?application_name=custom", Map.of(), Map.of());

        assertThat(settings.applicationName()).isEqualTo("custom");
    }

    @Test
    void databaseBeatsDbnameInDiscreteVariables() {
        var settings = resolve(null, Map.of("SOURCE_PG_DBNAME", "alias", "SOURCE_PG_DATABASE", "preferred"), Map.of());

        assertThat(settings.database()).isEqualTo("preferred");
        assertThat(settings.origin(PgParam.DATABASE)).isEqualTo("SOURCE_PG_DATABASE");
    }

    @Test
    void usernameBeatsUserInDiscreteVariables() {
        var settings = resolve(null, Map.of("SOURCE_PG_USER", "alias", "SOURCE_PG_USERNAME", "preferred"), Map.of());

        assertThat(settings.username()).isEqualTo("preferred");
        assertThat(settings.origin(PgParam.USERNAME)).isEqualTo("SOURCE_PG_USERNAME");
    }

    @Test
    void aliasNamesWorkAlone() {
        var settings = resolve(null,
            Map.of("SOURCE_PG_DBNAME", "shop", "SOURCE_PG_USER", "alice", "SOURCE_PG_POOL_MAX", "9"), Map.of());

        assertThat(settings.database()).isEqualTo("shop");
        assertThat(settings.username()).isEqualTo("alice");
        assertThat(settings.poolSize()).isEqualTo(9);
    }

    @Test
    void warehouseReadsItsOwnVariablesAndIgnoresTheSources() {
        var settings = resolve(Role.WAREHOUSE, null, Map.of(
            "SOURCE_DATABASE_URL", "postgresql://srchost/srcdb",
            "SOURCE_PG_PORT", "1111",
            "WAREHOUSE_DATABASE_URL", "postgresql://whhost:5000/whdb",
            "WAREHOUSE_PG_PORT", "6543"), Map.of("WAREHOUSE_PG_SSLMODE", "require"));

        assertThat(settings.role()).isEqualTo(Role.WAREHOUSE);
        assertThat(settings.host()).isEqualTo("whhost");
        assertThat(settings.database()).isEqualTo("whdb");
        assertThat(settings.port()).isEqualTo(6543);
        assertThat(settings.sslmode()).isEqualTo("require");
        assertThat(settings.origin(PgParam.HOST)).isEqualTo("WAREHOUSE_DATABASE_URL");
        assertThat(settings.origin(PgParam.SSLMODE)).isEqualTo("WAREHOUSE_PG_SSLMODE (/app/.env)");
    }

    @Test
    void warehouseUrlFlagIsTarget() {
        var settings = resolve(Role.WAREHOUSE, "postgresql://flaghost/db",
            Map.of("WAREHOUSE_DATABASE_URL", "postgresql://envhost/db"), Map.of());

        assertThat(settings.host()).isEqualTo("flaghost");
        assertThat(settings.origin(PgParam.HOST)).isEqualTo("--target");
    }

    @Test
    void warehouseErrorsNameTheWarehouseAndItsVariable() {
        var error = badInput(Role.WAREHOUSE, null, Map.of("WAREHOUSE_PG_PORT", "abc"), Map.of());

        assertThat(error.getMessage()).isEqualTo(
            "The warehouse port from WAREHOUSE_PG_PORT is \"abc\": it must be a whole number from 1 to 65535. Fix it there.");
    }

    // --- driver properties -----------------------------------------------------------------------

    @Test
    void jdbcUrlFlagPassesUnknownPropertiesToTheDriver() {
        var settings = resolve("jdbc:postgresql://h:5/db?user=u&password=p&tcpKeepAlive=true", Map.of(), Map.of());

        assertThat(settings.driverProperties()).isEqualTo(Map.of("tcpKeepAlive", "true"));
        assertThat(settings.username()).isEqualTo("u");
        assertThat(settings.password().value()).isEqualTo("p");
        assertThat(settings.port()).isEqualTo(5);
    }

    @Test
    void jdbcUrlFromTheDotEnvFilePassesItsPropertiesToo() {
        var settings = resolve(null, Map.of(), Map.of("SOURCE_DATABASE_URL", "jdbc:postgresql://h/db?prepareThreshold=0"));

        assertThat(settings.driverProperties()).isEqualTo(Map.of("prepareThreshold", "0"));
    }

    @Test
    void hiddenUrlsPassNoDriverProperties() {
        var settings = resolve("postgresql://h/db",
            Map.of("SOURCE_DATABASE_URL", "jdbc:postgresql://h/db?tcpKeepAlive=true"), Map.of());

        assertThat(settings.driverProperties()).isEmpty();
    }

    // --- validation ------------------------------------------------------------------------------

    @Test
    void malformedEnvironmentUrlIsReportedUnderItsVariable() {
        var error = badInput(Map.of("SOURCE_DATABASE_URL", "mysql://h/db"));

        assertThat(error.getMessage()).startsWith("SOURCE_DATABASE_URL is not a valid PostgreSQL URL (mysql://h/db)");
    }

    @Test
    void nonNumericPortFromDotEnvNamesTheFile() {
        var error = badInput(Role.SOURCE, null, Map.of(), Map.of("SOURCE_PG_PORT", "abc"));

        assertThat(error.getMessage()).isEqualTo(
            "The source port from SOURCE_PG_PORT (/app/.env) is \"abc\": it must be a whole number from 1 to 65535. Fix it there.");
    }

    @Test
    void portOutOfRangeFromTheUrlNamesTheUrlVariable() {
        var error = badInput(Map.of("SOURCE_DATABASE_URL", "postgresql://h:70000/db"));

        assertThat(error.getMessage()).isEqualTo(
            "The source port from SOURCE_DATABASE_URL is \"70000\": it must be a whole number from 1 to 65535. Fix it there.");
    }

    @Test
    void portZeroIsRefused() {
        var error = badInput(Role.SOURCE, "postgresql://h:0/db", Map.of(), Map.of());

        assertThat(error.getMessage()).isEqualTo(
            "The source port from --source is \"0\": it must be a whole number from 1 to 65535. Fix it there.");
    }

    @Test
    void unknownSslmodeListsTheModes() {
        var error = badInput(Map.of("SOURCE_PG_SSLMODE", "sometimes"));

        assertThat(error.getMessage()).isEqualTo("The source sslmode from SOURCE_PG_SSLMODE is \"sometimes\": it must be one of "
            + "disable, allow, prefer, require, verify-ca, verify-full. Fix it there.");
    }

    @ParameterizedTest
    @CsvSource({
        "5min, 5min",
        "30s, 30s",
        "60000, 60000",
        "250ms, 250ms",
        "2h, 2h",
        "1d, 1d",
        "'5 min', 5min",
    })
    void statementTimeoutAcceptsMillisecondsAndUnits(String given, String kept) {
        var settings = resolve(null, Map.of("SOURCE_PG_STATEMENT_TIMEOUT", given), Map.of());

        assertThat(settings.statementTimeout()).isEqualTo(kept);
    }

    @Test
    void statementTimeoutInWordsIsRefusedQuotingTheValueAsGiven() {
        var error = badInput(Map.of("SOURCE_PG_STATEMENT_TIMEOUT", "5 minutes"));

        assertThat(error.getMessage()).isEqualTo("The source statement_timeout from SOURCE_PG_STATEMENT_TIMEOUT is \"5 minutes\": "
            + "it must be milliseconds or a number with a unit (ms, s, min, h, d), such as 30s or 5min. Fix it there.");
    }

    @Test
    void optionsThatAreNotSettingsAreRefusedBeforeAnyConnection() {
        var error = badInput(Map.of("SOURCE_PG_OPTIONS", "-c work_mem=64MB -B 100"));

        assertThat(error.getMessage()).isEqualTo("The source options from SOURCE_PG_OPTIONS is \"-c work_mem=64MB -B 100\": it must hold "
            + "server settings only (-c name=value or --name=value), which the datakits apply at the start of each transaction, but "
            + "\"-B\" is not a setting. Fix it there.");
    }

    @Test
    void rowSecurityInTheSourceOptionsPointsAtTheFlag() {
        var error = badInput(Map.of("SOURCE_PG_OPTIONS", "-c row_security=on"));

        assertThat(error.getMessage()).contains("sets row_security, which the datakits keep off on the source",
            "pass --enable-row-security instead");
        assertThat(resolve(Role.WAREHOUSE, null, Map.of("WAREHOUSE_PG_OPTIONS", "-c row_security=on"), Map.of()).serverSettings())
            .containsEntry("row_security", "on");
    }

    @Test
    void aRoleInTheWarehouseOptionsIsRefusedNamingTheLoginsDefaultToSetInstead() {
        var error = badInput(Role.WAREHOUSE, "postgresql://Loader@h/wh", Map.of("WAREHOUSE_PG_OPTIONS", "-c role=bronze_owner"), Map.of());

        assertThat(error.getMessage()).isEqualTo("The warehouse options from WAREHOUSE_PG_OPTIONS is \"-c role=bronze_owner\": it sets "
            + "role, which the datakits cannot apply to every connection: Flyway's migrations run without the settings of each "
            + "transaction, and would create the bronze schema as the login. Make the role the login's default instead, which holds on "
            + "every connection and through a pooler: ALTER ROLE \"Loader\" SET role = bronze_owner. Fix it there.");
        assertThat(badInput(Role.WAREHOUSE, null, Map.of("WAREHOUSE_PG_OPTIONS", "--session-authorization=owner"), Map.of())
            .getMessage()).contains("it sets session_authorization, which the datakits cannot apply to every connection");
        assertThat(resolve(Role.SOURCE, null, Map.of("SOURCE_PG_OPTIONS", "-c role=reader"), Map.of()).serverSettings())
            .containsEntry("role", "reader");
    }

    @Test
    void transactionModesInTheOptionsAreRefusedOnEitherSide() {
        for (String mode : new String[] {"transaction_isolation=serializable", "transaction_read_only=off",
            "default_transaction_isolation=serializable", "default-transaction-read-only=on", "default_transaction_deferrable=on"}) {
            var error = badInput(Role.WAREHOUSE, null, Map.of("WAREHOUSE_PG_OPTIONS", "-c " + mode), Map.of());
            assertThat(error.getMessage()).as(mode).contains("it sets " + mode.substring(0, mode.indexOf('=')).replace('-', '_')
                + ", which a transaction takes as it begins, and the datakits apply the options inside each transaction, whose "
                + "isolation and read-only mode they choose themselves. Fix it there.");
        }
        assertThat(badInput(Map.of("SOURCE_PG_OPTIONS", "-c transaction_read_only=off")).getMessage())
            .startsWith("The source options from SOURCE_PG_OPTIONS is \"-c transaction_read_only=off\": it sets transaction_read_only");
    }

    @Test
    void poolMinLargerThanPoolSizeNamesBothSettings() {
        var error = badInput(Map.of("SOURCE_PG_POOL_MIN", "5", "SOURCE_PG_POOL_SIZE", "2"));

        assertThat(error.getMessage()).isEqualTo("The source pool_min from SOURCE_PG_POOL_MIN is \"5\": "
            + "it is larger than the pool size 2; lower it or raise SOURCE_PG_POOL_SIZE. Fix it there.");
    }

    @Test
    void poolMinLargerThanTheDefaultPoolSizeIsRefused() {
        var error = badInput(Map.of("SOURCE_PG_POOL_MIN", "5"));

        assertThat(error.getMessage()).contains("is \"5\": it is larger than the pool size 4;");
    }

    @Test
    void poolSizeZeroIsRefused() {
        var error = badInput(Map.of("SOURCE_PG_POOL_SIZE", "0"));

        assertThat(error.getMessage()).isEqualTo(
            "The source pool_size from SOURCE_PG_POOL_SIZE is \"0\": it must be a whole number from 1 to 1000. Fix it there.");
    }

    @Test
    void negativeMaxRetriesIsRefused() {
        var error = badInput(Map.of("SOURCE_PG_MAX_RETRIES", "-1"));

        assertThat(error.getMessage()).isEqualTo(
            "The source max_retries from SOURCE_PG_MAX_RETRIES is \"-1\": it must be a whole number from 0 to 100. Fix it there.");
    }

    @Test
    void nonNumericConnectTimeoutFromTheUrlIsRefused() {
        var error = badInput(Role.SOURCE, "postgresql://h/db?connect_timeout=soon", Map.of(), Map.of());

        assertThat(error.getMessage()).isEqualTo(
            "The source connect_timeout from --source is \"soon\": it must be a whole number from 0 to 3600. Fix it there.");
    }

    @Test
    void sslrootcertNamingAMissingFileIsRefused() {
        Path missing = home.resolve("missing-root.crt");

        var error = badInput(Map.of("SOURCE_PG_SSLROOTCERT", missing.toString()));

        assertThat(error.getMessage()).isEqualTo("The source sslrootcert from SOURCE_PG_SSLROOTCERT is \"" + missing
            + "\": it names a file that does not exist or cannot be read. Fix it there.");
    }

    @Test
    void sslrootcertNamingAnExistingFileOrSystemIsKept() throws Exception {
        Path cert = Files.writeString(home.resolve("root.crt"), "-----BEGIN CERTIFICATE-----\n");

        assertThat(resolve(null, Map.of("SOURCE_PG_SSLROOTCERT", cert.toString()), Map.of()).sslrootcert())
            .isEqualTo(cert.toString());
        assertThat(resolve(null, Map.of("SOURCE_PG_SSLROOTCERT", "system"), Map.of()).sslrootcert())
            .isEqualTo("system");
    }

    @Test
    void sslcertNamingAMissingFileInTheUrlIsRefused() {
        var error = badInput(Role.SOURCE, "postgresql://h/db?sslcert=/nonexistent/client.crt", Map.of(), Map.of());

        assertThat(error.getMessage()).isEqualTo("The source sslcert from --source is \"/nonexistent/client.crt\": "
            + "it names a file that does not exist or cannot be read. Fix it there.");
    }

    @Test
    void passwordWithAnUnencodedSlashIsNotRepeatedInTheError() {
        // The / ends the authority early, so "alice:Zq9x" is read as host "alice" and port "Zq9x".
        var error = badInput(Role.SOURCE, "postgresql://alice:Zq9x/Secret@h/db", Map.of(), Map.of());

        assertThat(error.getMessage()).doesNotContain("Zq9x", "Secret");
    }

    @Test
    void settingsToStringNeverShowsThePassword() {
        var settings = resolve("postgresql://alice:Zq9xSecret@h/db", Map.of(), Map.of());

        assertThat(settings.password().value()).isEqualTo("Zq9xSecret");
        assertThat(settings.toString()).doesNotContain("Zq9xSecret").contains("password=****");
    }
}
