package datakit.extract;

import static org.assertj.core.api.Assertions.assertThat;

import datakit.testing.Datakits;
import datakit.testing.TestDatabase;
import datakit.testing.TestPostgres;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** postgres-extract's options and write modes, checked against what lands in the warehouse. */
class ExtractModesIT {
    TestDatabase source;
    TestDatabase warehouse;
    Map<String, String> env;

    @BeforeEach
    void createDatabases() {
        source = TestPostgres.createDatabase("modes_src");
        warehouse = TestPostgres.createDatabase("modes_wh");
        source.execute("""
            CREATE SCHEMA sales;
            CREATE TABLE sales.orders (id bigint PRIMARY KEY, status text, total numeric(10,2), note text);
            INSERT INTO sales.orders SELECT g, CASE WHEN g % 3 = 0 THEN 'paid' ELSE 'new' END, g * 1.25, 'n' || g
            FROM generate_series(1, 1000) g;
            ANALYZE sales.orders;
            """);
        env = Map.of("SOURCE_DATABASE_URL", source.url(), "WAREHOUSE_DATABASE_URL", warehouse.url());
    }

    Datakits.Run extract(String... args) {
        return Datakits.run("PostgresExtract", env, args);
    }

    @Test
    void replaceTwiceLeavesOnlyTheSecondCopyAndKeepsGrantsAndComment() {
        assertThat(extract("--table", "sales.orders").exitCode()).isZero();
        warehouse.execute("CREATE ROLE analyst_" + warehouse.name(), "GRANT SELECT ON bronze.orders TO analyst_" + warehouse.name(),
            "COMMENT ON TABLE bronze.orders IS 'orders, raw'");
        source.execute("DELETE FROM sales.orders WHERE id > 600");

        var second = extract("--table", "sales.orders");

        assertThat(second.exitCode()).as(second.toString()).isZero();
        assertThat(warehouse.count("bronze.orders")).isEqualTo(600);
        assertThat(warehouse.value("SELECT count(DISTINCT _bronze_run_id) FROM bronze.orders")).isEqualTo("1");
        assertThat(warehouse.value("SELECT has_table_privilege('analyst_" + warehouse.name() + "', 'bronze.orders', 'SELECT')")).isEqualTo("t");
        assertThat(warehouse.value("SELECT obj_description('bronze.orders'::regclass)")).isEqualTo("orders, raw");
        assertThat(warehouse.value("SELECT count(*) FROM pg_tables WHERE tablename LIKE '_bronze_staging%'")).isEqualTo("0");
    }

    @Test
    void appendAddsEachRunsRowsAsHistoryAndRecordsBothRuns() {
        assertThat(extract("--table", "sales.orders", "--mode", "append").exitCode()).isZero();
        source.execute("UPDATE sales.orders SET status = 'shipped' WHERE id <= 10");
        var second = extract("--table", "sales.orders", "--mode", "append", "--where", "id <= 10");

        assertThat(second.exitCode()).as(second.toString()).isZero();
        assertThat(warehouse.count("bronze.orders")).isEqualTo(1010);
        assertThat(warehouse.rows("SELECT status, count(*) FROM bronze.orders WHERE id <= 10 GROUP BY 1 ORDER BY 1"))
            .containsExactly(List.of("new", "7"), List.of("paid", "3"), List.of("shipped", "10"));
        assertThat(warehouse.rows("SELECT write_mode, status, rows_loaded FROM bronze.extraction_runs ORDER BY started_at"))
            .containsExactly(List.of("append", "succeeded", "1000"), List.of("append", "succeeded", "10"));
    }

    @Test
    void appendAddsColumnsWidensTypesInPlaceAndLandsOtherTypesInAVariantColumn() {
        assertThat(extract("--table", "sales.orders", "--mode", "append").exitCode()).isZero();
        source.execute("ALTER TABLE sales.orders ADD COLUMN channel text DEFAULT 'web'");
        assertThat(extract("--table", "sales.orders", "--mode", "append").exitCode()).isZero();
        assertThat(warehouse.rows("SELECT channel, count(*) FROM bronze.orders GROUP BY 1 ORDER BY 1 NULLS FIRST"))
            .containsExactly(Arrays.asList(null, "1000"), List.of("web", "1000"));

        source.execute("ALTER TABLE sales.orders ALTER COLUMN total TYPE numeric(12,4)");
        var refused = extract("--table", "sales.orders", "--mode", "append", "--on-schema-change", "fail");
        Datakits.assertFailsWithOneLine(refused, 3, "The columns of sales.orders changed: total went from numeric(10,2) to numeric(12,4); "
            + "--on-schema-change fail stops the stream before anything is written.");
        assertThat(warehouse.count("bronze.orders")).isEqualTo(2000);

        assertThat(extract("--table", "sales.orders", "--mode", "append", "--dry-run").out())
            .contains("  schema      widened total from numeric(10,2) to numeric(12,4) in place",
                "  would run   ALTER TABLE \"bronze\".\"orders\" ALTER COLUMN \"total\" TYPE numeric(12,4)");
        var widened = extract("--table", "sales.orders", "--mode", "append");
        assertThat(widened.exitCode()).as(widened.toString()).isZero();
        assertThat(widened.err()).contains("WARNING: bronze.orders: widened total from numeric(10,2) to numeric(12,4) in place");
        assertThat(warehouse.value("SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
            + "WHERE attrelid = 'bronze.orders'::regclass AND attname = 'total'")).isEqualTo("numeric(12,4)");
        assertThat(warehouse.rows("SELECT total FROM bronze.orders WHERE _bronze_run_id = "
                + "(SELECT run_id FROM bronze.extraction_runs ORDER BY started_at DESC LIMIT 1) ORDER BY id"))
            .isEqualTo(source.rows("SELECT total FROM sales.orders ORDER BY id"));

        source.execute("ALTER TABLE sales.orders ALTER COLUMN total TYPE text USING 'EUR ' || total");
        var variant = extract("--table", "sales.orders", "--mode", "append");
        assertThat(variant.exitCode()).as(variant.toString()).isZero();
        assertThat(variant.err()).contains("total went from numeric(12,4) to text, which it cannot hold: its values land in total__v_text");
        assertThat(warehouse.rows("SELECT total__v_text FROM bronze.orders WHERE total IS NULL ORDER BY id"))
            .isEqualTo(source.rows("SELECT total FROM sales.orders ORDER BY id"));
        assertThat(warehouse.value("SELECT count(*) FROM bronze.orders WHERE total IS NOT NULL AND total__v_text IS NULL")).isEqualTo("3000");
        assertThat(warehouse.rows("SELECT column_name, change, old_type, new_type, lands_in FROM bronze.schema_changes "
            + "WHERE stream = 'bronze.orders' ORDER BY change_id")).containsExactly(
            Arrays.asList("channel", "added", null, "text", "channel"),
            List.of("total", "widened", "numeric(10,2)", "numeric(12,4)", "total"),
            List.of("total", "variant", "numeric(12,4)", "text", "total__v_text"));
    }

    @Test
    void replaceKeepsDroppedColumnsInTheirPlaceRebuildsARetypedOneAndFreezeLoadsOnlyTheKnownColumns() {
        assertThat(extract("--table", "sales.orders").exitCode()).isZero();
        source.execute("ALTER TABLE sales.orders DROP COLUMN status, ALTER COLUMN total TYPE text USING total::text || ' EUR'",
            "ALTER TABLE sales.orders ADD COLUMN channel text DEFAULT 'web'");

        var frozen = extract("--table", "sales.orders", "--on-schema-change", "freeze");
        Datakits.assertFailsWithOneLine(frozen, 3, "The columns of sales.orders changed: total went from numeric(10,2) to text; "
            + "--on-schema-change freeze stops the stream before anything is written.");

        var replaced = extract("--table", "sales.orders", "--json");

        assertThat(replaced.exitCode()).as(replaced.toString()).isZero();
        assertThat(replaced.out()).contains("\"schema_changes\":[", "\"column\":\"status\",\"change\":\"dropped\"",
            "\"column\":\"total\",\"change\":\"retyped\"", "\"column\":\"channel\",\"change\":\"added\"");
        assertThat(warehouse.value("SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attnum) "
                + "FROM pg_attribute WHERE attrelid = 'bronze.orders'::regclass AND attnum > 0 AND attname NOT LIKE '\\_bronze%'"))
            .as("the old order, dropped columns kept, new ones after").isEqualTo("id bigint, status text, total text, note text, channel text");
        assertThat(warehouse.value("SELECT count(*) FROM bronze.orders WHERE status IS NULL")).isEqualTo("1000");
        assertThat(warehouse.rows("SELECT id::text, total, note, channel FROM bronze.orders ORDER BY id"))
            .isEqualTo(source.rows("SELECT id::text, total, note, channel FROM sales.orders ORDER BY id"));

        source.execute("ALTER TABLE sales.orders ADD COLUMN region text DEFAULT 'eu'");
        var ignoring = extract("--table", "sales.orders", "--on-schema-change", "freeze");
        assertThat(ignoring.exitCode()).as(ignoring.toString()).isZero();
        assertThat(ignoring.err()).contains("WARNING: bronze.orders: region is new (text) and not loaded (--on-schema-change freeze)");
        assertThat(warehouse.value("SELECT count(*) FROM pg_attribute WHERE attrelid = 'bronze.orders'::regclass AND attname = 'region' "
            + "AND NOT attisdropped")).isEqualTo("0");
        assertThat(warehouse.count("bronze.orders")).isEqualTo(1000);
        assertThat(warehouse.rows("SELECT column_name, change FROM bronze.schema_changes ORDER BY change_id")).containsExactly(
            List.of("total", "retyped"), List.of("channel", "added"), List.of("status", "dropped"), List.of("region", "ignored"));
    }

    @Test
    void queryWhereAndColumnsShapeWhatLands() {
        var columns = extract("--table", "sales.orders", "--columns", "total,ID", "--where", "status = 'paid' AND id < 100");
        assertThat(columns.exitCode()).as(columns.toString()).isZero();
        assertThat(warehouse.rows("""
                SELECT string_agg(attname, ',' ORDER BY attnum) FROM pg_attribute
                WHERE attrelid = 'bronze.orders'::regclass AND attnum > 0 AND attname NOT LIKE '\\_bronze%'""").get(0))
            .containsExactly("total,id");
        assertThat(warehouse.count("bronze.orders")).isEqualTo(33);

        var query = extract("--query", "SELECT status, count(*) AS orders, sum(total) AS revenue FROM sales.orders GROUP BY status",
            "--target-table", "order_stats", "--where", "orders > 100");
        assertThat(query.exitCode()).as(query.toString()).isZero();
        assertThat(warehouse.rows("SELECT status, orders, revenue, _bronze_table FROM bronze.order_stats ORDER BY status"))
            .isEqualTo(source.rows("""
                SELECT status, count(*), sum(total), NULL FROM sales.orders GROUP BY status HAVING count(*) > 100 ORDER BY status"""))
            .hasSize(2);
    }

    @Test
    void dryRunPrintsThePlanAndWritesNothingAnywhere() {
        var dry = extract("--table", "sales.orders", "--dry-run");

        assertThat(dry.exitCode()).as(dry.toString()).isZero();
        assertThat(dry.out()).contains("nothing was written", "COPY \"sales\".\"orders\" (\"id\", \"status\", \"total\", \"note\") TO STDOUT",
            "~1,000 rows", "bronze.orders", "would be created", "CREATE TABLE \"bronze\".\"orders\"", "V1 create bookkeeping tables");
        assertThat(warehouse.value("SELECT count(*) FROM pg_namespace WHERE nspname = 'bronze'")).isEqualTo("0");
        assertThat(warehouse.value("SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace")).isEqualTo("0");

        var json = extract("--table", "sales.orders", "--dry-run", "--json");
        assertThat(json.out()).startsWith("{\"status\":\"dry-run\"").contains("\"estimated_rows\":1000", "\"target_exists\":false");
    }

    @Test
    void jsonPrintsOneObjectWithTheSummary() {
        var run = extract("--table", "sales.orders", "--json");

        assertThat(run.exitCode()).isZero();
        assertThat(run.out().strip()).startsWith("{").endsWith("}").doesNotContain("\n")
            .contains("\"status\":\"succeeded\"", "\"rows\":1000", "\"target\":\"bronze.orders\"", "\"peak_heap_bytes\":");
    }

    @Test
    void aSecondRunOfTheSameStreamWaitsForNoOneAndFailsClearly() throws Exception {
        assertThat(extract("--table", "sales.orders").exitCode()).isZero();
        try (var holder = warehouse.connect(); var st = holder.createStatement()) {
            st.execute("SELECT pg_advisory_lock(hashtextextended('datakit stream bronze.orders', 0))");
            var blocked = extract("--table", "sales.orders");
            assertThat(blocked.exitCode()).isEqualTo(3);
            assertThat(blocked.err()).contains("Another run of bronze.orders is in progress");
        }
        assertThat(warehouse.rows("SELECT status FROM bronze.extraction_runs ORDER BY started_at"))
            .containsExactly(List.of("succeeded"), List.of("failed"));
    }

    @Test
    void aUsersOwnTableIsNeverReplacedNorATableWithDependentViews() {
        warehouse.execute("CREATE SCHEMA bronze", "CREATE TABLE bronze.orders (id int)", "INSERT INTO bronze.orders VALUES (1)");
        var mine = extract("--table", "sales.orders");
        assertThat(mine.exitCode()).isEqualTo(3);
        assertThat(mine.err()).contains("bronze.orders exists in the warehouse but is not a bronze table");
        assertThat(warehouse.count("bronze.orders")).isEqualTo(1);

        warehouse.execute("DROP TABLE bronze.orders");
        assertThat(extract("--table", "sales.orders").exitCode()).isZero();
        warehouse.execute("CREATE VIEW public.paid_orders AS SELECT * FROM bronze.orders WHERE status = 'paid'");
        var withView = extract("--table", "sales.orders");
        assertThat(withView.exitCode()).isEqualTo(3);
        assertThat(withView.err()).contains("Cannot replace bronze.orders: public.paid_orders depends on it");
        assertThat(warehouse.count("public.paid_orders")).isEqualTo(333);
    }

    @Test
    void inheritanceChildrenAndGeneratedColumnsAreReadLikeASelectReadsThem() {
        source.execute("CREATE TABLE public.parent (id int, price numeric, taxed numeric GENERATED ALWAYS AS (price * 1.2) STORED)",
            "CREATE TABLE public.child () INHERITS (public.parent)",
            "INSERT INTO public.parent (id, price) VALUES (1, 10)", "INSERT INTO public.child (id, price) VALUES (2, 20), (3, 30)");

        var run = extract("--table", "parent");

        assertThat(run.exitCode()).as(run.toString()).isZero();
        assertThat(warehouse.rows("SELECT id, taxed FROM bronze.parent ORDER BY id"))
            .isEqualTo(source.rows("SELECT id, taxed FROM public.parent ORDER BY id")).hasSize(3);
    }

    @Test
    void aBronzeTableBelongsToOneSourceTableAndReplaceNeverDropsAnAppendHistory() {
        source.execute("CREATE SCHEMA crm", "CREATE TABLE crm.orders (id int, customer text)", "INSERT INTO crm.orders VALUES (1, 'a')");
        assertThat(extract("--table", "sales.orders", "--mode", "append").exitCode()).isZero();

        var other = extract("--table", "crm.orders", "--mode", "append");
        assertThat(other.exitCode()).isEqualTo(3);
        assertThat(other.err()).contains("bronze.orders holds the rows of sales.orders, and this run reads crm.orders",
            "Give this stream its own --target-table");

        var replace = extract("--table", "sales.orders");
        assertThat(replace.exitCode()).isEqualTo(3);
        assertThat(replace.err()).contains("bronze.orders holds the history of append runs, which --mode replace would drop");
        assertThat(warehouse.count("bronze.orders")).isEqualTo(1000);
        assertThat(extract("--table", "crm.orders", "--target-table", "crm_orders").exitCode()).isZero();
    }

    @Test
    void replaceWaitsForAReaderThatHoldsTheTableThenSwaps() throws Exception {
        assertThat(extract("--table", "sales.orders").exitCode()).isZero();
        source.execute("DELETE FROM sales.orders WHERE id > 500");
        try (var reader = warehouse.connect(); var st = reader.createStatement()) {
            reader.setAutoCommit(false);
            st.execute("SELECT count(*) FROM bronze.orders");
            var release = new Thread(() -> {
                try {
                    Thread.sleep(2500);
                    reader.commit();
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            release.start();
            long started = System.nanoTime();
            var run = extract("--table", "sales.orders");
            release.join();

            assertThat(run.exitCode()).as(run.toString()).isZero();
            assertThat((System.nanoTime() - started) / 1_000_000).as("waited for the reader").isGreaterThan(2000);
        }
        assertThat(warehouse.count("bronze.orders")).isEqualTo(500);
    }

    @Test
    void queriesMayUseOperatorsWithQuestionMarks() {
        source.execute("CREATE TABLE public.docs (id int, body jsonb)", "INSERT INTO public.docs VALUES (1, '{\"a\": 1}'), (2, '{}')");

        var run = extract("--query", "SELECT id, body ? 'a' AS has_a, body ?| array['a', 'b'] AS any_of FROM public.docs",
            "--target-table", "docs_flags", "--where", "has_a");

        assertThat(run.exitCode()).as(run.toString()).isZero();
        assertThat(warehouse.rows("SELECT id, has_a, any_of FROM bronze.docs_flags")).containsExactly(List.of("1", "t", "t"));
        var table = extract("--table", "docs", "--where", "body ? 'a' AND body ?& array['a']");
        assertThat(table.exitCode()).as(table.toString()).isZero();
        assertThat(warehouse.count("bronze.docs")).isEqualTo(1);
    }

    @Test
    void aQueryOverItsOwnBronzeTableCanReplaceIt() {
        var sameDatabase = Map.of("SOURCE_DATABASE_URL", warehouse.url(), "WAREHOUSE_DATABASE_URL", warehouse.url());
        assertThat(extract("--table", "sales.orders").exitCode()).isZero();

        var run = Datakits.run("PostgresExtract", sameDatabase, "--query",
            "SELECT id, status FROM bronze.orders WHERE status = 'paid'", "--target-table", "paid");
        var again = Datakits.run("PostgresExtract", sameDatabase, "--query",
            "SELECT id, status FROM bronze.paid WHERE id < 100", "--target-table", "paid");

        assertThat(run.exitCode()).as(run.toString()).isZero();
        assertThat(again.exitCode()).as(again.toString()).isZero();
        assertThat(warehouse.count("bronze.paid")).isEqualTo(33);
    }
}
