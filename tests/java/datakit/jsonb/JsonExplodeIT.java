package datakit.jsonb;

import static org.assertj.core.api.Assertions.assertThat;

import datakit.testing.Datakits;
import datakit.testing.TestDatabase;
import datakit.testing.TestPostgres;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** postgres-jsonb --explode: child tables with the parent's key, each element's ordinal and value, and its errors. */
class JsonExplodeIT {
    TestDatabase source;
    TestDatabase warehouse;

    @BeforeEach
    void createDatabases() {
        source = TestPostgres.createDatabase("explode_src");
        warehouse = TestPostgres.createDatabase("explode_wh");
        source.execute("""
            CREATE TABLE public.orders (region text, id int, tags text[], grid int[], payload jsonb, PRIMARY KEY (region, id));
            INSERT INTO public.orders VALUES
              ('eu', 1, '{a,b,NULL}', '{{1,2},{3,4}}',
               '{"items": [{"sku": "A", "qty": 2}, {"sku": "B", "qty": 1.5, "note": null}, 7, [1]]}'),
              ('eu', 2, '[0:1]={x,y}', NULL, '{"items": []}'),
              ('us', 1, NULL, '{}', '{"items": "not an array"}'),
              ('us', 2, '{}', '{5}', NULL);
            """);
    }

    Datakits.Run jsonb(String... args) {
        return Datakits.run("PostgresJsonb", Map.of("SOURCE_DATABASE_URL", source.url(), "WAREHOUSE_DATABASE_URL", warehouse.url()), args);
    }

    @Test
    void sqlArrayElementsLandWithTheParentKeyAndTheirOrdinal() {
        var run = jsonb("--table", "orders", "--explode", "tags", "--explode", "grid");

        assertThat(run.exitCode()).as(run.toString()).isZero();
        String rows = "SELECT region, id::text, ordinal::text, value::text FROM %s ORDER BY 1, 2, 3";
        assertThat(warehouse.rows(rows.formatted("bronze.orders__tags"))).isEqualTo(source.rows(rows.formatted(
            "(SELECT region, id, n AS ordinal, v AS value FROM orders, unnest(tags) WITH ORDINALITY AS e(v, n)) AS t")))
            .contains(List.of("eu", "2", "1", "x"));
        assertThat(warehouse.rows(rows.formatted("bronze.orders__grid"))).as("a 2-D array counts its elements in storage order")
            .containsExactly(List.of("eu", "1", "1", "1"), List.of("eu", "1", "2", "2"), List.of("eu", "1", "3", "3"),
                List.of("eu", "1", "4", "4"), List.of("us", "2", "1", "5"));
        assertThat(warehouse.value("SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
            + "WHERE attrelid = 'bronze.orders__grid'::regclass AND attname = 'value'")).isEqualTo("integer");
        assertThat(warehouse.count("bronze.orders")).isEqualTo(4);
    }

    @Test
    void jsonArrayElementsKeepTheirValueAndObjectKeysBecomeColumns() {
        var run = jsonb("--table", "orders", "--explode", "payload.items");

        assertThat(run.exitCode()).as(run.toString()).isZero();
        assertThat(warehouse.rows("SELECT region, id::text, ordinal::text, value::text, value__sku, value__qty::text, "
            + "value__note::text FROM bronze.orders__payload__items ORDER BY 1, 2, 3")).containsExactly(
            java.util.Arrays.asList("eu", "1", "1", "{\"qty\": 2, \"sku\": \"A\"}", "A", "2", null),
            java.util.Arrays.asList("eu", "1", "2", "{\"qty\": 1.5, \"sku\": \"B\", \"note\": null}", "B", "1.5", "null"),
            java.util.Arrays.asList("eu", "1", "3", "7", null, null, null),
            java.util.Arrays.asList("eu", "1", "4", "[1]", null, null, null));
        assertThat(run.out()).contains("child tables: bronze.orders__payload__items: 4");
    }

    @Test
    void aSecondRunReplacesTheChildTablesWithTheParent() {
        assertThat(jsonb("--table", "orders", "--explode", "tags").exitCode()).isZero();
        source.execute("UPDATE orders SET tags = '{z}' WHERE region = 'eu' AND id = 1", "DELETE FROM orders WHERE id = 2");

        var run = jsonb("--table", "orders", "--explode", "tags");

        assertThat(run.exitCode()).as(run.toString()).isZero();
        assertThat(warehouse.rows("SELECT region, id::text, ordinal::text, value FROM bronze.orders__tags ORDER BY 1, 2, 3"))
            .containsExactly(List.of("eu", "1", "1", "z"));
        assertThat(warehouse.value("SELECT count(DISTINCT _bronze_run_id) FROM (SELECT _bronze_run_id FROM bronze.orders "
            + "UNION ALL SELECT _bronze_run_id FROM bronze.orders__tags) AS t")).as("parent and child from one run").isEqualTo("1");
    }

    @Test
    void aChildTableIsPartOfItsParentsStreamAndNoOtherStreamMayTakeIt() {
        source.execute("CREATE TABLE public.orders__tags (region text, id int, PRIMARY KEY (region, id))");
        assertThat(jsonb("--table", "orders", "--explode", "tags").exitCode()).isZero();

        var plain = jsonb("--table", "orders__tags");
        assertThat(plain.exitCode()).as(plain.toString()).isEqualTo(3);
        assertThat(plain.err()).contains("bronze.orders__tags holds the rows of public.orders, and this run reads public.orders__tags");

        warehouse.execute("DROP TABLE bronze.orders__tags", "DELETE FROM bronze.extraction_runs");
        assertThat(jsonb("--table", "orders__tags").exitCode()).isZero();
        var explode = jsonb("--table", "orders", "--explode", "tags");
        assertThat(explode.exitCode()).as(explode.toString()).isEqualTo(3);
        assertThat(explode.err()).contains("bronze.orders__tags holds the rows of public.orders__tags, and this run reads public.orders");
    }

    @Test
    void badExplodeArgumentsFailWithOneClearLineAndWriteNothing() {
        source.execute("CREATE TABLE public.keyless (id int, tags text[])", "INSERT INTO keyless VALUES (1, '{a}')");
        var cases = Map.of(
            List.of("--table", "keyless", "--explode", "tags"), "needs the primary key of public.keyless",
            List.of("--table", "orders", "--explode", "region"), "region is text, not an array, json or jsonb",
            List.of("--table", "orders", "--explode", "tags.first"), "tags is an array (text[]), which has no keys",
            List.of("--table", "orders", "--explode", "nosuch"), "the read has no column nosuch",
            List.of("--query", "SELECT * FROM orders", "--target-table", "q", "--explode", "tags"), "--explode needs a table",
            List.of("--table", "orders", "--explode", "tags", "--explode", "tags"), "another --explode lands in the same child table",
            List.of("--table", "orders", "--columns", "tags", "--explode", "tags"), "--columns leaves out region, id");
        cases.forEach((args, message) -> {
            var run = jsonb(args.toArray(String[]::new));
            assertThat(run.exitCode()).as(run.toString()).isEqualTo(2);
            assertThat(run.err().lines().filter(l -> l.startsWith("ERROR:")).toList()).as(run.toString()).singleElement().asString().contains(message);
        });
        assertThat(warehouse.value("SELECT count(*) FROM pg_tables WHERE schemaname = 'bronze' AND tablename LIKE 'orders%'")).isEqualTo("0");
    }
}
