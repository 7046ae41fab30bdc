package datakit.extract;

import static org.assertj.core.api.Assertions.assertThat;

import datakit.testing.Datakits;
import datakit.testing.TestDatabase;
import datakit.testing.TestPostgres;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Every type a column can have, the system types included, with the edge values that break naive loaders,
 * copied by every mode that reads with binary COPY (postgres-extract replacing and appending,
 * postgres-incremental, postgres-partitioned, postgres-jsonb) and by postgres-cdc (its snapshot, and its
 * change rows), and compared with the source value by value in PostgreSQL's own text form.
 */
class TypeRoundTripIT {
    /** The bronze tables, one per mode, each holding every row of kinds.everything. */
    static final List<String> TARGETS = List.of("bronze.everything", "bronze.everything_append", "bronze.everything_incremental",
        "bronze.everything_parts", "bronze.everything_jsonb", "bronze_cdc.everything_cdc");
    /** The columns whose bronze type is not the source's; every other column keeps its type exactly. */
    static final Map<String, String> CHANGED_TYPES = Map.ofEntries(
        Map.entry("feeling", "text"), Map.entry("mood_array", "text[]"), Map.entry("couple", "text"),
        Map.entry("couples", "text[]"), Map.entry("amount", "integer"), Map.entry("code", "character varying(5)"),
        Map.entry("relation", "text"), Map.entry("letter", "text"), Map.entry("key_columns", "text"), Map.entry("arg_types", "text"),
        Map.entry("key_sets", "text[]"), Map.entry("privilege", "text"), Map.entry("privileges", "text[]"),
        Map.entry("node", "text"), Map.entry("gist_key", "text"), Map.entry("type_ref", "text"), Map.entry("type_refs", "text[]"),
        Map.entry("proc_ref", "text"), Map.entry("procedure_ref", "text"), Map.entry("operator_name_ref", "text"),
        Map.entry("operator_ref", "text"), Map.entry("namespace_ref", "text"), Map.entry("role_ref", "text"),
        Map.entry("config_ref", "text"), Map.entry("dictionary_ref", "text"), Map.entry("collation_ref", "text"),
        Map.entry("stats_ndistinct", "text"), Map.entry("stats_dependencies", "text"), Map.entry("stats_mcv", "text"),
        Map.entry("arg_type_sets", "text[]"), Map.entry("float_span", "text"), Map.entry("amounts", "integer[]"));
    static TestDatabase source;
    static TestDatabase warehouse;
    static String slot;
    static Map<String, Datakits.Run> runs = new java.util.LinkedHashMap<>();

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
            CREATE TYPE kinds.float_span AS RANGE (subtype = float8);
            -- The database's only extended statistics, for values of pg_ndistinct, pg_dependencies and pg_mcv_list (no input).
            CREATE TABLE kinds.correlated (a int, b int);
            INSERT INTO kinds.correlated SELECT g % 10, g % 10 FROM generate_series(1, 1000) g;
            CREATE STATISTICS kinds.correlated_ab (ndistinct, dependencies, mcv) ON a, b FROM kinds.correlated;
            ANALYZE kinds.correlated;
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
                object_id oid, lsn pg_lsn, relation regclass, cash money,
                txn xid, txn8 xid8, command cid, row_id tid, snap pg_snapshot, old_snap txid_snapshot, key_columns int2vector,
                arg_types oidvector, key_sets int2vector[], cur refcursor, privilege aclitem, privileges aclitem[], path_expr jsonpath,
                node pg_node_tree, gist_key gtsvector,
                type_ref regtype, type_refs regtype[], proc_ref regproc, procedure_ref regprocedure, operator_name_ref regoper,
                operator_ref regoperator, namespace_ref regnamespace, role_ref regrole, config_ref regconfig, dictionary_ref regdictionary,
                collation_ref regcollation, stats_ndistinct pg_ndistinct, stats_dependencies pg_dependencies, stats_mcv pg_mcv_list,
                arg_type_sets oidvector[], float_span kinds.float_span, amounts kinds.positive[], txns xid[]
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
                4294967295, 'FFFFFFFF/FFFFFFFF', 'kinds.everything', '-92233720368547758.08',
                '4294967295', '18446744073709551615', '4294967295', '(4294967295,65535)', '10:20:10,14,15', '10:20:10,14,15', '1 -2 32767',
                '0 26 4294967295', '{"1 2",""}', 'a cursor''s name',
                makeaclitem(to_regrole(current_user), to_regrole(current_user), 'SELECT', true),
                ARRAY[makeaclitem(0, to_regrole(current_user), 'INSERT', false), makeaclitem(to_regrole(current_user), 0, 'UPDATE', false)],
                '$.a[*] ? (@ > 1.5 && @ like_regex "^x" flag "i")',
                (SELECT ev_action FROM pg_rewrite ORDER BY oid LIMIT 1), NULL,
                'kinds.mood', '{integer,kinds.pair,"character varying"}', 'now', 'now()', '+(integer,integer)'::regoperator::oid::regoper,
                '+(integer,integer)', 'kinds', current_user::regrole, 'english', 'simple', '"C"',
                (SELECT stxdndistinct FROM pg_statistic_ext_data), (SELECT stxddependencies FROM pg_statistic_ext_data),
                (SELECT stxdmcv FROM pg_statistic_ext_data),
                '{"23 25","",NULL}', '[1.5,2.5)', '{1,NULL,2}', '{1,4294967295}');
            INSERT INTO kinds.everything (id, big, exact, single, double, body, raw, day, moment, instant, clock, zoned_clock, span,
                                          int_array, text_array, grid, doc_json, nums, letter, txn, txn8, row_id, snap, old_snap,
                                          key_columns, arg_types, key_sets, cur, privileges)
            VALUES (2, 9223372036854775807, repeat('9', 1000)::numeric / 7, 'NaN', 1e-320, '', ''::bytea,
                    '4713-01-01 BC', '4713-01-01 00:00:00 BC', '-infinity', '00:00:00.000001', '00:00+15:59',
                    '1 year 2 mons -3 days 04:05:06.789',
                    '{}', '{}', '{{{1},{2}},{{3},{4}}}', '[]', '(,)', '\\201', '0', '0', '(0,0)', '5:5:', '5:5:',
                    '', '', '{}', '', '{}');
            INSERT INTO kinds.everything (id, exact, single, double, day, moment, instant)
            VALUES (3, '-0.000000000000000000000000000001', '-0', '-0', '5874897-12-31', '294276-12-31 23:59:59.999999',
                    '2024-03-31 02:30:00+02');
            INSERT INTO kinds.everything (id, exact, double, body)
            VALUES (4, 'Infinity', 0.1, (SELECT string_agg(md5(g::text || random()::text), '') FROM generate_series(1, 100000) g));
            """);
        var env = Map.of("SOURCE_DATABASE_URL", source.url(), "WAREHOUSE_DATABASE_URL", warehouse.url());
        runs.put("bronze.everything", Datakits.run("PostgresExtract", env, "--table", "kinds.everything"));
        // Append into a table that exists: the first run creates it, the second appends to it; the id 0 row tells them apart.
        runs.put("bronze.everything_append (created)", Datakits.run("PostgresExtract", env, "--table", "kinds.everything", "--where",
            "id = 0", "--target-table", "everything_append"));
        runs.put("bronze.everything_append", Datakits.run("PostgresExtract", env, "--table", "kinds.everything", "--where", "id > 0",
            "--mode", "append", "--target-table", "everything_append"));
        runs.put("bronze.everything_incremental", Datakits.run("PostgresIncremental", env, "--table", "kinds.everything",
            "--cursor-field", "id", "--chunk-rows", "2", "--target-table", "everything_incremental"));
        runs.put("bronze.everything_parts", Datakits.run("PostgresPartitioned", env, "--table", "kinds.everything", "--chunks", "2",
            "--target-table", "everything_parts"));
        runs.put("bronze.everything_jsonb", Datakits.run("PostgresJsonb", env, "--table", "kinds.everything",
            "--target-table", "everything_jsonb"));
        // postgres-cdc: its snapshot of kinds.everything, then the same rows inserted into kinds.copied as changes.
        source.execute("CREATE TABLE kinds.copied (LIKE kinds.everything INCLUDING ALL)");
        slot = "types_" + source.name();
        String[] cdc = {"--table", "kinds.everything,kinds.copied", "--slot", slot, "--target-schema", "bronze_cdc"};
        runs.put("bronze_cdc.everything_cdc", Datakits.run("PostgresCdc", env, cdc));
        source.execute("INSERT INTO kinds.copied SELECT * FROM kinds.everything");
        runs.put("bronze_cdc.copied__changes", Datakits.run("PostgresCdc", env, cdc));
        warehouse.execute("ALTER TABLE IF EXISTS bronze_cdc.everything RENAME TO everything_cdc");
    }

    @AfterAll
    static void dropSlot() {
        source.execute("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '" + slot + "'");
    }

    static List<String> columns() {
        return source.rows("""
                SELECT attname FROM pg_attribute WHERE attrelid = 'kinds.everything'::regclass AND attnum > 0 AND NOT attisdropped
                ORDER BY attnum""").stream().map(r -> r.get(0)).toList();
    }

    @Test
    void everyModeSucceedsAndCopiesEveryRow() {
        var failed = new java.util.LinkedHashMap<String, String>();
        runs.forEach((target, run) -> {
            if (run.exitCode() != 0) {
                failed.put(target, run.err().strip());
            }
        });
        assertThat(failed).as("the runs that failed").isEmpty();
        for (String target : TARGETS) {
            assertThat(warehouse.count(target)).as(target).isEqualTo(5);
        }
        assertThat(warehouse.count("bronze_cdc.copied__changes")).isEqualTo(5);
    }

    @Test
    void everyValueReadsBackExactlyAsTheSourceHasItInEveryMode() {
        List<String> columns = columns();
        String select = "SELECT " + String.join(", ", columns.stream().map(c -> "\"" + c + "\"::text").toList()) + " FROM %s ORDER BY id";
        var expected = source.rows(select.formatted("kinds.everything"));
        for (String target : java.util.stream.Stream.concat(TARGETS.stream(), java.util.stream.Stream.of("bronze_cdc.copied__changes")).toList()) {
            var landed = warehouse.rows(select.formatted(target));
            assertThat(landed).as(target).hasSameSizeAs(expected);
            for (int i = 0; i < columns.size(); i++) {
                int column = i;
                assertThat(landed.stream().map(r -> r.get(column)).toList()).as("column %s in %s", columns.get(i), target)
                    .isEqualTo(expected.stream().map(r -> r.get(column)).toList());
            }
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
        String types = """
            SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
            WHERE attrelid = '%s'::regclass AND attnum > 0 AND NOT attisdropped AND attname NOT LIKE '\\_%%' ORDER BY attnum""";
        var expected = source.rows(types.formatted("kinds.everything")).stream()
            .map(r -> List.of(r.get(0), CHANGED_TYPES.getOrDefault(r.get(0), r.get(1)))).toList();
        assertThat(expected).contains(List.of("money_amount", "numeric(12,2)"), List.of("grid", "integer[]"),
            List.of("snap", "pg_snapshot"), List.of("row_id", "tid"), List.of("key_columns", "text"));
        for (String target : TARGETS) {
            assertThat(warehouse.rows(types.formatted(target))).as("bronze types of %s", target).isEqualTo(expected);
        }
        var changes = warehouse.rows(types.formatted("bronze_cdc.copied__changes"));
        assertThat(changes).as("the types of the change rows").isEqualTo(expected);
    }

    @Test
    void metadataColumnsNameTheRunAndTheSourceButNoCredentials() {
        var row = warehouse.rows("""
            SELECT count(DISTINCT _bronze_run_id), min(_bronze_source), min(_bronze_schema), min(_bronze_table),
                   min(_bronze_extraction_type), count(_bronze_loaded_at)
            FROM bronze.everything""").get(0);
        assertThat(row).containsExactly("1", "%s:%d/%s".formatted(source.server().host(), source.server().port(), source.name()),
            "kinds", "everything", "full", "5");
        assertThat(warehouse.value("SELECT status FROM bronze.extraction_runs WHERE stream = 'bronze.everything'")).isEqualTo("succeeded");
    }
}
