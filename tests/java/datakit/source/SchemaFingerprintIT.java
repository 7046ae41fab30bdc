package datakit.source;

import static org.assertj.core.api.Assertions.assertThat;

import datakit.config.ConnectionResolver;
import datakit.config.Environment;
import datakit.config.Role;
import datakit.db.Database;
import datakit.sql.TableRef;
import datakit.testing.TestDatabase;
import datakit.testing.TestPostgres;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The schema fingerprint read from a real catalog: DDL that changes the values a read returns changes the hash of the columns
 * it touches (and the whole read's), DDL that does not leaves both alone. One database for the class, a table per test.
 */
class SchemaFingerprintIT {
    static TestDatabase source;
    static Database database;

    @BeforeAll
    static void open() {
        source = TestPostgres.createDatabase("fingerprint");
        source.execute("CREATE SCHEMA fp");
        var env = new Environment(Map.of("SOURCE_DATABASE_URL", source.url()), Map.of(), ".env", Path.of("/nonexistent"), "x");
        database = Database.open(new ConnectionResolver(env, warning -> { }).resolve(Role.SOURCE, null, "test"), Database.Access.READ_ONLY);
    }

    @AfterAll
    static void close() {
        database.close();
    }

    static SchemaFingerprint fingerprint(String table, String... columns) {
        try (var session = SourceSession.begin(database)) {
            return SchemaFingerprint.read(session, Selection.table(TableRef.of("fp", table)).columns(List.of(columns)));
        }
    }

    /** The columns whose hash differs, or that only one of the two has. */
    static Set<String> changed(SchemaFingerprint before, SchemaFingerprint after) {
        var names = new TreeSet<>(before.columns().keySet());
        names.addAll(after.columns().keySet());
        names.removeIf(n -> before.columns().containsKey(n) && before.columns().get(n).equals(after.columns().get(n)));
        return names;
    }

    /** The fingerprint of fp.{table} before and after {@code ddl}, as the columns changed ("(whole)" when only the whole read's hash did). */
    static Set<String> changedBy(String table, String ddl, String... columns) {
        var before = fingerprint(table, columns);
        source.execute(ddl);
        var after = fingerprint(table, columns);
        var names = changed(before, after);
        if (names.isEmpty() && !before.hash().equals(after.hash())) {
            names.add("(whole)");
        }
        assertThat(after.hash().equals(before.hash())).as(ddl).isEqualTo(names.isEmpty());
        return names;
    }

    @Test
    void enumLabelsTheirOrderAndEnumsInsideArraysAndDomainsAreCovered() {
        source.execute("""
            CREATE TYPE fp.status AS ENUM ('new', 'shipped');
            CREATE DOMAIN fp.status_domain AS fp.status;
            CREATE TABLE fp.labels (id int, status fp.status, tags fp.status[], wrapped fp.status_domain, note text);
            """);

        assertThat(changedBy("labels", "ALTER TYPE fp.status RENAME VALUE 'shipped' TO 'sent'")).containsExactly("status", "tags", "wrapped");
        assertThat(changedBy("labels", "ALTER TYPE fp.status ADD VALUE 'returned'")).containsExactly("status", "tags", "wrapped");
        assertThat(changedBy("labels", "ALTER TYPE fp.status ADD VALUE 'first' BEFORE 'new'")).containsExactly("status", "tags", "wrapped");
        assertThat(changedBy("labels", "ALTER TYPE fp.status RENAME VALUE 'sent' TO 'shipped'", "id", "note")).isEmpty();
    }

    @Test
    void domainBaseTypesAndConstraintsAreCovered() {
        source.execute("""
            CREATE DOMAIN fp.amount AS numeric(10, 2);
            CREATE TABLE fp.domains (id int, amount fp.amount, note text);
            """);

        assertThat(changedBy("domains", "ALTER DOMAIN fp.amount ADD CONSTRAINT positive CHECK (VALUE > 0)")).containsExactly("amount");
        assertThat(changedBy("domains", "ALTER DOMAIN fp.amount SET NOT NULL")).containsExactly("amount");
        assertThat(changedBy("domains", "ALTER DOMAIN fp.amount DROP CONSTRAINT positive")).containsExactly("amount");
    }

    @Test
    void addedDroppedAndRetypedColumnsDefaultsAndStoredValuesForOlderRowsAreCovered() {
        source.execute("CREATE TABLE fp.columns (id int, qty int, note text)", "INSERT INTO fp.columns VALUES (1, 2, 'a')");

        assertThat(changedBy("columns", "ALTER TABLE fp.columns ADD COLUMN priority int DEFAULT 5")).containsExactly("priority");
        assertThat(changedBy("columns", "ALTER TABLE fp.columns DROP COLUMN note; ALTER TABLE fp.columns ADD COLUMN note text DEFAULT 'x'"))
            .containsExactly("note");
        assertThat(changedBy("columns", "ALTER TABLE fp.columns DROP COLUMN note; ALTER TABLE fp.columns ADD COLUMN note text DEFAULT 'x'",
            "id", "qty")).containsExactly("(whole)");
        // The rewrite writes the older rows' values of the columns added with a DEFAULT into them: those lose their stored value.
        assertThat(changedBy("columns", "ALTER TABLE fp.columns ALTER COLUMN qty TYPE bigint USING qty * 10"))
            .containsExactly("note", "priority", "qty");
        assertThat(changedBy("columns", "ALTER TABLE fp.columns ALTER COLUMN qty SET DEFAULT 1")).as("a default changes no value")
            .isEmpty();
        assertThat(changedBy("columns", "ALTER TABLE fp.columns ALTER COLUMN id TYPE varchar(20)")).containsExactly("id");
        assertThat(changedBy("columns", "ALTER TABLE fp.columns ALTER COLUMN id TYPE varchar(30)")).containsExactly("id");
    }

    @Test
    void theMissingValueOfOlderRowsIsCoveredEvenWhereNothingElseDiffers() {
        // Two tables alike but for the value their older rows get from ADD COLUMN ... DEFAULT: a default set later stores none.
        source.execute("CREATE TABLE fp.stored (id int)", "INSERT INTO fp.stored VALUES (1)", "ALTER TABLE fp.stored ADD COLUMN note text DEFAULT 'x'",
            "CREATE TABLE fp.unstored (id int)", "INSERT INTO fp.unstored VALUES (1)", "ALTER TABLE fp.unstored ADD COLUMN note text",
            "ALTER TABLE fp.unstored ALTER COLUMN note SET DEFAULT 'x'");

        assertThat(fingerprint("stored").columns().get("note")).isNotEqualTo(fingerprint("unstored").columns().get("note"));
        assertThat(fingerprint("stored").columns().get("id")).isEqualTo(fingerprint("unstored").columns().get("id"));
    }

    @Test
    void compositeTypesAndGeneratedColumnsAreCovered() {
        source.execute("""
            CREATE TYPE fp.point2 AS (x int, y int);
            CREATE TABLE fp.composite (id int, at fp.point2, twice int GENERATED ALWAYS AS (id * 2) STORED);
            """);

        assertThat(changedBy("composite", "ALTER TYPE fp.point2 ADD ATTRIBUTE z int")).containsExactly("at");
        assertThat(fingerprint("composite").columns()).containsOnlyKeys("id", "at", "twice");
    }

    @Test
    void ddlAndWritesThatLeaveTheValuesAloneKeepTheFingerprint() {
        source.execute("CREATE TABLE fp.calm (id int PRIMARY KEY, note text)", "CREATE TABLE fp.other (id int)");

        assertThat(changedBy("calm", "INSERT INTO fp.calm VALUES (1, 'a'); UPDATE fp.calm SET note = 'b'")).isEmpty();
        assertThat(changedBy("calm", "COMMENT ON COLUMN fp.calm.note IS 'why'; ANALYZE fp.calm; CREATE INDEX ON fp.calm (note)")).isEmpty();
        assertThat(changedBy("calm", "ALTER TABLE fp.calm ALTER COLUMN note SET STATISTICS 500; ALTER TABLE fp.other ADD COLUMN x int DEFAULT 1"))
            .isEmpty();
    }
}
