package datakit.source;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import datakit.config.ConnectionResolver;
import datakit.config.Environment;
import datakit.config.Role;
import datakit.db.Database;
import datakit.error.DatakitException;
import datakit.sql.TablePattern;
import datakit.sql.TableRef;
import datakit.testing.TestPostgres;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Review probes (issue 18): TableSet against psql and partition/exclusion rules. Reuses TableSetIT's psql helper. */
class TableSetProbeIT {
    static Database database;

    @BeforeAll
    static void open() {
        TableSetIT.source = TestPostgres.createDatabase("patprobe");
        TableSetIT.source.execute("""
            CREATE SCHEMA rv; CREATE SCHEMA rv2;
            CREATE TABLE rv."e\u0301te\u0301" (id int); CREATE TABLE rv."\u00e9t\u00e9" (id int); CREATE TABLE rv."\u00c9T\u00c9" (id int);
            CREATE TABLE rv.ab (id int); CREATE TABLE rv.aab (id int); CREATE TABLE rv."Mixedcase" (id int); CREATE TABLE rv.mixedcase (id int);
            CREATE TABLE rv."x""y" (id int); CREATE TABLE rv."a\\b" (id int); CREATE TABLE rv."\ud83d\ude00" (id int);
            CREATE TABLE rv.%s (id int);
            CREATE TABLE rv.p (id int, k int) PARTITION BY LIST (k);
            CREATE TABLE rv.p_1 PARTITION OF rv.p FOR VALUES IN (1);
            CREATE TABLE rv2.p_2 PARTITION OF rv.p FOR VALUES IN (2);
            """.formatted("l".repeat(63)));
        var env = new Environment(Map.of("SOURCE_DATABASE_URL", TableSetIT.source.url()), Map.of(), ".env", Path.of("/nonexistent"), "x");
        database = Database.open(new ConnectionResolver(env, warning -> { }).resolve(Role.SOURCE, null, "test"), Database.Access.READ_ONLY);
    }

    @AfterAll
    static void close() {
        database.close();
    }

    static TableSet.Resolved resolve(List<String> include, List<String> exclude) {
        try (var session = SourceSession.begin(database)) {
            return TableSet.tables(include.stream().map(p -> TablePattern.parse(p, "--table")).toList(),
                exclude.stream().map(p -> TablePattern.parse(p, "--exclude-table")).toList()).resolve(session);
        }
    }

    @Test
    void morePatternsSelectWhatPsqlLists() throws Exception {
        var patterns = List.of("rv.e?te?", "rv.e??te??", "rv.?t?", "rv.\u00c9*", "rv.\"\u00c9\"*", "rv.\u00e9*", "rv.a{2}b", "rv.A{2}B",
            "rv.[A-Z]ixedcase", "rv.\"M\"ixedcase", "rv.Mixed\"case\"", "rv.\"x\"\"y\"", "rv.x\"\"y", "rv.\"a\\b\"", "rv.a\\\\b", "rv.?",
            "RV.AB", "rv.\"\ud83d\ude00\"", "rv.l*", "rv." + "l".repeat(63), "rv.(ab|aab)", "rv.ab|aab", "rv.\"ab\"|aab");
        var differences = new ArrayList<String>();
        for (String pattern : patterns) {
            List<TableRef> ours;
            try {
                ours = resolve(List.of(pattern), List.of()).tables().stream().map(TableSet.Table::ref).toList();
            } catch (DatakitException e) {
                differences.add(pattern + ": ours refused (" + e.getMessage() + "), psql " + TableSetIT.psql(pattern));
                continue;
            }
            List<TableRef> theirs = TableSetIT.psql(pattern);
            if (!ours.equals(theirs)) {
                differences.add(pattern + ": ours " + ours + ", psql " + theirs);
            }
        }
        assertThat(differences).isEmpty();
    }

    /** A name longer than PostgreSQL allows matches nothing in psql; here it is refused, naming the option and the pattern. */
    @Test
    void aNameLongerThanPostgresAllowsIsRefusedNamingTheOption() {
        var error = assertThrows(DatakitException.class, () -> TablePattern.parse("rv." + "l".repeat(70), "--table"));
        assertThat(error.getMessage()).startsWith("--table pattern \"rv." + "l".repeat(70) + "\" names " + "l".repeat(70) + ", 70 bytes long");
    }

    @Test
    void excludingAPartitionWhoseParentIsIncludedIsNotSilentlyIgnored() {
        var resolved = resolve(List.of("rv.p*"), List.of("rv.p_1"));
        // Either the parent is read without the partition, or the run is told that the exclusion had no effect.
        assertThat(resolved.tables().stream().noneMatch(t -> t.ref().equals(TableRef.of("rv", "p"))) || !resolved.unusedExcludes().isEmpty())
            .as("tables %s, unused excludes %s", resolved.tables(), resolved.unusedExcludes()).isTrue();
    }

    @Test
    void excludingTheSchemaOfPartitionsIsNotSilentlyIgnored() {
        var resolved = resolve(List.of("rv.*", "rv2.*"), List.of("rv2.*"));
        assertThat(resolved.tables().stream().noneMatch(t -> t.ref().equals(TableRef.of("rv", "p"))) || !resolved.unusedExcludes().isEmpty())
            .as("tables %s, unused excludes %s", resolved.tables(), resolved.unusedExcludes()).isTrue();
    }

    @Test
    void anInvalidRegularExpressionIsReportedEvenWhenTheSchemaPartMatchesNothing() {
        var error = assertThrows(DatakitException.class, () -> resolve(List.of("nosuch.order(s"), List.of()));
        assertThat(error.getMessage()).contains("not a valid regular expression");
    }

    @Test
    void anInvalidRegularExpressionInAnExcludeIsReported() {
        var error = assertThrows(DatakitException.class, () -> resolve(List.of("rv.ab"), List.of("nosuch.order(s")));
        assertThat(error.getMessage()).contains("not a valid regular expression");
    }
}
