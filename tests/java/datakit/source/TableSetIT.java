package datakit.source;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import datakit.config.ConnectionResolver;
import datakit.config.Environment;
import datakit.config.Role;
import datakit.db.Database;
import datakit.error.DatakitException;
import datakit.error.ExitCode;
import datakit.sql.TablePattern;
import datakit.sql.TableRef;
import datakit.testing.TestDatabase;
import datakit.testing.TestPostgres;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Table patterns resolved on a real server, against hostile names (case, spaces, quotes, dots, unicode, names that are
 * regular expressions), a partition tree, inheritance, views and the system schemas; and compared with what psql's own
 * {@code \dt} lists for the same pattern, so the test fails where our rules drift from psql's.
 */
class TableSetIT {
    static TestDatabase source;
    static Database database;

    @BeforeAll
    static void open() {
        source = TestPostgres.createDatabase("patterns");
        source.execute("""
            CREATE SCHEMA shop;
            CREATE TABLE shop.orders (id int); CREATE TABLE shop."Orders" (id int); CREATE TABLE shop.order_items (id int);
            CREATE TABLE shop."Order Items" (id int); CREATE TABLE shop."a.b" (id int); CREATE TABLE shop.a (id int);
            CREATE TABLE shop.ab (id int); CREATE TABLE shop.aab (id int); CREATE TABLE shop."a+b" (id int);
            CREATE TABLE shop."(a|b)" (id int); CREATE TABLE shop."what?" (id int); CREATE TABLE shop.whatx (id int);
            CREATE TABLE shop."star*" (id int); CREATE TABLE shop.starry (id int); CREATE TABLE shop."back\\slash" (id int);
            CREATE TABLE shop."back slash" (id int); CREATE TABLE shop."say""hi\""" (id int); CREATE TABLE shop.price$ (id int);
            CREATE TABLE shop."Äpfel" (id int); CREATE TABLE shop."äpfel" (id int); CREATE TABLE shop."int[]" (id int);
            CREATE TABLE shop."^x$" (id int);
            CREATE VIEW shop.orders_view AS SELECT * FROM shop.orders;
            CREATE MATERIALIZED VIEW shop.orders_mv AS SELECT * FROM shop.orders;
            CREATE SCHEMA "My Shop"; CREATE TABLE "My Shop"."Order Items" (id int); CREATE TABLE "My Shop".orders (id int);
            CREATE SCHEMA "Hostile.Schema"; CREATE TABLE "Hostile.Schema".t (id int);
            CREATE SCHEMA hostile; CREATE TABLE hostile.t (id int);
            CREATE SCHEMA part;
            CREATE TABLE part.events (id int, at date) PARTITION BY RANGE (at);
            CREATE TABLE part.events_2024 PARTITION OF part.events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
            CREATE TABLE part.events_2025 PARTITION OF part.events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
            CREATE TABLE part.events_2026 PARTITION OF part.events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')
              PARTITION BY RANGE (at);
            CREATE TABLE part.events_2026_h1 PARTITION OF part.events_2026 FOR VALUES FROM ('2026-01-01') TO ('2026-07-01');
            CREATE TABLE part.inh_parent (id int); CREATE TABLE part.inh_child () INHERITS (part.inh_parent);
            CREATE TABLE public.pg_class (id int); CREATE TABLE public.orders (id int);
            """);
        var env = new Environment(Map.of("SOURCE_DATABASE_URL", source.url()), Map.of(), ".env", Path.of("/nonexistent"), "x");
        database = Database.open(new ConnectionResolver(env, warning -> { }).resolve(Role.SOURCE, null, "test"), Database.Access.READ_ONLY);
    }

    @AfterAll
    static void close() {
        database.close();
    }

    static TableSet.Resolved resolve(TableSet set) {
        try (var session = SourceSession.begin(database)) {
            return set.resolve(session);
        }
    }

    static TableSet.Resolved resolve(List<String> include, List<String> exclude) {
        return resolve(TableSet.tables(include.stream().map(p -> TablePattern.parse(p, "--table")).toList(),
            exclude.stream().map(p -> TablePattern.parse(p, "--exclude-table")).toList()));
    }

    static List<String> names(TableSet.Resolved resolved) {
        return resolved.tables().stream().map(t -> t.ref().toString()).toList();
    }

    static List<String> names(String... include) {
        return names(resolve(List.of(include), List.of()));
    }

    /** The tables psql's {@code \dt pattern} lists (schema and name), in its order. */
    static List<TableRef> psql(String pattern) throws IOException, InterruptedException {
        // In a backslash command's single-quoted argument psql reads \\ as \ and '' as '; the rest reaches the pattern as is.
        String argument = "'" + pattern.replace("\\", "\\\\").replace("'", "''") + "'";
        var builder = new ProcessBuilder("psql", "-X", "-A", "-t", "-F", "\u001f", "-R", "\u001e", "-v", "ON_ERROR_STOP=1",
            "-c", "\\dt " + argument).redirectError(ProcessBuilder.Redirect.DISCARD);
        var server = source.server();
        builder.environment().putAll(Map.of("PGHOST", server.host(), "PGPORT", String.valueOf(server.port()), "PGUSER", server.adminUser(),
            "PGPASSWORD", server.adminPassword(), "PGDATABASE", source.name(), "PGCLIENTENCODING", "UTF8"));
        Process process = builder.start();
        String out = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(process.waitFor(30, TimeUnit.SECONDS)).isTrue();
        return Arrays.stream(out.strip().split("\u001e")).filter(line -> !line.isBlank())
            .map(line -> line.strip().split("\u001f")).map(f -> TableRef.of(f[0], f[1])).toList();
    }

    @Test
    void eachPatternSelectsWhatPsqlsDtListsForIt() throws Exception {
        var patterns = List.of("shop.*", "shop.Orders", "shop.\"Orders\"", "shop.\"Ord\"*", "SHOP.ORD*", "shop.\"a.b\"", "shop.a+b",
            "shop.\"a+b\"", "shop.(a|b)", "shop.\"(a|b)\"", "shop.\"what?\"", "shop.what?", "shop.\"star*\"", "shop.star*",
            "shop.\"back\\slash\"", "shop.back\\\\slash", "shop.back\\slash", "shop.back\\sslash", "shop.\"say\"\"hi\"\"\"", "shop.\"say\"\"\"*",
            "shop.price$", "shop.\"price$\"", "shop.Äpfel", "shop.\"Äpfel\"", "shop.ÄPFEL", "shop.int[]", "shop.\"int[]\"",
            "shop.\"^x$\"", "shop.^x$", "shop.[ab]", "shop.a?b", "\"My Shop\".*", "\"My Shop\".\"Order Items\"", "\"My Shop\".order*",
            "\"My Shop\".Order*", "\"Hostile.Schema\".*", "Hostile?Schema.*", "hostile.*", "*.orders", "*.t", "*.\"Order Items\"",
            "shop.nothing", "nowhere.*");
        var differences = new ArrayList<String>();
        for (String pattern : patterns) {
            List<TableRef> ours = resolve(List.of(pattern), List.of()).tables().stream().map(TableSet.Table::ref).toList();
            List<TableRef> theirs = psql(pattern);
            if (!ours.equals(theirs)) {
                differences.add(pattern + ": ours " + ours + ", psql " + theirs);
            }
        }
        assertThat(differences).isEmpty();
        // A few that must match something, so that a psql that lists nothing cannot make the comparison pass.
        assertThat(psql("shop.\"say\"\"hi\"\"\"")).containsExactly(TableRef.of("shop", "say\"hi\""));
        assertThat(psql("shop.a+b")).containsExactly(TableRef.of("shop", "aab"), TableRef.of("shop", "ab"));
        assertThat(psql("shop.back\\sslash")).containsExactly(TableRef.of("shop", "back slash"));
        assertThat(psql("shop.Äpfel")).containsExactly(TableRef.of("shop", "Äpfel"));
    }

    @Test
    void quotingCaseAndRegularExpressionsSelectTheNamesUsersExpect() {
        assertThat(names("shop.Orders")).containsExactly("shop.orders");
        assertThat(names("shop.\"Orders\"")).containsExactly("shop.\"Orders\"");
        assertThat(names("shop.\"a+b\"")).containsExactly("shop.\"a+b\"");
        assertThat(names("shop.a+b")).containsExactly("shop.aab", "shop.ab");
        assertThat(names("shop.\"(a|b)\"")).containsExactly("shop.\"(a|b)\"");
        assertThat(names("shop.(a|b)")).containsExactly("shop.a");
        assertThat(names("shop.\"what?\"")).containsExactly("shop.\"what?\"");
        assertThat(names("shop.what?")).containsExactly("shop.\"what?\"", "shop.whatx");
        assertThat(names("shop.\"back\\slash\"")).containsExactly("shop.\"back\\slash\"");
        assertThat(names("shop.back\\slash")).isEmpty();
        assertThat(names("shop.back\\sslash")).containsExactly("shop.\"back slash\"");
        assertThat(names("shop.\"say\"\"\"*")).containsExactly("shop.\"say\"\"hi\"\"\"");
        assertThat(names("shop.Äpfel")).containsExactly("shop.\"Äpfel\"");
        assertThat(names("\"Hostile.Schema\".*")).containsExactly("\"Hostile.Schema\".t");
        assertThat(names("\"My Shop\".*")).containsExactly("\"My Shop\".\"Order Items\"", "\"My Shop\".orders");
    }

    @Test
    void aPatternWithoutASchemaMeansPublic() {
        assertThat(names("Orders")).containsExactly("public.orders");
        assertThat(names("*")).containsExactly("public.orders", "public.pg_class");
    }

    @Test
    void aSchemaIsEveryTableInIt() {
        var resolved = resolve(TableSet.tables(List.of(TablePattern.schema("\"My Shop\"", "--schema")), List.of()));
        assertThat(names(resolved)).containsExactly("\"My Shop\".\"Order Items\"", "\"My Shop\".orders");
    }

    @Test
    void aPartitionedTableIsInTheSetAndItsPartitionsAreNot() throws Exception {
        var resolved = resolve(List.of("part.*"), List.of());
        assertThat(names(resolved)).containsExactly("part.events", "part.inh_parent");
        assertThat(resolved.tables().get(0).kind()).isEqualTo(TableSet.Kind.PARTITIONED_TABLE);
        assertThat(resolved.tables().get(1).kind()).isEqualTo(TableSet.Kind.TABLE);
        assertThat(resolved.tables().get(0).oid()).isEqualTo(Long.parseLong(source.value("SELECT 'part.events'::regclass::oid")));
        // psql lists the partitions too: reading the parent reads them, so the set leaves them out.
        assertThat(psql("part.*")).hasSize(7);
    }

    @Test
    void aPartitionMatchedWithoutItsParentIsInTheSetWithoutItsOwnPartitions() {
        assertThat(names("part.events_20*")).containsExactly("part.events_2024", "part.events_2025", "part.events_2026");
        assertThat(names("part.events_2026_h1", "part.inh_child")).containsExactly("part.events_2026_h1", "part.inh_child");
        assertThat(names("part.events", "part.events_2024")).containsExactly("part.events");
    }

    @Test
    void excludingAParentExcludesItsPartitionsAndChildren() {
        var resolved = resolve(List.of("part.*"), List.of("part.events", "part.inh_parent"));
        assertThat(names(resolved)).isEmpty();
        assertThat(resolved.unmatched()).isEmpty();
        assertThat(resolved.unusedExcludes()).isEmpty();
        assertThat(names(resolve(List.of("part.events_2024"), List.of("part.events")))).isEmpty();
    }

    @Test
    void excludePatternsLeaveTablesOutAndThoseThatMatchNothingAreReported() {
        var resolved = resolve(List.of("shop.*", "\"My Shop\".*", "shop.orders"),
            List.of("shop.*[^s]", "*.\"Order Items\"", "shop.nothing"));
        assertThat(names(resolved)).containsExactly("\"My Shop\".orders", "shop.\"Orders\"", "shop.order_items", "shop.orders");
        assertThat(resolved.unmatched()).isEmpty();
        assertThat(resolved.unusedExcludes()).extracting(TablePattern::text).containsExactly("shop.nothing");
    }

    @Test
    void viewsAreLeftOutUnlessAskedForAndAPatternThatMatchesOnlyThemSaysSo() {
        var resolved = resolve(List.of("shop.orders_*", "nowhere.*"), List.of());
        assertThat(resolved.tables()).isEmpty();
        assertThat(resolved.unmatched()).hasSize(2);
        assertThat(resolved.unmatched().get(0).describe(TableSet.TABLES)).isEqualTo("pattern shop.orders_* (--table) matched no table or "
            + "partitioned table; it matches materialized view shop.orders_mv, view shop.orders_view");
        assertThat(resolved.unmatched().get(1).describe(TableSet.TABLES)).isEqualTo("pattern nowhere.* (--table) matched no table or "
            + "partitioned table");

        var withViews = resolve(new TableSet(List.of(TablePattern.parse("shop.orders_*", "--table")), List.of(),
            Set.of(TableSet.Kind.VIEW, TableSet.Kind.MATERIALIZED_VIEW)));
        assertThat(names(withViews)).containsExactly("shop.orders_mv", "shop.orders_view");
        assertThat(withViews.tables()).extracting(TableSet.Table::kind)
            .containsExactly(TableSet.Kind.MATERIALIZED_VIEW, TableSet.Kind.VIEW);
    }

    @Test
    void systemSchemasNeverMatch() throws Exception {
        assertThat(names("*.pg_class")).containsExactly("public.pg_class");
        var resolved = resolve(List.of("pg_catalog.*", "information_schema.*", "pg_toast.*", "pg_*.*"), List.of());
        assertThat(resolved.tables()).isEmpty();
        assertThat(resolved.unmatched()).extracting(m -> m.pattern().text())
            .containsExactly("pg_catalog.*", "information_schema.*", "pg_toast.*", "pg_*.*");
        // psql would list the catalog's own: the one place we differ on purpose.
        assertThat(psql("*.pg_class")).contains(TableRef.of("pg_catalog", "pg_class"), TableRef.of("public", "pg_class"));
    }

    @Test
    void eachResolutionSeesTheTablesThatExistThen() {
        assertThat(names("hostile.*")).containsExactly("hostile.t");
        source.execute("CREATE TABLE hostile.u (id int)");
        assertThat(names("hostile.*")).containsExactly("hostile.t", "hostile.u");
        source.execute("DROP TABLE hostile.u");
    }

    @Test
    void anInvalidRegularExpressionIsBadInputNamingThePattern() {
        var error = assertThrows(DatakitException.class, () -> resolve(List.of("shop.*"), List.of("shop.a(b")));
        assertThat(error.exitCode()).isEqualTo(ExitCode.BAD_INPUT);
        assertThat(error.getMessage()).isEqualTo("--exclude-table pattern \"shop.a(b\" is not a valid regular expression: invalid "
            + "regular expression: parentheses () not balanced. Outside double quotes the characters of a pattern other than * ? . $ are "
            + "regular-expression syntax, as in psql; put a name in double quotes to match it as written.");
    }
}
