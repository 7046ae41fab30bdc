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

/** postgres-jsonb with a cursor: incremental loads with flattened keys and JSON text, and columns that keep their types. */
class JsonIncrementalIT {
    TestDatabase source;
    TestDatabase warehouse;

    @BeforeEach
    void createDatabases() {
        source = TestPostgres.createDatabase("jinc_src");
        warehouse = TestPostgres.createDatabase("jinc_wh");
        source.execute("""
            CREATE TABLE public.orders (id int PRIMARY KEY, payload jsonb, raw text, updated_at timestamptz NOT NULL);
            INSERT INTO orders SELECT g, jsonb_build_object('n', g, 's', 'x' || g), CASE WHEN g % 4 = 0 THEN 'bad' ELSE '{"ok": 1}' END,
                   timestamptz '2026-01-01' + g * interval '1 minute'
            FROM generate_series(1, 10) g;
            """);
    }

    Datakits.Run jsonb(String... args) {
        return Datakits.run("PostgresJsonb", Map.of("SOURCE_DATABASE_URL", source.url(), "WAREHOUSE_DATABASE_URL", warehouse.url()), args);
    }

    Datakits.Run incremental(String... more) {
        var args = new java.util.ArrayList<>(List.of("--table", "orders", "--cursor-field", "updated_at", "--flatten", "payload",
            "--json-columns", "raw"));
        args.addAll(List.of(more));
        return jsonb(args.toArray(String[]::new));
    }

    /** The bronze columns flattened from payload, with their types, in table order. */
    List<List<String>> flattenedColumns() {
        return warehouse.rows("SELECT attname::text, format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = "
            + "'bronze.orders'::regclass AND attname LIKE 'payload\\_\\_%' ORDER BY attnum");
    }

    /** The run's warnings that say {@code text}. */
    static List<String> warnings(Datakits.Run run, String text) {
        return run.err().lines().filter(l -> l.startsWith("WARNING: ") && l.contains(text)).toList();
    }

    @Test
    void chunksOfAnIncrementalRunMakeTheSameColumnsAndAKeyWhoseTypeChangedLandsInAVariantColumn() {
        var first = incremental("--chunk-rows", "3");

        assertThat(first.exitCode()).as(first.toString()).isZero();
        assertThat(warehouse.rows("SELECT id::text, payload__n::text, payload__s, raw::text FROM bronze.orders WHERE id IN (3, 4) ORDER BY id"))
            .containsExactly(List.of("3", "3", "x3", "{\"ok\": 1}"), Arrays.asList("4", "4", "x4", null));
        assertThat(warehouse.value("SELECT count(*) FROM bronze._bronze_rejects")).isEqualTo("2");
        assertThat(first.out()).contains("rejected   raw: 2");

        source.execute("UPDATE orders SET payload = '{\"n\": \"ten\", \"s\": \"y\", \"z\": true}', updated_at = '2026-02-01' WHERE id = 10",
            "UPDATE orders SET payload = payload || '{\"n\": 90}', updated_at = '2026-02-02' WHERE id = 9");
        var second = incremental("--chunk-rows", "1");

        assertThat(second.exitCode()).as(second.toString()).isZero();
        assertThat(flattenedColumns()).as("the sample (of the whole table) holds numbers and strings at n now: jsonb, as a replace makes it")
            .containsExactly(List.of("payload__n", "numeric"), List.of("payload__s", "text"), List.of("payload__n__v_jsonb", "jsonb"),
                List.of("payload__z", "boolean"));
        assertThat(warehouse.rows("SELECT id::text, payload__n::text, payload__n__v_jsonb::text FROM bronze.orders WHERE id >= 8 ORDER BY orders.id"))
            .as("the rows the merge writes hold n in the variant column only").containsExactly(Arrays.asList("8", "8", null),
                Arrays.asList("9", null, "90"), Arrays.asList("10", null, "\"ten\""));
        assertThat(warehouse.rows("SELECT id::text, coalesce(payload__n::text, payload__n__v_jsonb #>> '{}'), payload::text FROM bronze.orders "
            + "ORDER BY id")).as("every value of the source is in the column or its variant; the raw column is unchanged")
            .isEqualTo(source.rows("SELECT id::text, payload->>'n', payload::text FROM orders ORDER BY id"));
        assertThat(warnings(second, "payload__n went from numeric to jsonb")).as("said once, though two chunks landed it").singleElement()
            .asString().contains("its values land in payload__n__v_jsonb from now on");
        assertThat(warehouse.rows("SELECT column_name, change, coalesce(old_type, ''), new_type, lands_in FROM bronze.schema_changes "
            + "ORDER BY change_id")).containsExactly(List.of("payload__n", "variant", "numeric", "jsonb", "payload__n__v_jsonb"),
                List.of("payload__z", "added", "", "boolean", "payload__z"));
        assertThat(warehouse.value("SELECT count(*) FROM bronze._bronze_rejects")).as("no value is NULL in its column").isEqualTo("2");
        assertThat(warehouse.count("bronze.orders")).isEqualTo(10);

        source.execute("UPDATE orders SET payload = payload || '{\"n\": 10}', updated_at = '2026-03-01' WHERE id = 10");
        var third = incremental();
        assertThat(third.exitCode()).as(third.toString()).isZero();
        assertThat(warehouse.rows("SELECT id::text, payload__n::text, payload__n__v_jsonb::text FROM bronze.orders WHERE id >= 9 ORDER BY orders.id"))
            .as("numbers only again: n lands in its column, and the variant column of the row written is NULL, not its old value")
            .containsExactly(Arrays.asList("9", null, "90"), Arrays.asList("10", "10", null));

        source.execute("UPDATE orders SET payload = payload || '{\"n\": \"eight\"}' WHERE id = 8");
        var refresh = incremental("--full-refresh");
        assertThat(refresh.exitCode()).as(refresh.toString()).isZero();
        assertThat(flattenedColumns()).as("a full refresh rebuilds the table with the types the sample finds now, without variants")
            .containsExactly(List.of("payload__n", "jsonb"), List.of("payload__s", "text"), List.of("payload__z", "boolean"));
        assertThat(warnings(refresh, "rebuilt payload__n as jsonb (was numeric)")).as(refresh.toString()).hasSize(1);
    }

    @Test
    void appendedFullExtractsLandTheValuesOfAKeyThatBecameAStringInAVariantColumnAndSaySoOnce() {
        assertThat(jsonb("--table", "orders", "--flatten", "payload", "--mode", "append").exitCode()).isZero();
        source.execute("UPDATE orders SET payload = jsonb_set(payload, '{n}', to_jsonb('#' || id))");

        var dryRun = jsonb("--table", "orders", "--flatten", "payload", "--mode", "append", "--dry-run");
        assertThat(dryRun.out()).as(dryRun.toString()).contains("ADD COLUMN IF NOT EXISTS \"payload__n__v_text\" text");
        var frozen = jsonb("--table", "orders", "--flatten", "payload", "--mode", "append", "--on-schema-change", "freeze");
        assertThat(frozen.exitCode()).as(frozen.toString()).isEqualTo(3);
        assertThat(frozen.err()).contains("payload__n went from numeric to text");
        var second = jsonb("--table", "orders", "--flatten", "payload", "--mode", "append");

        assertThat(second.exitCode()).as(second.toString()).isZero();
        assertThat(flattenedColumns()).containsExactly(List.of("payload__n", "numeric"), List.of("payload__s", "text"),
            List.of("payload__n__v_text", "text"));
        String latest = " FROM bronze.orders WHERE _bronze_loaded_at = (SELECT max(_bronze_loaded_at) FROM bronze.orders) ORDER BY id";
        assertThat(warehouse.rows("SELECT id::text, payload__n::text, payload__n__v_text, payload::text" + latest))
            .as("the versions appended now hold n in the variant column, the raw column as the source has it")
            .isEqualTo(source.rows("SELECT id::text, NULL, payload->>'n', payload::text FROM orders ORDER BY id"));
        assertThat(warehouse.value("SELECT count(*) FROM bronze.orders WHERE payload__n = id AND payload__n__v_text IS NULL"))
            .as("the versions appended before keep theirs").isEqualTo("10");
        assertThat(warnings(second, "payload__n went from numeric to text")).as(second.toString()).singleElement().asString()
            .contains("its values land in payload__n__v_text from now on");
        assertThat(warehouse.rows("SELECT column_name, change, old_type, new_type, lands_in FROM bronze.schema_changes"))
            .containsExactly(List.of("payload__n", "variant", "numeric", "text", "payload__n__v_text"));

        var third = jsonb("--table", "orders", "--flatten", "payload", "--mode", "append");
        assertThat(third.exitCode()).as(third.toString()).isZero();
        assertThat(warnings(third, "payload__n")).as("said once").isEmpty();
        assertThat(warehouse.value("SELECT count(*) FROM bronze.orders WHERE payload__n__v_text IS NOT NULL")).isEqualTo("20");
    }

    @Test
    void incrementalOptionsWithoutACursorAreRefusedRatherThanIgnored() {
        var run = jsonb("--table", "orders", "--flatten", "payload", "--lookback", "P1D", "--detect-deletes");

        assertThat(run.exitCode()).as(run.toString()).isEqualTo(2);
        assertThat(run.err()).contains("--lookback, --detect-deletes load incrementally, and no cursor is given");
        assertThat(warehouse.value("SELECT count(*) FROM pg_tables WHERE schemaname = 'bronze' AND tablename = 'orders'")).isEqualTo("0");
    }

    @Test
    void wholeTableOptionsAreRefusedWithACursor() {
        for (String option : List.of("--explode", "--profile")) {
            var args = new java.util.ArrayList<>(List.of("--table", "orders", "--cursor-field", "updated_at", option));
            if (option.equals("--explode")) {
                args.add("payload.items");
            }
            var run = jsonb(args.toArray(String[]::new));
            assertThat(run.exitCode()).as(run.toString()).isEqualTo(2);
            assertThat(run.err()).contains("--explode and --profile work on whole tables: run them with a full extract");
        }
    }
}
