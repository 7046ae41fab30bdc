package datakit.config;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PgPassTest {
    @TempDir
    Path home;

    private final List<String> warnings = new ArrayList<>();

    private Path passFile(Path file, String... lines) throws Exception {
        Files.write(file, List.of(lines));
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
        return file;
    }

    private Path pgpass(String... lines) throws Exception {
        return passFile(home.resolve(".pgpass"), lines);
    }

    private Optional<String> lookup(Path file, String host, int port, String database, String user) {
        return PgPass.lookup(file, host, port, database, user, warnings::add);
    }

    private ConnectionSettings resolve(String urlFlag, Map<String, String> process) {
        var env = new Environment(process, Map.of(), ".env", home, "osuser");
        return new ConnectionResolver(env, warnings::add).resolve(Role.SOURCE, urlFlag, "orders-full");
    }

    // --- lookup ----------------------------------------------------------------------------------

    @Test
    void exactLineGivesItsPassword() throws Exception {
        Path file = pgpass("db.example.com:5432:shop:alice:s3cret");

        assertThat(lookup(file, "db.example.com", 5432, "shop", "alice")).contains("s3cret");
        assertThat(warnings).isEmpty();
    }

    @Test
    void starMatchesAnyValue() throws Exception {
        Path file = pgpass("*:*:*:alice:any-db-pw");

        assertThat(lookup(file, "h", 6543, "whatever", "alice")).contains("any-db-pw");
        assertThat(lookup(file, "h", 6543, "whatever", "bob")).isEmpty();
    }

    @Test
    void anyDifferentFieldMeansNoMatch() throws Exception {
        Path file = pgpass("h:5432:shop:alice:pw");

        assertThat(lookup(file, "other", 5432, "shop", "alice")).isEmpty();
        assertThat(lookup(file, "h", 5433, "shop", "alice")).isEmpty();
        assertThat(lookup(file, "h", 5432, "other", "alice")).isEmpty();
        assertThat(lookup(file, "h", 5432, "shop", "bob")).isEmpty();
    }

    @Test
    void escapedColonsBelongToTheField() throws Exception {
        Path file = pgpass("\\:\\:1:5432:*:alice:v6-pw", "h:5432:db\\:one:alice:colon-db-pw");

        assertThat(lookup(file, "::1", 5432, "shop", "alice")).contains("v6-pw");
        assertThat(lookup(file, "h", 5432, "db:one", "alice")).contains("colon-db-pw");
    }

    @Test
    void escapedBackslashAndColonInThePasswordAreUnescaped() throws Exception {
        Path file = pgpass("h:5432:shop:alice:a\\\\b\\:c");

        assertThat(lookup(file, "h", 5432, "shop", "alice")).contains("a\\b:c");
    }

    @Test
    void unescapedColonsInThePasswordAreKept() throws Exception {
        Path file = pgpass("h:5432:shop:alice:pa:ss:word");

        assertThat(lookup(file, "h", 5432, "shop", "alice")).contains("pa:ss:word");
    }

    @Test
    void firstMatchingLineWins() throws Exception {
        Path file = pgpass(
            "# comments and blank lines are skipped",
            "",
            "h:5432:other:alice:not-this-one",
            "h:5432:shop:alice:first",
            "*:*:*:*:second");

        assertThat(lookup(file, "h", 5432, "shop", "alice")).contains("first");
        assertThat(lookup(file, "h", 5432, "else", "bob")).contains("second");
    }

    @Test
    void linesWithTooFewFieldsAreSkipped() throws Exception {
        Path file = pgpass("h:5432:alice", "h:5432:shop:alice:pw");

        assertThat(lookup(file, "h", 5432, "shop", "alice")).contains("pw");
    }

    @Test
    void missingFileGivesNothingAndNoWarning() {
        assertThat(lookup(home.resolve(".pgpass"), "h", 5432, "shop", "alice")).isEmpty();
        assertThat(warnings).isEmpty();
    }

    @Test
    void fileReadableByGroupIsIgnoredWithAWarning() throws Exception {
        Path file = pgpass("*:*:*:*:pw");
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-r-----"));

        assertThat(lookup(file, "h", 5432, "shop", "alice")).isEmpty();
        assertThat(warnings).containsExactly(
            "password file " + file + " has group or world access and is ignored; run chmod 0600 " + file);
    }

    @Test
    void fileReadableByOthersIsIgnoredWithAWarning() throws Exception {
        Path file = pgpass("*:*:*:*:pw");
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw----r--"));

        assertThat(lookup(file, "h", 5432, "shop", "alice")).isEmpty();
        assertThat(warnings).singleElement().asString().contains("has group or world access and is ignored", "chmod 0600");
    }

    // --- through the resolver --------------------------------------------------------------------

    @Test
    void resolverUsesPgpassInTheHomeDirectoryWhenNoPasswordIsGiven() throws Exception {
        Path file = pgpass("h:5432:shop:alice:from-pgpass");

        var settings = resolve("postgresql://alice@h/shop", Map.of());

        assertThat(settings.password().value()).isEqualTo("from-pgpass");
        assertThat(settings.origin(PgParam.PASSWORD)).isEqualTo(file.toString());
    }

    @Test
    void resolverMatchesPgpassOnTheDefaults() throws Exception {
        pgpass("localhost:5432:osuser:osuser:default-pw");

        var settings = resolve(null, Map.of());

        assertThat(settings.password().value()).isEqualTo("default-pw");
    }

    @Test
    void urlPasswordBeatsPgpass() throws Exception {
        pgpass("*:*:*:*:from-pgpass");

        var settings = resolve("postgresql://alice:from-url@h/shop", Map.of());

        assertThat(settings.password().value()).isEqualTo("from-url");
        assertThat(settings.origin(PgParam.PASSWORD)).isEqualTo("--source");
    }

    @Test
    void pgpasswordBeatsPgpass() throws Exception {
        pgpass("*:*:*:*:from-pgpass");

        var settings = resolve(null, Map.of("PGPASSWORD", "from-env"));

        assertThat(settings.password().value()).isEqualTo("from-env");
        assertThat(settings.origin(PgParam.PASSWORD)).isEqualTo("PGPASSWORD");
    }

    @Test
    void emptyPasswordInTheUrlFallsBackToPgpass() throws Exception {
        pgpass("*:*:*:*:from-pgpass");

        var settings = resolve("postgresql://alice:@h/shop", Map.of());

        assertThat(settings.password().value()).isEqualTo("from-pgpass");
    }

    @Test
    void pgpassfileReplacesTheHomeDirectoryFile() throws Exception {
        pgpass("*:*:*:*:from-home");
        Path other = passFile(home.resolve("other-pgpass"), "*:*:*:*:from-pgpassfile");

        var settings = resolve(null, Map.of("PGPASSFILE", other.toString()));

        assertThat(settings.password().value()).isEqualTo("from-pgpassfile");
        assertThat(settings.origin(PgParam.PASSWORD)).isEqualTo(other.toString());
    }

    @Test
    void resolverIgnoresAnOpenPgpassAndWarns() throws Exception {
        Path file = pgpass("*:*:*:*:from-pgpass");
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-rw-rw-"));

        var settings = resolve(null, Map.of());

        assertThat(settings.password()).isNull();
        assertThat(warnings).containsExactly(
            "password file " + file + " has group or world access and is ignored; run chmod 0600 " + file);
    }
}
