package datakit.extract;

import static org.assertj.core.api.Assertions.assertThat;

import datakit.testing.Datakits;
import datakit.testing.TestDatabase;
import datakit.testing.TestPostgres;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** A password given to a datakit never shows up in its output, its errors, or anything it writes. */
class SecretsIT {
    static final String PASSWORD = "Sup3r:s3cret/@pass%w0rd";
    static TestDatabase source;
    static TestDatabase warehouse;
    static String role;

    @BeforeAll
    static void createAUserWithAMemorablePassword() {
        source = TestPostgres.createDatabase("secret_src");
        warehouse = TestPostgres.createDatabase("secret_wh");
        role = "loader_" + source.name();
        source.execute("CREATE ROLE " + role + " LOGIN PASSWORD '" + PASSWORD + "'",
            "CREATE TABLE public.items (id int, secret_looking text)",
            "INSERT INTO public.items VALUES (1, 'nothing to see')",
            "GRANT SELECT ON public.items TO " + role);
    }

    String sourceUrl() {
        var server = source.server();
        return "postgresql://%s:%s@%s:%d/%s".formatted(role, URLEncoder.encode(PASSWORD, StandardCharsets.UTF_8),
            server.host(), server.port(), source.name());
    }

    @Test
    void aSuccessfulRunNeverPrintsOrStoresThePassword() {
        var run = Datakits.run("PostgresExtract", Map.of("SOURCE_DATABASE_URL", sourceUrl(), "WAREHOUSE_DATABASE_URL", warehouse.url()),
            "--table", "items", "--verbose", "--json");

        assertThat(run.exitCode()).as(run.toString()).isZero();
        assertThat(run.all()).doesNotContain(PASSWORD).doesNotContain(URLEncoder.encode(PASSWORD, StandardCharsets.UTF_8));
        assertThat(warehouse.rows("SELECT r::text FROM bronze.extraction_runs r").toString()).doesNotContain("Sup3r");
        assertThat(warehouse.rows("SELECT b::text FROM bronze.items b").toString()).doesNotContain("Sup3r");
    }

    @Test
    void failuresNeverPrintThePasswordEvenWithStackTraces() {
        var env = Map.of("SOURCE_DATABASE_URL", sourceUrl(), "WAREHOUSE_DATABASE_URL", warehouse.url());
        var missing = Datakits.run("PostgresExtract", env, "--table", "nope", "--verbose", "--json");
        var malformed = Datakits.run("PostgresExtract", Map.of("SOURCE_DATABASE_URL", "postgres://" + role + ":" + PASSWORD + "@h:x/db",
            "WAREHOUSE_DATABASE_URL", warehouse.url()), "--table", "items", "--verbose");
        var flag = Datakits.run("PostgresExtract", Map.of("WAREHOUSE_DATABASE_URL", warehouse.url(), "SOURCE_PG_MAX_RETRIES", "0"),
            "--source", sourceUrl().replace(source.name(), "no_such_db"), "--table", "items", "--json", "--verbose");

        for (var run : new Datakits.Run[] {missing, malformed, flag}) {
            assertThat(run.exitCode()).as(run.toString()).isEqualTo(2);
            assertThat(run.all()).as(run.toString()).doesNotContain("Sup3r");
        }
        assertThat(flag.err()).contains("the password in --source is visible to other users");
        assertThat(warehouse.value("SELECT to_regclass('bronze.extraction_runs') IS NULL")).as("nothing written").isEqualTo("t");
    }
}
