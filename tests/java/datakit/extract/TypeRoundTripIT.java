package datakit.extract;

import static org.assertj.core.api.Assertions.assertThat;

import datakit.testing.Datakits;
import datakit.testing.TestDatabase;
import datakit.testing.TestPostgres;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Every built-in type family, with the edge values that break naive loaders, copied by
 * postgres-extract and compared with the source value by value, in PostgreSQL's own text form.
 */
class TypeRoundTripIT {
    static TestDatabase source;
    static TestDatabase warehouse;
    static Datakits.Run run;

    @BeforeAll
    static void extractEveryType() {
        source = TestPostgres.createDatabase("types_src");
        warehouse = TestPostgres.createDatabase("types_wh");
        source.execute("""
            CREATE SCHEMA kinds;
            CREATE TYPE kinds.mood AS ENUM ('sad', 'ok', 'happy');
            CREATE DOMAIN kinds.positive AS integer CHECK (VALUE > 0);
            CREATE DOMAIN kinds.short_code AS varchar(5);
            CREATE TYPE kinds.pair AS (label text, amount numeric);
            CREATE TABLE kinds.everything (
                id int PRIMARY KEY,
                small smallint, whole integer, big bigint,
                exact numeric, money_amount numeric(12,2),
                single real, double double precision,
                flag boolean,
                body text, short varchar(5), fixed char(5), letter "char", ident name,
                raw bytea,
                day date, moment timestamp, instant timestamptz, clock time, zoned_clock timetz, span interval,
                id_uuid uuid, address inet, network cidr, mac macaddr, mac8 macaddr8,
                bits bit(8), varbits bit varying,
                doc_json json, doc_jsonb jsonb, doc_xml xml,
                words tsvector, search tsquery,
                pt point, ln line, seg lseg, bx box, pth path, poly polygon, circ circle,
                ints int4range, nums numrange, times tstzrange, days daterange, int_multi int4multirange,
                int_array integer[], text_array text[], grid integer[][], mood_array kinds.mood[],
                feeling kinds.mood, amount kinds.positive, code kinds.short_code, couple kinds.pair, couples kinds.pair[],
                object_id oid, lsn pg_lsn, relation regclass, cash money
            );
            INSERT INTO kinds.everything (id) VALUES (0);  -- every column NULL
            INSERT INTO kinds.everything VALUES (1,
                -32768, -2147483648, -9223372036854775808,
                'NaN', -9999999999.99,
                'Infinity', '-Infinity',
                true,
                E'tab\\there\\nnew line\\r\\nback\\\\slash "quoted" ''single'' emoji \\U0001F600 ünïcödé', 'abc', 'ab', 'x', 'a name',
                (SELECT decode(string_agg(lpad(to_hex(g), 2, '0'), '' ORDER BY g), 'hex') FROM generate_series(0, 255) g),
                'infinity', 'infinity', 'infinity', '24:00:00', '23:59:59.999999-15:59', '-178000000 years',
                'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '::1/128', '192.168.0.0/24', '08:00:2b:01:02:03', '08:00:2b:01:02:03:04:05',
                B'10101010', B'1',
                '{"a": 1, "a" : 2,   "nested": {"x": [1, 2.50, "\\u00e9"]}}', '{"b": [1, 2, {"c": null}], "big": 123456789012345678901234567890.123456789}', '<a b="1">text &amp; more</a>',
                'a fat cat:1A sat', 'fat & (rat | cat)',
                '(1.5,-2)', '{1,-1,0}', '[(0,0),(1,1)]', '(2,2),(0,0)', '[(0,0),(1,1),(2,0)]', '((0,0),(1,1),(1,0))', '<(0,0),5>',
                '[1,10)', '[1.5,2.5]', '[2024-01-01 00:00+00,infinity)', 'empty', '{[1,3),[5,7)}',
                '{1,NULL,3}', '{"a,b","NULL",NULL,"\\"q\\"","",  "with space"}', '[0:1][-1:0]={{1,2},{3,4}}', '{sad,NULL,happy}',
                'happy', 42, 'ab', ROW('x, "y"', 1.5), ARRAY[ROW('a', 1)::kinds.pair, NULL],
                4294967295, 'FFFFFFFF/FFFFFFFF', 'kinds.everything', '-92233720368547758.08');
            INSERT INTO kinds.everything (id, big, exact, single, double, body, raw, day, moment, instant, clock, zoned_clock, span,
                                          int_array, text_array, grid, doc_json, nums)
            VALUES (2, 9223372036854775807, repeat('9', 1000)::numeric / 7, 'NaN', 1e-320, '', ''::bytea,
                    '4713-01-01 BC', '4713-01-01 00:00:00 BC', '-infinity', '00:00:00.000001', '00:00+15:59',
                    '1 year 2 mons -3 days 04:05:06.789',
                    '{}', '{}', '{{{1},{2}},{{3},{4}}}', '[]', '(,)');
            INSERT INTO kinds.everything (id, exact, single, double, day, moment, instant)
            VALUES (3, '-0.000000000000000000000000000001', '-0', '-0', '5874897-12-31', '294276-12-31 23:59:59.999999',
                    '2024-03-31 02:30:00+02');
            INSERT INTO kinds.everything (id, exact, double, body)
            VALUES (4, 'Infinity', 0.1, (SELECT string_agg(md5(g::text || random()::text), '') FROM generate_series(1, 100000) g));
            """);
        run = Datakits.run("PostgresExtract", Map.of("SOURCE_DATABASE_URL", source.url(), "WAREHOUSE_DATABASE_URL", warehouse.url()),
            "--table", "kinds.everything");
    }

    @Test
    void theExtractSucceedsAndCopiesEveryRow() {
        assertThat(run.exitCode()).as(run.toString()).isZero();
        assertThat(warehouse.count("bronze.everything")).isEqualTo(5);
    }

    @Test
    void everyValueReadsBackExactlyAsTheSourceHasIt() {
        List<String> columns = source.rows("""
                SELECT attname FROM pg_attribute WHERE attrelid = 'kinds.everything'::regclass AND attnum > 0 AND NOT attisdropped
                ORDER BY attnum""").stream().map(r -> r.get(0)).toList();
        for (String column : columns) {
            String select = "SELECT id, \"" + column + "\"::text FROM %s ORDER BY 1";
            assertThat(warehouse.rows(select.formatted("bronze.everything")))
                .as("column %s", column)
                .isEqualTo(source.rows(select.formatted("kinds.everything")));
        }
    }

    @Test
    void theMultiMegabyteValueIsToastedAndArrivesWhole() {
        assertThat(source.value("SELECT length(body) FROM kinds.everything WHERE id = 4")).isEqualTo("3200000");
        assertThat(warehouse.value("SELECT md5(body) FROM bronze.everything WHERE id = 4"))
            .isEqualTo(source.value("SELECT md5(body) FROM kinds.everything WHERE id = 4"));
    }

    @Test
    void builtInTypesKeepTheirTypeAndOthersLandInAFormThatCannotFailToLoad() {
        var types = Map.ofEntries(
            Map.entry("money_amount", "numeric(12,2)"), Map.entry("short", "character varying(5)"),
            Map.entry("fixed", "character(5)"), Map.entry("bits", "bit(8)"), Map.entry("grid", "integer[]"),
            Map.entry("doc_json", "json"), Map.entry("instant", "timestamp with time zone"),
            Map.entry("int_multi", "int4multirange"), Map.entry("cash", "money"),
            Map.entry("feeling", "text"), Map.entry("mood_array", "text[]"), Map.entry("couple", "text"),
            Map.entry("couples", "text[]"), Map.entry("amount", "integer"), Map.entry("code", "character varying(5)"),
            Map.entry("relation", "text"));
        types.forEach((column, type) -> assertThat(warehouse.value("""
                SELECT format_type(atttypid, atttypmod) FROM pg_attribute
                WHERE attrelid = 'bronze.everything'::regclass AND attname = '%s'""".formatted(column)))
            .as("bronze type of %s", column).isEqualTo(type));
    }

    @Test
    void metadataColumnsNameTheRunAndTheSourceButNoCredentials() {
        var row = warehouse.rows("""
            SELECT count(DISTINCT _bronze_run_id), min(_bronze_source), min(_bronze_schema), min(_bronze_table),
                   min(_bronze_extraction_type), count(_bronze_loaded_at)
            FROM bronze.everything""").get(0);
        assertThat(row).containsExactly("1", "%s:%d/%s".formatted(source.server().host(), source.server().port(), source.name()),
            "kinds", "everything", "full", "5");
        assertThat(warehouse.value("SELECT status FROM bronze.extraction_runs")).isEqualTo("succeeded");
    }
}
