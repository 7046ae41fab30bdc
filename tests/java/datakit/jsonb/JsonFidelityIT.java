package datakit.jsonb;

import static org.assertj.core.api.Assertions.assertThat;

import datakit.testing.Datakits;
import datakit.testing.TestDatabase;
import datakit.testing.TestPostgres;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * json, jsonb and array columns copied by postgres-jsonb (through the COPY path every datakit shares) land
 * with their own types and exactly the source's values: each case is read back from the warehouse and
 * compared with the same query on the source.
 */
class JsonFidelityIT {
    static TestDatabase source;
    static TestDatabase warehouse;

    @BeforeAll
    static void extractDocumentsAndArrays() {
        source = TestPostgres.createDatabase("json_src");
        warehouse = TestPostgres.createDatabase("json_wh");
        // Java reads \\u as a backslash and a u, so PostgreSQL sees the JSON escape \u00e9, not é.
        source.execute("""
            CREATE SCHEMA lab;
            CREATE TABLE lab.documents (id int PRIMARY KEY, label text NOT NULL, doc jsonb, raw json);
            INSERT INTO lab.documents VALUES
              (1, 'sql null', NULL, NULL),
              (2, 'json null', 'null', 'null'),
              (3, 'empty object', '{}', '{ }'),
              (4, 'empty array', '[]', '[  ]'),
              (5, 'forty levels deep', (repeat('{"k": [', 20) || '"bottom"' || repeat(']}', 20))::jsonb,
                                       (repeat('{ "k" :[ ', 20) || '"bottom"' || repeat(' ] }', 20))::json),
              (6, 'unicode escapes', '{"caf\\u00e9": "\\u00e9t\\u00e9", "emoji": "\\ud83d\\ude00", "raw": "é😀"}',
                                     '{"nul": "\\u0000", "caf\\u00e9": "\\ud83d\\ude00", "raw": "é😀"}'),
              (7, 'numbers beyond double', '[12345678901234567890.123456789012345678901234567890, 1e400, -1E-400, 0.10, -0, 9007199254740993]',
                                           '[12345678901234567890.123456789012345678901234567890, 1e400, -1E-400, 0.10, -0, 9007199254740993]'),
              (8, 'quotes backslashes newlines',
                  '{"q": "say \\"hi\\"", "path": "C:\\\\dir\\\\", "lines": "one\\ntwo\\r\\n\\tthree", "slash": "\\/", "key \\"with\\" \\\\": true}',
                  '{"q": "say \\"hi\\"", "path": "C:\\\\dir\\\\", "lines": "one\\ntwo\\r\\n\\tthree", "slash": "\\/", "key \\"with\\" \\\\": true}'),
              (9, 'duplicate keys whitespace key order', '{"b": 1, "a": 2, "a": 3}', E' {"z":1,"a":1,"a":2,\\n\\t"m" : [ 1 ,2 ] ,"b":{}}  ');

            CREATE TABLE lab.arrays (id int PRIMARY KEY, label text NOT NULL, ints int[], texts text[], docs jsonb[], amounts numeric[]);
            INSERT INTO lab.arrays VALUES
              (1, 'sql null', NULL, NULL, NULL, NULL),
              (2, 'empty', '{}', '{}', '{}', '{}'),
              (3, 'null elements', '{1,NULL,3}', ARRAY[NULL, '', 'NULL', 'say "hi"', 'back\\slash', 'a,b', ' padded ', E'new\\nline', '{}'],
                  ARRAY['{"a": 1}'::jsonb, NULL, 'null', '[]', '"\\u00e9"'],
                  ARRAY[12345678901234567890.123456789012345678901234567890, NULL, 'NaN', 1e-30, -0.0]),
              (4, 'two dimensions', '{{1,2},{3,4}}', '{{a,NULL},{"",b}}', ARRAY[ARRAY['{}'::jsonb, '[]'], ARRAY['null'::jsonb, '{"k": [1, {}]}']],
                  '{{1.5,NULL},{-2.25,0}}'),
              (5, 'lower bounds other than 1', '[0:2]={1,2,3}', '[-5:-4]={x,NULL}', '[3:3]={"{\\"a\\": 1}"}', '[7:8]={1.10,NULL}'),
              (6, 'custom bounds in two and three dimensions', '[-1:0][3:4]={{1,2},{3,4}}', '[2:3][0:0]={{a},{NULL}}',
                  '[0:1][-2:-2]={{"{}"},{NULL}}', '[5:5][1:1][-1:0]={{{1e-30,NULL}}}');
            """);
        var env = Map.of("SOURCE_DATABASE_URL", source.url(), "WAREHOUSE_DATABASE_URL", warehouse.url());
        for (String table : List.of("lab.documents", "lab.arrays")) {
            var run = Datakits.run("PostgresJsonb", env, "--table", table);
            assertThat(run.exitCode()).as(run.toString()).isZero();
        }
    }

    /** Runs a query with a {@code %s} for the table on the source and on bronze, and expects the same rows. */
    static List<List<String>> assertBronzeEqualsSource(String table, String select) {
        var bronze = warehouse.rows(select.formatted("bronze." + table));
        assertThat(bronze).as(select.formatted(table)).isEqualTo(source.rows(select.formatted("lab." + table)));
        return bronze;
    }

    /** Each column's name and type, as format_type shows it, without bronze's metadata columns. */
    static List<List<String>> columnTypes(TestDatabase database, String table) {
        return database.rows("""
            SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
            WHERE attrelid = '%s'::regclass AND attnum > 0 AND NOT attisdropped AND attname !~ '^_bronze_'
            ORDER BY attnum""".formatted(table));
    }

    @Test
    void everyColumnLandsWithTheSourceColumnsType() {
        assertThat(columnTypes(warehouse, "bronze.documents")).isEqualTo(columnTypes(source, "lab.documents"))
            .contains(List.of("doc", "jsonb"), List.of("raw", "json"));
        assertThat(columnTypes(warehouse, "bronze.arrays")).isEqualTo(columnTypes(source, "lab.arrays"))
            .contains(List.of("ints", "integer[]"), List.of("texts", "text[]"), List.of("docs", "jsonb[]"), List.of("amounts", "numeric[]"));
        assertThat(warehouse.rows("""
            SELECT column_name, data_type, udt_name FROM information_schema.columns
            WHERE table_schema = 'bronze' AND table_name = 'documents' AND column_name IN ('doc', 'raw') ORDER BY column_name"""))
            .containsExactly(List.of("doc", "jsonb", "jsonb"), List.of("raw", "json", "json"));
    }

    @Test
    void jsonbValuesKeepTheirStructureNumbersAndStrings() {
        assertBronzeEqualsSource("documents", "SELECT label, doc::text FROM %s ORDER BY id");

        String deepPath = "{" + String.join(",", Collections.nCopies(20, "k,0")) + "}";
        var deepest = assertBronzeEqualsSource("documents", "SELECT doc #>> '" + deepPath + "' FROM %s WHERE id = 5");
        assertThat(deepest).containsExactly(List.of("bottom"));
        var unicode = assertBronzeEqualsSource("documents",
            "SELECT doc ->> 'café', doc ->> 'emoji', doc ->> 'raw', octet_length(doc::text) FROM %s WHERE id = 6");
        assertThat(unicode.get(0)).startsWith("été", "😀", "é😀");
        var numbers = assertBronzeEqualsSource("documents",
            "SELECT doc ->> 0, doc ->> 1, doc ->> 2, doc ->> 3, doc ->> 5, jsonb_typeof(doc -> 1) FROM %s WHERE id = 7");
        assertThat(numbers.get(0)).startsWith("12345678901234567890.123456789012345678901234567890");
        assertThat(numbers.get(0).get(1)).hasSize(401).startsWith("10000");
        var strings = assertBronzeEqualsSource("documents",
            "SELECT doc ->> 'q', doc ->> 'path', doc ->> 'lines', doc ->> 'slash', doc ? 'key \"with\" \\' FROM %s WHERE id = 8");
        assertThat(strings).containsExactly(List.of("say \"hi\"", "C:\\dir\\", "one\ntwo\r\n\tthree", "/", "t"));
    }

    @Test
    void jsonNullAndSqlNullStayDistinctAndEmptyContainersStayEmpty() {
        var typesOf = assertBronzeEqualsSource("documents", """
            SELECT label, doc IS NULL, jsonb_typeof(doc), raw IS NULL, json_typeof(raw) FROM %s WHERE id <= 4 ORDER BY id""");

        assertThat(typesOf).containsExactly(
            Arrays.asList("sql null", "t", null, "t", null),
            List.of("json null", "f", "null", "f", "null"),
            List.of("empty object", "f", "object", "f", "object"),
            List.of("empty array", "f", "array", "f", "array"));
    }

    @Test
    void jsonTextIsKeptByteForByteWithDuplicateKeysWhitespaceAndKeyOrder() {
        var texts = assertBronzeEqualsSource("documents",
            "SELECT label, raw::text, octet_length(raw::text), md5(raw::text) FROM %s ORDER BY id");

        assertThat(texts).filteredOn(row -> row.get(0).equals("duplicate keys whitespace key order"))
            .extracting(row -> row.get(1)).containsExactly(" {\"z\":1,\"a\":1,\"a\":2,\n\t\"m\" : [ 1 ,2 ] ,\"b\":{}}  ");
        assertThat(texts).filteredOn(row -> row.get(0).equals("unicode escapes"))
            .extracting(row -> row.get(1)).containsExactly("{\"nul\": \"\\u0000\", \"caf\\u00e9\": \"\\ud83d\\ude00\", \"raw\": \"é😀\"}");
        assertThat(warehouse.value("SELECT raw ->> 'a' FROM bronze.documents WHERE id = 9")).as("the last duplicate key wins").isEqualTo("2");
    }

    @Test
    void arraysKeepNullElementsDimensionsAndLowerBounds() {
        for (String column : List.of("ints", "texts", "docs", "amounts")) {
            assertBronzeEqualsSource("arrays", """
                SELECT label, c IS NULL, c::text, array_ndims(c), array_dims(c), cardinality(c),
                       array_lower(c, 1), array_upper(c, 1), array_lower(c, 2), array_upper(c, 2), array_lower(c, 3), array_upper(c, 3)
                FROM %s, LATERAL (SELECT COLUMN) AS a(c) ORDER BY id""".replace("COLUMN", column));
        }

        assertThat(warehouse.rows("SELECT ints::text, texts::text FROM bronze.arrays WHERE id IN (5, 6) ORDER BY id")).containsExactly(
            List.of("[0:2]={1,2,3}", "[-5:-4]={x,NULL}"),
            List.of("[-1:0][3:4]={{1,2},{3,4}}", "[2:3][0:0]={{a},{NULL}}"));
        var elements = assertBronzeEqualsSource("arrays", """
            SELECT ints[2] IS NULL, texts[1] IS NULL, texts[2], texts[3], texts[4], texts[5], texts[8],
                   docs[2] IS NULL, jsonb_typeof(docs[3]), docs[5] #>> '{}', amounts[1]::text, amounts[3]::text
            FROM %s WHERE id = 3""");
        assertThat(elements.get(0)).containsExactly("t", "t", "", "NULL", "say \"hi\"", "back\\slash", "new\nline",
            "t", "null", "é", "12345678901234567890.123456789012345678901234567890", "NaN");
    }
}
