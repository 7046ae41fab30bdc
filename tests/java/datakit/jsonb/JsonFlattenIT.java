package datakit.jsonb;

import static org.assertj.core.api.Assertions.assertThat;

import datakit.testing.Datakits;
import datakit.testing.TestDatabase;
import datakit.testing.TestPostgres;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** postgres-jsonb --flatten: the key columns it makes, their types, their values, and its errors. */
class JsonFlattenIT {
    TestDatabase source;
    TestDatabase warehouse;

    @BeforeEach
    void createDatabases() {
        source = TestPostgres.createDatabase("json_src");
        warehouse = TestPostgres.createDatabase("json_wh");
        source.execute("""
            CREATE TABLE public.orders (id int PRIMARY KEY, payload jsonb, raw json);
            INSERT INTO public.orders VALUES
              (1, '{"customer": {"id": 7, "name": "Ann", "vip": true}, "total": 12.50, "tags": ["a"], "note": "x", "mixed": 1,
                    "nothing": null}',
                  '{"customer": {"id": 7, "id": 8}, "when": "2026-01-01"}'),
              (2, '{"customer": {"id": 8, "name": "Bob", "vip": false}, "total": 99999999999999999999.123456789012345678901234567890,
                    "tags": [], "mixed": "one", "nothing": null, "extra": {"k": 1}}',
                  '{"customer": {"id": 9}}'),
              (3, NULL, NULL),
              (4, '[1, 2]', '"just a string"'),
              (5, '{}', '{}');
            """);
    }

    Datakits.Run jsonb(String... args) {
        return Datakits.run("PostgresJsonb", Map.of("SOURCE_DATABASE_URL", source.url(), "WAREHOUSE_DATABASE_URL", warehouse.url()), args);
    }

    /** The bronze columns whose name starts with {@code prefix}, with their types, in table order. */
    List<List<String>> columns(String prefix) {
        return warehouse.rows("SELECT attname::text, format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'bronze.orders'::regclass "
            + "AND attnum > 0 AND NOT attisdropped AND attname LIKE '" + prefix + "%' ORDER BY attnum");
    }

    @Test
    void keysBecomeColumnsTypedByWhatTheDocumentsHoldAndConflictsStayJsonb() {
        var run = jsonb("--table", "orders", "--flatten", "payload:2");

        assertThat(run.exitCode()).as(run.toString()).isZero();
        assertThat(columns("payload__")).containsExactly(
            List.of("payload__customer__id", "numeric"),
            List.of("payload__customer__name", "text"),
            List.of("payload__customer__vip", "boolean"),
            List.of("payload__extra__k", "numeric"),
            List.of("payload__mixed", "jsonb"),
            List.of("payload__note", "text"),
            List.of("payload__nothing", "jsonb"),
            List.of("payload__tags", "jsonb"),
            List.of("payload__total", "numeric"));
        assertThat(warehouse.rows("SELECT id::text, payload__customer__id::text, payload__customer__name, payload__customer__vip::text, "
            + "payload__total::text, payload__tags::text, payload__mixed::text, payload__nothing::text, payload__extra__k::text "
            + "FROM bronze.orders ORDER BY id")).containsExactly(
            Arrays.list("1", "7", "Ann", "true", "12.50", "[\"a\"]", "1", "null", null),
            Arrays.list("2", "8", "Bob", "false", "99999999999999999999.123456789012345678901234567890", "[]", "\"one\"", "null", "1"),
            Arrays.list("3", null, null, null, null, null, null, null, null),
            Arrays.list("4", null, null, null, null, null, null, null, null),
            Arrays.list("5", null, null, null, null, null, null, null, null));
        assertThat(warehouse.rows("SELECT id::text, payload::text, raw::text FROM bronze.orders ORDER BY id"))
            .as("the raw columns are kept exactly").isEqualTo(source.rows("SELECT id::text, payload::text, raw::text FROM orders ORDER BY id"));
    }

    @Test
    void atTheFlatteningDepthAnObjectIsOneJsonbColumn() {
        var run = jsonb("--table", "orders", "--flatten", "payload");

        assertThat(run.exitCode()).as(run.toString()).isZero();
        assertThat(columns("payload__customer")).containsExactly(List.of("payload__customer", "jsonb"));
        assertThat(warehouse.value("SELECT payload__customer::text FROM bronze.orders WHERE id = 1"))
            .isEqualTo("{\"id\": 7, \"vip\": true, \"name\": \"Ann\"}");
    }

    @Test
    void aPathFlattensTheObjectInsideAJsonColumn() {
        var run = jsonb("--table", "orders", "--flatten", "raw.customer");

        assertThat(run.exitCode()).as(run.toString()).isZero();
        assertThat(columns("raw__")).containsExactly(List.of("raw__customer__id", "numeric"));
        assertThat(warehouse.rows("SELECT id::text, raw__customer__id::text FROM bronze.orders WHERE id <= 2 ORDER BY id"))
            .as("json keeps its duplicate keys in the raw column; as jsonb the last one wins").containsExactly(List.of("1", "8"), List.of("2", "9"));
    }

    @Test
    void aValueOfATypeTheSampleDidNotSeeIsNullInItsColumnKeptInTheRawOneAndSetAsideWithACount() {
        var run = jsonb("--table", "orders", "--flatten", "payload", "--sample-rows", "1");

        assertThat(run.exitCode()).as(run.toString()).isZero();
        assertThat(columns("payload__mixed")).containsExactly(List.of("payload__mixed", "numeric"));
        assertThat(warehouse.rows("SELECT id::text, payload__mixed::text, payload->>'mixed' FROM bronze.orders WHERE id <= 2 ORDER BY id"))
            .containsExactly(Arrays.list("1", "1", "1"), Arrays.list("2", null, "one"));
        assertThat(run.out()).as("the summary counts the values that are NULL in their column").contains("rejected   payload__mixed: 1");
        assertThat(warehouse.rows("SELECT row_key::text, column_name, raw_value, error FROM bronze._bronze_rejects")).containsExactly(
            List.of("{\"id\": 2}", "payload__mixed", "\"one\"", "a JSON string, which payload__mixed (numeric) cannot hold: the sample of "
                + "the key's values did not hold one; the raw column keeps it"));
    }

    @Test
    void aWhereWithJsonOperatorsReachesTheServerAsWritten() {
        var run = jsonb("--table", "orders", "--flatten", "payload", "--profile", "--where", "payload ? 'note' OR payload ?| array['extra']");

        assertThat(run.exitCode()).as(run.toString()).isZero();
        assertThat(warehouse.rows("SELECT id::text, payload__note FROM bronze.orders ORDER BY id"))
            .containsExactly(Arrays.list("1", "x"), Arrays.list("2", null));
    }

    @Test
    void theDryRunShowsEachKeyWithWhatTheSampleHeld() {
        var run = jsonb("--table", "orders", "--flatten", "payload", "--dry-run");

        assertThat(run.exitCode()).as(run.toString()).isZero();
        assertThat(run.out()).contains("payload__mixed").contains("number in 1, string in 1");
        assertThat(warehouse.value("SELECT count(*) FROM pg_tables WHERE schemaname = 'bronze'")).isEqualTo("0");
    }

    @Test
    void badFlattenArgumentsFailWithOneClearLine() {
        source.execute("ALTER TABLE orders ADD COLUMN payload__note text",
            "INSERT INTO orders VALUES (6, '{\"x__y\": 1, \"x\": {\"y\": 2}}', NULL)");
        var cases = Map.of(
            new String[] {"--columns", "id,payload", "--flatten", "payload:2"}, "makes the column payload__x__y from two keys",
            new String[] {"--flatten", "nosuch"}, "the read has no column nosuch",
            new String[] {"--flatten", "id"}, "id is integer, not json or jsonb",
            new String[] {"--flatten", "payload:0"}, "the depth after the colon must be a number from 1 to 10",
            new String[] {"--flatten", "payload"}, "makes a column payload__note, and the read already has one",
            new String[] {"--flatten", "payload", "--sample-rows", "lots"}, "--sample-rows is \"lots\"");
        cases.forEach((args, message) -> {
            var all = new java.util.ArrayList<>(List.of("--table", "orders"));
            all.addAll(List.of(args));
            var run = jsonb(all.toArray(String[]::new));
            assertThat(run.exitCode()).as(run.toString()).isEqualTo(2);
            assertThat(run.err().lines().filter(l -> l.startsWith("ERROR:")).toList()).as(run.toString()).singleElement().asString().contains(message);
        });
    }

    /** List.of does not take nulls. */
    static final class Arrays {
        static List<String> list(String... values) {
            return java.util.Arrays.asList(values);
        }
    }
}
