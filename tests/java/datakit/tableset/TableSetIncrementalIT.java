package datakit.tableset;

import static datakit.tableset.TableSetExtractIT.rowsOf;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import datakit.testing.Datakits;
import datakit.testing.SourceAndWarehouse;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * postgres-incremental over a set of tables: each table followed as postgres-discover's rule says (the named cursor where the
 * table has it, else its update time leading an index; xmin by the key; a full copy for a table without a key), each with its
 * own checkpoint; the next run goes on from them and loads a table created since from scratch; a table that fails costs only
 * itself; the options that name one table's columns are refused.
 */
class TableSetIncrementalIT {
    static SourceAndWarehouse db;
    static final ObjectMapper JSON = new ObjectMapper();
    static final String HOSTILE = "inc.\"Order Lines; \"\"x\"\" Ä\"";

    @BeforeAll
    static void createDatabases() {
        db = SourceAndWarehouse.create("tablesetincr",
            "CREATE SCHEMA inc",
            // An update time leading an index, and a key: followed by updated_at.
            "CREATE TABLE inc.orders (id int PRIMARY KEY, updated_at timestamptz NOT NULL, amount numeric)",
            "CREATE INDEX ON inc.orders (updated_at)",
            "INSERT INTO inc.orders SELECT g, '2026-01-01'::timestamptz + g * interval '1 min', g / 4.0 FROM generate_series(1, 300) g",
            // A key and no time: xmin.
            "CREATE TABLE inc.notes (id int PRIMARY KEY, body text)",
            "INSERT INTO inc.notes SELECT g, 'note ' || g FROM generate_series(1, 50) g",
            // No key: a full copy every run, even though it has an indexed time.
            "CREATE TABLE inc.log (at timestamptz NOT NULL, msg text)",
            "CREATE INDEX ON inc.log (at)",
            "INSERT INTO inc.log SELECT '2026-01-01'::timestamptz + g * interval '1 s', 'e' || g FROM generate_series(1, 40) g",
            "INSERT INTO inc.log SELECT '2026-01-01'::timestamptz, 'same'  FROM generate_series(1, 2)",
            // The column --cursor-field names (no index, so the rule alone would pick xmin).
            "CREATE TABLE inc.versions (id int PRIMARY KEY, rev bigint NOT NULL, v text)",
            "INSERT INTO inc.versions SELECT g, g, 'v' || g FROM generate_series(1, 30) g",
            // Quotes, capitals, a space and a non-ASCII letter, in the table's name and its columns.
            "CREATE TABLE " + HOSTILE + " (\"Line Id\" int PRIMARY KEY, \"Updated At\" timestamp NOT NULL, \"ÄÖü\" text)",
            "CREATE INDEX ON " + HOSTILE + " (\"Updated At\")",
            "INSERT INTO " + HOSTILE + " SELECT g, '2026-01-01'::timestamp + g * interval '1 hour', 'it''s \"' || g "
                + "FROM generate_series(1, 40) g",
            // Partitioned, with a key and no time leading an index: xmin over its partitions.
            "CREATE TABLE inc.parts (id int, day date, v text, PRIMARY KEY (id, day)) PARTITION BY RANGE (day)",
            "CREATE TABLE inc.parts_1 PARTITION OF inc.parts FOR VALUES FROM ('2026-01-01') TO ('2026-02-01')",
            "CREATE TABLE inc.parts_2 PARTITION OF inc.parts FOR VALUES FROM ('2026-02-01') TO ('2026-03-01')",
            "INSERT INTO inc.parts SELECT g, date '2026-01-01' + g % 50, 'p' || g FROM generate_series(1, 100) g",
            "CREATE SCHEMA seen",
            // A time that is neither an update nor an insert time, and nullable: followed, with both said.
            "CREATE TABLE seen.sessions (id int PRIMARY KEY, seen_at timestamptz)",
            "CREATE INDEX ON seen.sessions (seen_at)",
            "INSERT INTO seen.sessions SELECT g, CASE WHEN g > 2 THEN '2026-01-01'::timestamptz + g * interval '1 s' END "
                + "FROM generate_series(1, 20) g",
            "CREATE SCHEMA fail",
            "CREATE TABLE fail.keyed (id int PRIMARY KEY, updated_at timestamptz NOT NULL)",
            "CREATE INDEX ON fail.keyed (updated_at)",
            "INSERT INTO fail.keyed SELECT g, '2026-01-01'::timestamptz + g * interval '1 min' FROM generate_series(1, 10) g",
            "CREATE TABLE fail.nokey (a int, b text)",
            "INSERT INTO fail.nokey VALUES (1, 'a'), (1, 'a'), (2, NULL)",
            "ANALYZE");
    }

    static Datakits.Run incremental(String... args) {
        return Datakits.run("PostgresIncremental", db.env(), args);
    }

    /** Each table's entry of the set's --json summary, by source table. */
    static Map<String, JsonNode> tables(Datakits.Run run) throws Exception {
        var tables = new LinkedHashMap<String, JsonNode>();
        JSON.readTree(run.out()).path("tables").forEach(t -> tables.put(t.path("table").asText(), t));
        return tables;
    }

    static void assertLanded(String sourceTable, String bronzeTable) {
        assertThat(rowsOf(db.warehouse(), bronzeTable)).as(sourceTable + " -> " + bronzeTable)
            .isEqualTo(rowsOf(db.source(), sourceTable)).doesNotStartWith("0:");
    }

    /** {@code bronzeTable}'s rows without those {@code where} leaves out, against the source's. */
    static void assertLandedWithout(String sourceTable, String bronzeTable, String where) {
        assertThat(rowsOf(db.warehouse(), "(SELECT * FROM " + bronzeTable + " WHERE NOT (" + where + "))"))
            .as(sourceTable + " -> " + bronzeTable + " without " + where).isEqualTo(rowsOf(db.source(), sourceTable));
    }

    static void assertFollows(Map<String, JsonNode> tables, String table, String key, String value) {
        assertThat(tables).as(tables.keySet().toString()).containsKey(table);
        assertThat(tables.get(table).path("status").asText()).as(tables.get(table).toString()).isEqualTo("succeeded");
        assertThat(tables.get(table).path(key).asText()).as(tables.get(table).toString()).isEqualTo(value);
    }

    @Test
    void eachTableFollowsTheRuleWithItsOwnCheckpointAndTheNextRunGoesOnFromThem() throws Exception {
        var first = incremental("--schema", "inc", "--cursor-field", "rev", "--parallelism", "3", "--target-schema", "inc_b", "--json");
        assertThat(first.exitCode()).as(first.toString()).isZero();
        assertThat(first.out().lines().count()).isEqualTo(1);
        var chosen = tables(first);
        assertThat(chosen).hasSize(6);
        assertFollows(chosen, "inc.orders", "cursor", "updated_at");
        assertFollows(chosen, "inc.notes", "sync_mode", "xmin");
        assertFollows(chosen, "inc.log", "load", "full extract: no primary key");
        assertFollows(chosen, "inc.versions", "cursor", "rev");
        assertFollows(chosen, HOSTILE, "cursor", "Updated At");
        assertFollows(chosen, "inc.parts", "sync_mode", "xmin");
        assertThat(chosen.get("inc.log").path("write_mode").asText()).isEqualTo("replace");
        assertThat(chosen.get("inc.orders").path("write_mode").asText()).isEqualTo("merge");
        for (String table : new String[] {"orders", "notes", "log", "versions", "parts"}) {
            assertLanded("inc." + table, "inc_b." + table);
        }
        assertLanded(HOSTILE, HOSTILE.replace("inc.", "inc_b."));
        // One checkpoint per incremental table, none for the full copy.
        assertThat(db.warehouse().value("SELECT string_agg(DISTINCT stream, ',' ORDER BY stream) FROM inc_b.extraction_checkpoints"))
            .isEqualTo("inc_b.\"Order Lines; \"\"x\"\" Ä\",inc_b.notes,inc_b.orders,inc_b.parts,inc_b.versions");

        db.source().execute(
            "UPDATE inc.orders SET amount = -1, updated_at = '2027-01-01' WHERE id = 7",
            "INSERT INTO inc.orders VALUES (301, '2027-01-02', 301)",
            "DELETE FROM inc.orders WHERE id = 3",
            "UPDATE inc.notes SET body = 'changed' WHERE id = 5",
            "INSERT INTO inc.notes VALUES (51, 'new')",
            "DELETE FROM inc.notes WHERE id = 9",
            "INSERT INTO inc.log VALUES ('2027-01-01', 'late')",
            "DELETE FROM inc.log WHERE msg = 'e1'",
            "UPDATE inc.versions SET v = 'changed', rev = 100 WHERE id = 2",
            "INSERT INTO inc.versions VALUES (31, 101, 'new')",
            "UPDATE " + HOSTILE + " SET \"ÄÖü\" = 'changed', \"Updated At\" = '2027-01-01' WHERE \"Line Id\" = 4",
            "INSERT INTO " + HOSTILE + " VALUES (41, '2027-01-02', 'new')",
            "UPDATE inc.parts SET v = 'changed' WHERE id = 10",
            "INSERT INTO inc.parts VALUES (101, '2026-02-20', 'new')",
            "DELETE FROM inc.parts WHERE id = 20",
            "CREATE TABLE inc.fresh (id int PRIMARY KEY, updated_at timestamptz NOT NULL)",
            "CREATE INDEX ON inc.fresh (updated_at)",
            "INSERT INTO inc.fresh SELECT g, '2026-06-01'::timestamptz + g * interval '1 s' FROM generate_series(1, 5) g");
        try {
            var second = incremental("--schema", "inc", "--cursor-field", "rev", "--target-schema", "inc_b", "--json");
            assertThat(second.exitCode()).as(second.toString()).isZero();
            var again = tables(second);
            assertThat(again).hasSize(7);
            assertFollows(again, "inc.fresh", "cursor", "updated_at");
            assertFollows(again, "inc.notes", "sync_mode", "xmin");
            // Each goes on from its checkpoint: only what changed is read (the full copy reads all).
            assertThat(again.get("inc.orders").path("rows").asLong()).isEqualTo(2);
            assertThat(again.get("inc.versions").path("rows").asLong()).isEqualTo(2);
            assertThat(again.get(HOSTILE).path("rows").asLong()).isEqualTo(2);
            assertThat(again.get("inc.fresh").path("rows").asLong()).isEqualTo(5);
            assertThat(again.get("inc.log").path("rows").asLong()).isEqualTo(42);
            // Merge by key sees updates and inserts; deletes stay in bronze until --detect-deletes.
            assertLandedWithout("inc.orders", "inc_b.orders", "id = 3");
            assertLandedWithout("inc.notes", "inc_b.notes", "id = 9");
            assertLandedWithout("inc.parts", "inc_b.parts", "id = 20");
            assertLanded("inc.versions", "inc_b.versions");
            assertLanded(HOSTILE, HOSTILE.replace("inc.", "inc_b."));
            assertLanded("inc.log", "inc_b.log");
            assertLanded("inc.fresh", "inc_b.fresh");

            var third = incremental("--schema", "inc", "--cursor-field", "rev", "--target-schema", "inc_b", "--detect-deletes");
            assertThat(third.exitCode()).as(third.toString()).isZero();
            // The human summary says how each table is followed.
            assertThat(third.out()).contains("postgres-incremental: succeeded", "tables     7: 7 loaded, 0 failed")
                .containsPattern("inc\\.log +-> inc_b\\.log +full extract: no primary key, 42 rows")
                .containsPattern("inc\\.notes +-> inc_b\\.notes +sync mode xmin, ")
                .containsPattern("inc\\.orders +-> inc_b\\.orders +cursor updated_at, ");
            for (String table : new String[] {"orders", "notes", "parts"}) {
                assertLandedWithout("inc." + table, "inc_b." + table, "_bronze_deleted_at IS NOT NULL");
            }
            assertThat(db.warehouse().value("SELECT string_agg(id::text, ',') FROM inc_b.orders WHERE _bronze_deleted_at IS NOT NULL"))
                .isEqualTo("3");
        } finally {
            db.source().execute("DROP TABLE inc.fresh");
        }
    }

    @Test
    void aCursorTheRuleChoseWithoutReviewIsNotedInTheSummary() throws Exception {
        var json = incremental("--schema", "seen", "--target-schema", "seen_b", "--json");
        assertThat(json.exitCode()).as(json.toString()).isZero();
        assertFollows(tables(json), "seen.sessions", "cursor", "seen_at");
        assertThat(tables(json).get("seen.sessions").path("notes").toString())
            .contains("seen_at allows NULL", "seen_at is followed as the time rows last changed: every update must set it");
        var people = incremental("--schema", "seen", "--target-schema", "seen_b");
        assertThat(people.exitCode()).as(people.toString()).isZero();
        assertThat(people.out()).contains("  note       seen.sessions: seen_at allows NULL");
        assertLanded("seen.sessions", "seen_b.sessions");
    }

    @Test
    void syncModeXminAppliesToEveryTableWithAKeyAndTheDryRunSaysHowEachWouldLoad() throws Exception {
        var dry = incremental("--table", "inc.orders", "--table", "inc.log", "--sync-mode", "xmin", "--target-schema", "inc_x",
            "--dry-run");
        assertThat(dry.exitCode()).as(dry.toString()).isZero();
        assertThat(dry.out()).contains("postgres-incremental: dry run", "tables     2: 2 planned, 0 failed")
            .containsPattern("inc\\.orders +-> inc_x\\.orders +sync mode xmin");
        assertThat(db.warehouse().value("SELECT count(*) FROM pg_namespace WHERE nspname = 'inc_x'")).isEqualTo("0");

        var run = incremental("--table", "inc.orders", "--table", "inc.log", "--sync-mode", "xmin", "--target-schema", "inc_x", "--json");
        assertThat(run.exitCode()).as(run.toString()).isZero();
        var tables = tables(run);
        assertFollows(tables, "inc.orders", "sync_mode", "xmin");
        assertFollows(tables, "inc.log", "load", "full extract: no primary key");
        assertLanded("inc.orders", "inc_x.orders");
        assertLanded("inc.log", "inc_x.log");
    }

    @Test
    void aFailedTableCostsOnlyItselfAndEveryRunLoadsEveryTable() throws Exception {
        var first = incremental("--schema", "fail", "--target-schema", "fail_b");
        assertThat(first.exitCode()).as(first.toString()).isZero();
        // A view on the full copy's bronze table makes its replacement refused: that table fails, the other goes on.
        db.warehouse().execute("CREATE VIEW public.on_nokey AS SELECT * FROM fail_b.nokey");
        db.source().execute("INSERT INTO fail.keyed VALUES (11, '2027-01-01')", "INSERT INTO fail.nokey VALUES (3, 'c')");
        try {
            var second = incremental("--schema", "fail", "--target-schema", "fail_b", "--json");
            assertThat(second.exitCode()).as(second.toString()).isEqualTo(1);
            assertThat(second.out()).startsWith("{\"status\":\"failed\"").contains("\"failed\":[\"fail.nokey\"]", "public.on_nokey");
            assertThat(tables(second).get("fail.nokey").path("load").asText()).isEqualTo("full extract: no primary key");
            assertThat(second.err()).contains("WARNING: fail.nokey failed: ");
            assertLanded("fail.keyed", "fail_b.keyed");
            assertThat(db.warehouse().value("SELECT count(*) FROM fail_b.nokey")).isEqualTo("3");
        } finally {
            db.warehouse().execute("DROP VIEW public.on_nokey");
        }
        db.source().execute("INSERT INTO fail.keyed VALUES (12, '2027-01-02')");
        // Each table goes on from its own checkpoint, so the next run loads them all (nothing is kept from the failed run).
        var third = incremental("--schema", "fail", "--target-schema", "fail_b", "--cursor-field", "nosuch");
        assertThat(third.exitCode()).as(third.toString()).isZero();
        assertThat(third.out()).contains("tables     2: 2 loaded, 0 failed").doesNotContain("kept");
        assertThat(third.err()).contains("WARNING: --cursor-field nosuch is a column of none of the 2 tables: each follows its own "
            + "update time, or xmin");
        assertLanded("fail.keyed", "fail_b.keyed");
        assertLanded("fail.nokey", "fail_b.nokey");
    }

    @Test
    void optionsThatNameOneTablesColumnsAreRefusedWithASet() {
        Datakits.assertFailsWithOneLine(incremental("--schema", "inc", "--primary-key", "id"), 2,
            "--primary-key names columns of one table, and --schema 'inc' selects a set of tables.");
        Datakits.assertFailsWithOneLine(incremental("--table", "inc.*", "--cursor-field", "updated_at", "--initial-value", "2026-01-01"), 2,
            "--initial-value names a value of one table's cursor, and --table 'inc.*' selects a set of tables.");
        Datakits.assertFailsWithOneLine(incremental("--schema", "inc", "--columns", "id"), 2,
            "--columns applies to one table, and --schema 'inc' selects a set of tables.");
        Datakits.assertFailsWithOneLine(incremental("--schema", "inc", "--target-table", "x"), 2,
            "--target-table names one bronze table, and a set of tables lands each table under its own name");
        Datakits.assertFailsWithOneLine(incremental("--schema", "inc", "--mode", "replace", "--target-schema", "inc_refused"), 2,
            "postgres-incremental writes --mode merge (one row per key, the default) or append");
        assertThat(db.warehouse().value("SELECT count(*) FROM pg_namespace WHERE nspname = 'inc_refused'")).isEqualTo("0");
    }
}
