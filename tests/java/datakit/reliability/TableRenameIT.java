package datakit.reliability;

import static datakit.testing.Datakits.assertFailsWithOneLine;
import static org.assertj.core.api.Assertions.assertThat;

import datakit.testing.Datakits;
import datakit.testing.SourceAndWarehouse;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A source table renamed (issue 16): each batch mode moves its stream to the new name with {@code --renamed-from}, keeping
 * the bronze table, its rows and its checkpoint; the run records the rename in schema_changes and says it; later runs need
 * no flag. Wrong uses stop with one line. One source and warehouse per test, tables of a few rows.
 */
class TableRenameIT {
    private static final String ORDERS = """
        CREATE SCHEMA sales;
        CREATE TABLE sales.orders (id int PRIMARY KEY, status text, tags text[], updated_at timestamptz NOT NULL);
        INSERT INTO sales.orders SELECT g, 'new', ARRAY['t' || g], timestamptz '2026-01-01' + g * interval '1 minute'
        FROM generate_series(1, 3) g;
        """;
    private static final String RENAME = "ALTER TABLE sales.orders RENAME TO purchases";
    private static final String SAID = "WARNING: sales.orders was renamed sales.purchases at the source: bronze.orders keeps its stream "
        + "and reads sales.purchases from now on (recorded in bronze.schema_changes). Later runs need no --renamed-from: "
        + "--table sales.purchases --target-table orders.";
    private static final String NO_LONGER_NEEDED = "WARNING: --renamed-from sales.orders is no longer needed: bronze.orders reads "
        + "sales.purchases since an earlier run. Run with --table sales.purchases --target-table orders.";

    static Datakits.Run ok(Datakits.Run run) {
        assertThat(run.exitCode()).as(run.toString()).isZero();
        return run;
    }

    /** sales.orders loaded by a first run of {@code datakit}, then renamed sales.purchases and given a row ({@code insert}). */
    static SourceAndWarehouse loadedThenRenamed(String prefix, String datakit, String insert, String... args) {
        var db = SourceAndWarehouse.create(prefix, ORDERS);
        ok(run(datakit, db, "sales.orders", args));
        db.source().execute(RENAME, "INSERT INTO sales.purchases VALUES " + insert);
        return db;
    }

    /** A run of {@code datakit} reading {@code table}, with more arguments. */
    static Datakits.Run run(String datakit, SourceAndWarehouse db, String table, String... args) {
        var all = new ArrayList<>(List.of("--table", table));
        all.addAll(List.of(args));
        return Datakits.run(datakit, db.env(), all.toArray(String[]::new));
    }

    /** The run that follows the rename. */
    static Datakits.Run renamed(String datakit, SourceAndWarehouse db, String... args) {
        var all = new ArrayList<>(List.of("--renamed-from", "sales.orders"));
        all.addAll(List.of(args));
        return run(datakit, db, "sales.purchases", all.toArray(String[]::new));
    }

    static List<String> warnings(Datakits.Run run) {
        return run.err().lines().filter(l -> l.startsWith("WARNING: ")).toList();
    }

    /** The rename as schema_changes holds it: column, change, old and new name, the source read. */
    static void assertRecordedOnce(SourceAndWarehouse db) {
        assertThat(db.warehouse().rows("SELECT stream, source_object, column_name, change, old_type, new_type FROM bronze.schema_changes "
            + "WHERE change = 'renamed'")).containsExactly(
            List.of("bronze.orders", "sales.purchases", "", "renamed", "sales.orders", "sales.purchases"));
    }

    @Test
    void anAppendedHistoryStaysAndGoesOnUnderTheNewNameAndLaterRunsNeedNoFlag() {
        var db = loadedThenRenamed("rename_full", "PostgresExtract", "(4, 'new', '{t4}', now())", "--mode", "append");

        var dryRun = ok(renamed("PostgresExtract", db, "--mode", "append", "--dry-run"));
        assertThat(warnings(dryRun)).as(dryRun.toString()).containsExactly("WARNING: sales.orders was renamed sales.purchases at the "
            + "source: the run would keep the stream bronze.orders and read sales.purchases from now on.");
        var renamed = ok(renamed("PostgresExtract", db, "--mode", "append", "--json"));

        assertThat(warnings(renamed)).as(renamed.toString()).containsExactly(SAID);
        assertThat(renamed.out()).contains("\"read\":\"sales.purchases\"", "\"target\":\"bronze.orders\"",
            "\"renamed_from\":\"sales.orders\"");
        assertThat(db.warehouse().rows("SELECT _bronze_table, count(*) FROM bronze.orders GROUP BY 1 ORDER BY 1"))
            .as("the history appended before the rename is kept").containsExactly(List.of("orders", "3"), List.of("purchases", "4"));
        assertThat(db.warehouse().rows("SELECT id, status FROM bronze.orders WHERE _bronze_table = 'purchases' ORDER BY id"))
            .isEqualTo(db.source().rows("SELECT id, status FROM sales.purchases ORDER BY id"));
        assertThat(db.warehouse().value("SELECT to_regclass('bronze.purchases') IS NULL")).isEqualTo("t");
        assertThat(db.warehouse().value("SELECT details ->> 'renamed_from' FROM bronze.extraction_runs WHERE status = 'succeeded' "
            + "ORDER BY started_at DESC LIMIT 1")).isEqualTo("sales.orders");
        assertRecordedOnce(db);

        var next = ok(Datakits.run("PostgresExtract", db.env(), "--table", "sales.purchases", "--target-table", "orders",
            "--mode", "append"));
        assertThat(warnings(next)).as(next.toString()).isEmpty();
        var stillFlagged = ok(renamed("PostgresExtract", db, "--mode", "append", "--json"));
        assertThat(warnings(stillFlagged)).containsExactly(NO_LONGER_NEEDED);
        assertThat(stillFlagged.out()).doesNotContain("renamed_from");
        assertThat(db.warehouse().value("SELECT count(*) FROM bronze.orders")).isEqualTo("15");
        assertRecordedOnce(db);

        var anotherStream = ok(Datakits.run("PostgresExtract", db.env(), "--table", "sales.purchases"));
        assertThat(warnings(anotherStream)).as("a run without --target-table starts a stream of its own, and says which one "
            + "it probably meant").containsExactly("WARNING: sales.purchases was renamed from sales.orders, and bronze.orders reads it "
            + "since: this run starts another stream, bronze.purchases. To go on loading bronze.orders, pass --target-table orders.");
    }

    @Test
    void anIncrementalStreamReadsOnFromItsCheckpointAfterARename() {
        var db = loadedThenRenamed("rename_inc", "PostgresIncremental", "(4, 'new', '{t4}', timestamptz '2026-02-01')",
            "--cursor-field", "updated_at");
        String checkpoint = db.warehouse().value("SELECT cursor_value ->> 'value' FROM bronze.extraction_checkpoints");
        db.source().execute("UPDATE sales.purchases SET status = 'paid', updated_at = updated_at + interval '1 day' WHERE id = 2");
        String[] follow = {"--cursor-field", "updated_at", "--json"};

        var renamed = ok(renamed("PostgresIncremental", db, follow));

        assertThat(renamed.out()).as("only the rows past the checkpoint (%s) are read", checkpoint)
            .contains("\"rows\":2", "\"renamed_from\":\"sales.orders\"");
        assertThat(warnings(renamed)).as(renamed.toString()).containsExactly(SAID);
        String rows = "SELECT id, status, tags::text, updated_at::text FROM %s ORDER BY id";
        assertThat(db.warehouse().rows(rows.formatted("bronze.orders"))).isEqualTo(db.source().rows(rows.formatted("sales.purchases")))
            .hasSize(4);
        assertRecordedOnce(db);

        db.source().execute("UPDATE sales.purchases SET status = 'sent', updated_at = timestamptz '2026-03-01' WHERE id = 1");
        var next = ok(run("PostgresIncremental", db, "sales.purchases", "--target-table", "orders", follow[0], follow[1], follow[2]));
        assertThat(next.out()).contains("\"rows\":1").doesNotContain("renamed_from");
        assertThat(db.warehouse().rows(rows.formatted("bronze.orders"))).isEqualTo(db.source().rows(rows.formatted("sales.purchases")));
    }

    @Test
    void aJsonbLoadWithChildTablesFollowsARename() {
        var db = loadedThenRenamed("rename_jsonb", "PostgresJsonb", "(4, 'new', '{t4,u4}', now())", "--explode", "tags");

        var renamed = ok(renamed("PostgresJsonb", db, "--explode", "tags"));

        assertThat(warnings(renamed)).as(renamed.toString()).containsExactly(SAID);
        assertThat(db.warehouse().rows("SELECT id, status FROM bronze.orders ORDER BY id"))
            .isEqualTo(db.source().rows("SELECT id, status FROM sales.purchases ORDER BY id"));
        assertThat(db.warehouse().rows("SELECT id, value FROM bronze.orders__tags ORDER BY id, ordinal"))
            .isEqualTo(db.source().rows("SELECT id, v FROM sales.purchases, unnest(tags) WITH ORDINALITY AS e(v, n) ORDER BY id, n"));
        assertRecordedOnce(db);
        ok(Datakits.run("PostgresJsonb", db.env(), "--table", "sales.purchases", "--target-table", "orders", "--explode", "tags"));
    }

    @Test
    void aPartitionedLoadKeepsItsUnchangedPartsAcrossARename() {
        var db = SourceAndWarehouse.create("rename_part", """
            CREATE SCHEMA sales;
            CREATE TABLE sales.orders (id int NOT NULL, day date NOT NULL, status text) PARTITION BY RANGE (day);
            CREATE TABLE sales.orders_01 PARTITION OF sales.orders FOR VALUES FROM ('2026-01-01') TO ('2026-02-01');
            CREATE TABLE sales.orders_02 PARTITION OF sales.orders FOR VALUES FROM ('2026-02-01') TO ('2026-03-01');
            INSERT INTO sales.orders SELECT g, date '2026-01-10' + (g % 2) * 31, 'new' FROM generate_series(1, 4) g;
            """);
        ok(Datakits.run("PostgresPartitioned", db.env(), "--table", "sales.orders"));
        db.source().execute(RENAME, "INSERT INTO sales.purchases VALUES (5, '2026-02-20', 'new')");

        var dryRun = ok(renamed("PostgresPartitioned", db, "--dry-run", "--json"));
        var renamed = ok(renamed("PostgresPartitioned", db, "--json"));

        assertThat(warnings(renamed)).as(renamed.toString()).containsExactly(SAID);
        assertThat(renamed.out()).contains("\"renamed_from\":\"sales.orders\"", "\"copied\":1", "\"kept\":1");
        assertThat(dryRun.out()).as("the dry run keeps what the run keeps").contains("\"renamed_from\":\"sales.orders\"")
            .containsOnlyOnce("\"action\":\"keep (unchanged since run ");
        String rows = "SELECT id, day::text, status FROM %s ORDER BY id";
        assertThat(db.warehouse().rows(rows.formatted("bronze.orders"))).isEqualTo(db.source().rows(rows.formatted("sales.purchases")))
            .hasSize(5);
        assertRecordedOnce(db);

        var next = ok(Datakits.run("PostgresPartitioned", db.env(), "--table", "sales.purchases", "--target-table", "orders", "--json"));
        assertThat(next.out()).contains("\"kept\":2");
    }

    @Test
    void eachWrongUseStopsWithOneLine() {
        var db = SourceAndWarehouse.create("rename_bad", ORDERS + "CREATE TABLE sales.customers (id int PRIMARY KEY);");
        ok(Datakits.run("PostgresExtract", db.env(), "--table", "sales.orders"));
        ok(Datakits.run("PostgresExtract", db.env(), "--table", "sales.customers"));

        assertFailsWithOneLine(Datakits.run("PostgresExtract", db.env(), "--table", "sales.customers", "--renamed-from", "sales.orders"),
            2, "Table sales.orders (--renamed-from) still exists on the source ", ": sales.customers is not its new name. Drop "
                + "--renamed-from, or give the name sales.customers had before it was renamed.");
        assertFailsWithOneLine(Datakits.run("PostgresExtract", db.env(), "--table", "sales.orders", "--renamed-from", "sales.orders"),
            2, "--renamed-from sales.orders names the table --table reads. Give the name the table had before it was renamed, or drop "
                + "--renamed-from.");
        assertFailsWithOneLine(Datakits.run("PostgresExtract", db.env(), "--query", "SELECT 1 AS one", "--target-table", "one",
            "--renamed-from", "sales.orders"), 2, "--renamed-from follows a --table renamed at the source; a --query has no name to "
            + "follow. Drop --renamed-from.");

        db.source().execute(RENAME);
        assertFailsWithOneLine(Datakits.run("PostgresExtract", db.env(), "--table", "sales.orders"), 2,
            "Table sales.orders does not exist on the source ", "Check --table; if the table was renamed, give its new name there "
                + "and this one in --renamed-from.");
        assertFailsWithOneLine(Datakits.run("PostgresIncremental", db.env(), "--table", "sales.purchases", "--cursor-field",
            "updated_at", "--renamed-from", "sales.gone"), 2, "No run loaded sales.gone into bronze.gone, so --renamed-from sales.gone "
            + "has no stream to keep. Check --renamed-from and --target-table, or drop --renamed-from to start a new stream.");
        assertFailsWithOneLine(Datakits.run("PostgresExtract", db.env(), "--table", "sales.purchases", "--renamed-from", "sales.orders",
            "--target-table", "customers"), 3, "bronze.customers holds the rows of sales.customers, not those of sales.orders "
            + "(--renamed-from). Give --target-table the bronze table sales.orders was loaded into, or drop --renamed-from.");
        assertFailsWithOneLine(Datakits.run("PostgresPartitioned", db.env(), "--table", "sales.purchases", "--chunks", "2",
            "--renamed-from", "sales.orders", "--target-table", "customers", "--dry-run"), 3, "bronze.customers holds the rows of "
            + "sales.customers, not those of sales.orders (--renamed-from).");

        assertThat(db.warehouse().rows("SELECT id, status FROM bronze.orders ORDER BY id")).as("nothing changed in bronze")
            .isEqualTo(db.source().rows("SELECT id, status FROM sales.purchases ORDER BY id"));
        assertThat(db.warehouse().value("SELECT count(*) FROM bronze.schema_changes")).isEqualTo("0");
    }
}
