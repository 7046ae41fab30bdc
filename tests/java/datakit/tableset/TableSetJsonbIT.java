package datakit.tableset;

import static datakit.tableset.TableSetExtractIT.rowsOf;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import datakit.testing.Datakits;
import datakit.testing.SourceAndWarehouse;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * postgres-jsonb over a set of tables: every table's JSON and array values land exactly, by a full copy or, with a sync mode,
 * by postgres-incremental's rule per table; the options that name one table's columns are refused.
 */
class TableSetJsonbIT {
    static SourceAndWarehouse db;

    @BeforeAll
    static void createDatabases() {
        db = SourceAndWarehouse.create("tablesetjsonb",
            "CREATE SCHEMA js",
            "CREATE TABLE js.events (id int PRIMARY KEY, payload jsonb, tags text[])",
            "INSERT INTO js.events SELECT g, jsonb_build_object('n', g, 'deep', jsonb_build_object('a', ARRAY[g, NULL])), "
                + "ARRAY['t' || g, NULL] FROM generate_series(1, 30) g",
            "INSERT INTO js.events VALUES (31, '12345678901234567890.123456789012345678901234567890', '{}'), (32, 'null', NULL)",
            "CREATE TABLE js.\"Raw Docs\" (doc json, note text)",
            "INSERT INTO js.\"Raw Docs\" VALUES (' {\"b\": 1, \"a\": 2, \"a\": 3}  ', 'duplicate keys'), ('[1e400, -0]', 'numbers'), "
                + "(NULL, 'null')");
    }

    static Datakits.Run jsonb(String... args) {
        return Datakits.run("PostgresJsonb", db.env(), args);
    }

    /** The JSON values as text (json keeps its spelling) and the rest, as the rows compare. */
    static void assertExact(String schema) {
        assertThat(db.warehouse().rows("SELECT id, payload::text, tags::text FROM " + schema + ".events ORDER BY id"))
            .isEqualTo(db.source().rows("SELECT id, payload::text, tags::text FROM js.events ORDER BY id")).hasSize(32);
        assertThat(db.warehouse().rows("SELECT doc::text, note FROM " + schema + ".\"Raw Docs\" ORDER BY note"))
            .isEqualTo(db.source().rows("SELECT doc::text, note FROM js.\"Raw Docs\" ORDER BY note")).hasSize(3);
        assertThat(db.warehouse().value("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = '" + schema
            + ".\"Raw Docs\"'::regclass AND attname = 'doc'")).isEqualTo("json");
        assertThat(rowsOf(db.warehouse(), schema + ".events")).isEqualTo(rowsOf(db.source(), "js.events"));
    }

    @Test
    void everyTableLandsExactlyByAFullCopyOrByTheIncrementalRule() throws Exception {
        var full = jsonb("--schema", "js", "--target-schema", "js_full", "--profile");
        assertThat(full.exitCode()).as(full.toString()).isZero();
        assertThat(full.out()).contains("postgres-jsonb: succeeded", "tables     2: 2 loaded, 0 failed");
        assertExact("js_full");
        // --profile profiles each table's JSON columns.
        assertThat(db.warehouse().value("SELECT string_agg(DISTINCT stream || ' ' || column_name, ', ' ORDER BY stream || ' ' || "
            + "column_name) FROM js_full.extraction_json_keys")).isEqualTo("js_full.\"Raw Docs\" doc, js_full.events payload");

        var incremental = jsonb("--schema", "js", "--sync-mode", "xmin", "--target-schema", "js_incr", "--json");
        assertThat(incremental.exitCode()).as(incremental.toString()).isZero();
        var tables = new ObjectMapper().readTree(incremental.out()).path("tables");
        assertThat(tables.get(0).path("table").asText()).isEqualTo("js.\"Raw Docs\"");
        assertThat(tables.get(0).path("load").asText()).isEqualTo("full extract: no primary key");
        assertThat(tables.get(1).path("sync_mode").asText()).isEqualTo("xmin");
        assertExact("js_incr");
    }

    @Test
    void optionsThatNameOneTablesColumnsAreRefusedWithASet() {
        Datakits.assertFailsWithOneLine(jsonb("--schema", "js", "--flatten", "payload"), 2,
            "--flatten names columns of one table, and --schema 'js' selects a set of tables.");
        Datakits.assertFailsWithOneLine(jsonb("--table", "js.*", "--json-columns", "note"), 2,
            "--json-columns names columns of one table, and --table 'js.*' selects a set of tables.");
        // Refused before any table, as for one table.
        Datakits.assertFailsWithOneLine(jsonb("--schema", "js", "--sync-mode", "xmin", "--profile", "--target-schema", "js_refused"), 2,
            "--explode and --profile work on whole tables: run them with a full extract");
        assertThat(db.warehouse().value("SELECT count(*) FROM pg_namespace WHERE nspname = 'js_refused'")).isEqualTo("0");
    }
}
