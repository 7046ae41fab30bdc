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

    @Test
    void chunksOfAnIncrementalRunMakeTheSameColumnsAndLaterRunsKeepTheirTypes() {
        var first = incremental("--chunk-rows", "3");

        assertThat(first.exitCode()).as(first.toString()).isZero();
        assertThat(warehouse.rows("SELECT id::text, payload__n::text, payload__s, raw::text FROM bronze.orders WHERE id IN (3, 4) ORDER BY id"))
            .containsExactly(List.of("3", "3", "x3", "{\"ok\": 1}"), Arrays.asList("4", "4", "x4", null));
        assertThat(warehouse.value("SELECT count(*) FROM bronze._bronze_rejects")).isEqualTo("2");
        assertThat(first.out()).contains("rejected   raw: 2");

        source.execute("UPDATE orders SET payload = '{\"n\": \"ten\", \"s\": \"y\", \"z\": true}', updated_at = '2026-02-01' WHERE id = 10");
        var second = incremental();

        assertThat(second.exitCode()).as(second.toString()).isZero();
        assertThat(warehouse.rows("SELECT attname::text, format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = "
            + "'bronze.orders'::regclass AND attname LIKE 'payload__%' ORDER BY attnum"))
            .as("payload__n stays numeric though the sample now finds a string there").containsExactly(
                List.of("payload__n", "numeric"), List.of("payload__s", "text"), List.of("payload__z", "boolean"));
        assertThat(warehouse.rows("SELECT id::text, payload__n::text, payload->>'n', payload__z::text FROM bronze.orders WHERE id = 10"))
            .containsExactly(Arrays.asList("10", null, "ten", "true"));
        assertThat(warehouse.count("bronze.orders")).isEqualTo(10);

        var refresh = incremental("--full-refresh");
        assertThat(refresh.exitCode()).as(refresh.toString()).isZero();
        assertThat(warehouse.value("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'bronze.orders'::regclass "
            + "AND attname = 'payload__n'")).as("a full refresh takes the types found now").isEqualTo("jsonb");
    }

    @Test
    void appendedFullExtractsKeepTheTypesOfFlattenedColumns() {
        assertThat(jsonb("--table", "orders", "--flatten", "payload", "--mode", "append").exitCode()).isZero();
        source.execute("UPDATE orders SET payload = jsonb_set(payload, '{n}', '\"many\"') WHERE id = 1");

        var second = jsonb("--table", "orders", "--flatten", "payload", "--mode", "append");

        assertThat(second.exitCode()).as(second.toString()).isZero();
        assertThat(warehouse.value("SELECT count(*) FILTER (WHERE payload__n IS NULL) || ' of ' || count(*) FROM bronze.orders WHERE id = 1"))
            .isEqualTo("1 of 2");
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
