package datakit.jsonb;

import static org.assertj.core.api.Assertions.assertThat;

import datakit.testing.Datakits;
import datakit.testing.TestDatabase;
import datakit.testing.TestPostgres;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** postgres-jsonb --json-columns: text declared JSON lands as jsonb; what does not parse is quarantined, never fatal. */
class JsonRejectsIT {
    static final String BAD = "{\"a\": 1,, \"é\": \"\\u00e9\"}\n  ";

    TestDatabase source;
    TestDatabase warehouse;

    @BeforeEach
    void createDatabases() {
        source = TestPostgres.createDatabase("rejects_src");
        warehouse = TestPostgres.createDatabase("rejects_wh");
        source.execute("CREATE TABLE public.events (id int PRIMARY KEY, raw_event text, meta varchar(100))",
            "INSERT INTO events VALUES (1, '{\"a\": [1, 2.50]}', '{}'), (2, " + literal(BAD) + ", '[]'), (3, NULL, 'null'), "
                + "(4, 'not json', ' {\"b\": true} ')");
    }

    static String literal(String text) {
        return "'" + text.replace("'", "''") + "'";
    }

    Datakits.Run jsonb(String... args) {
        return Datakits.run("PostgresJsonb", Map.of("SOURCE_DATABASE_URL", source.url(), "WAREHOUSE_DATABASE_URL", warehouse.url()), args);
    }

    @Test
    void rowsThatDoNotParseLoadWithNullAndTheirTextAndErrorAreQuarantined() {
        var run = jsonb("--table", "events", "--json-columns", "raw_event,meta");

        assertThat(run.exitCode()).as(run.toString()).isZero();
        assertThat(run.out()).contains("rejected   raw_event: 2; meta: 0");
        assertThat(warehouse.rows("SELECT attname::text, format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = "
            + "'bronze.events'::regclass AND attname IN ('raw_event', 'meta') ORDER BY attnum"))
            .containsExactly(List.of("raw_event", "jsonb"), List.of("meta", "jsonb"));
        assertThat(warehouse.rows("SELECT id::text, raw_event::text, meta::text FROM bronze.events ORDER BY id")).containsExactly(
            List.of("1", "{\"a\": [1, 2.50]}", "{}"), Arrays.asList("2", null, "[]"), Arrays.asList("3", null, "null"),
            Arrays.asList("4", null, "{\"b\": true}"));
        assertThat(warehouse.rows("SELECT row_key::text, column_name, raw_value, error, source_table, stream, "
            + "run_id = (SELECT run_id FROM bronze.extraction_runs) FROM bronze._bronze_rejects ORDER BY row_key")).containsExactly(
            List.of("{\"id\": 2}", "raw_event", BAD, "invalid input syntax for type json (Expected string, but found \",\".)",
                "public.events", "bronze.events", "t"),
            List.of("{\"id\": 4}", "raw_event", "not json", "invalid input syntax for type json (Token \"not\" is invalid.)",
                "public.events", "bronze.events", "t"));
    }

    @Test
    void aFullRefreshInMergeModeRecordsItsRejectsWithTheRun() {
        source.execute("ALTER TABLE events ADD COLUMN at int NOT NULL DEFAULT 1");
        var run = jsonb("--table", "events", "--json-columns", "raw_event", "--cursor-field", "at", "--full-refresh", "--json");

        assertThat(run.exitCode()).as(run.toString()).isZero();
        assertThat(run.out()).contains("\"rejected\":{\"raw_event\":2}");
        assertThat(warehouse.value("SELECT details -> 'rejected' ->> 'raw_event' FROM bronze.extraction_runs")).isEqualTo("2");
    }

    @Test
    void appendedRunsQuarantineTheirOwnRejectsAndATableWithoutKeyGivesNoRowKey() {
        source.execute("ALTER TABLE events DROP CONSTRAINT events_pkey");

        assertThat(jsonb("--table", "events", "--json-columns", "raw_event", "--mode", "append").exitCode()).isZero();
        var second = jsonb("--table", "events", "--json-columns", "raw_event", "--mode", "append");

        assertThat(second.exitCode()).as(second.toString()).isZero();
        assertThat(warehouse.count("bronze.events")).isEqualTo(8);
        assertThat(warehouse.value("SELECT count(DISTINCT run_id) || ' runs, ' || count(*) || ' rejects, keys ' || "
            + "coalesce(string_agg(row_key::text, ','), 'none') FROM bronze._bronze_rejects")).isEqualTo("2 runs, 4 rejects, keys none");
    }

    @Test
    void aReadWithoutTheKeyStillLoadsAndItsRejectsHaveNoRowKey() {
        var run = jsonb("--table", "events", "--columns", "raw_event", "--json-columns", "raw_event");

        assertThat(run.exitCode()).as(run.toString()).isZero();
        assertThat(warehouse.value("SELECT count(*) || ' without key' FROM bronze._bronze_rejects WHERE row_key IS NULL"))
            .isEqualTo("2 without key");
    }

    @Test
    void declaringAColumnThatIsNotTextFailsWithOneClearLine() {
        source.execute("ALTER TABLE events ADD COLUMN doc jsonb");
        var cases = Map.of(
            "doc", "--json-columns names doc, which is jsonb: only text columns are declared JSON",
            "nosuch", "--json-columns names nosuch, which the read has not",
            "id", "--json-columns names id, a column of the primary key of public.events");
        cases.forEach((column, message) -> {
            var run = jsonb("--table", "events", "--json-columns", column);
            assertThat(run.exitCode()).as(run.toString()).isEqualTo(2);
            assertThat(run.err().lines().filter(l -> l.startsWith("ERROR:")).toList()).as(run.toString()).singleElement().asString().contains(message);
        });
    }
}
