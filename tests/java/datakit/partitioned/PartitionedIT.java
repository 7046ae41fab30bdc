package datakit.partitioned;

import static org.assertj.core.api.Assertions.assertThat;

import datakit.testing.Datakits;
import datakit.testing.TestDatabase;
import datakit.testing.TestPostgres;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** postgres-partitioned against every kind of partitioning, checked against what lands in the warehouse. */
class PartitionedIT {
    TestDatabase source;
    TestDatabase warehouse;
    Map<String, String> env;

    @BeforeEach
    void createDatabases() {
        source = TestPostgres.createDatabase("part_src");
        warehouse = TestPostgres.createDatabase("part_wh");
        env = Map.of("SOURCE_DATABASE_URL", source.url(), "WAREHOUSE_DATABASE_URL", warehouse.url());
        source.execute("""
            CREATE SCHEMA sales;
            CREATE TABLE sales.events (id bigint, day date NOT NULL, region text NOT NULL, payload text) PARTITION BY RANGE (day);
            CREATE TABLE sales.events_2026_01 PARTITION OF sales.events FOR VALUES FROM ('2026-01-01') TO ('2026-02-01');
            CREATE TABLE sales.events_2026_02 PARTITION OF sales.events FOR VALUES FROM ('2026-02-01') TO ('2026-03-01');
            CREATE TABLE sales.events_2026_03 PARTITION OF sales.events FOR VALUES FROM ('2026-03-01') TO ('2026-04-01');
            CREATE TABLE sales.events_2026_04 PARTITION OF sales.events FOR VALUES FROM ('2026-04-01') TO ('2026-05-01');
            CREATE TABLE sales.events_other PARTITION OF sales.events DEFAULT;
            INSERT INTO sales.events SELECT g, date '2025-12-20' + g % 140, CASE WHEN g % 3 = 0 THEN 'eu' ELSE 'us' END, md5(g::text)
            FROM generate_series(1, 20000) g;
            ANALYZE sales.events;
            """);
    }

    Datakits.Run partitioned(String... args) {
        return Datakits.run("PostgresPartitioned", env, args);
    }

    /** The source rows with the leaf each lives in, as bronze should hold them. */
    List<List<String>> sourceRows(String table) {
        return source.rows("SELECT id::text, day::text, region, payload, tableoid::regclass::text FROM " + table + " ORDER BY id");
    }

    List<List<String>> bronzeRows(String table) {
        return warehouse.rows("SELECT id::text, day::text, region, payload, _bronze_partition FROM " + table + " ORDER BY id");
    }

    @Test
    void rangeListHashAndTwoLevelPartitionsLandAsTheSourceHoldsThem() {
        source.execute("""
            CREATE TABLE sales.by_region (LIKE sales.events) PARTITION BY LIST (region);
            CREATE TABLE sales.by_region_eu PARTITION OF sales.by_region FOR VALUES IN ('eu');
            CREATE TABLE sales.by_region_rest PARTITION OF sales.by_region DEFAULT;
            CREATE TABLE sales.by_hash (LIKE sales.events) PARTITION BY HASH (id);
            CREATE TABLE sales.by_hash_0 PARTITION OF sales.by_hash FOR VALUES WITH (MODULUS 3, REMAINDER 0);
            CREATE TABLE sales.by_hash_1 PARTITION OF sales.by_hash FOR VALUES WITH (MODULUS 3, REMAINDER 1);
            CREATE TABLE sales.by_hash_2 PARTITION OF sales.by_hash FOR VALUES WITH (MODULUS 3, REMAINDER 2);
            CREATE TABLE sales.two_level (LIKE sales.events) PARTITION BY RANGE (day);
            CREATE TABLE sales.two_level_q1 PARTITION OF sales.two_level FOR VALUES FROM (MINVALUE) TO ('2026-04-01') PARTITION BY LIST (region);
            CREATE TABLE sales.two_level_q1_eu PARTITION OF sales.two_level_q1 FOR VALUES IN ('eu');
            CREATE TABLE sales.two_level_q1_us PARTITION OF sales.two_level_q1 FOR VALUES IN ('us');
            CREATE TABLE sales.two_level_later PARTITION OF sales.two_level FOR VALUES FROM ('2026-04-01') TO (MAXVALUE);
            INSERT INTO sales.by_region SELECT * FROM sales.events;
            INSERT INTO sales.by_hash SELECT * FROM sales.events;
            INSERT INTO sales.two_level SELECT * FROM sales.events;
            """);

        for (String table : List.of("events", "by_region", "by_hash", "two_level")) {
            var run = partitioned("--table", "sales." + table, "--parallelism", "3");

            assertThat(run.exitCode()).as(run.toString()).isZero();
            assertThat(bronzeRows("bronze." + table)).as(table).isEqualTo(sourceRows("sales." + table));
        }
        assertThat(warehouse.value("SELECT string_agg(DISTINCT _bronze_partition, ',' ORDER BY _bronze_partition) FROM bronze.two_level"))
            .isEqualTo("sales.two_level_later,sales.two_level_q1_eu,sales.two_level_q1_us");
        assertThat(warehouse.value("SELECT relkind FROM pg_class WHERE oid = 'bronze.events'::regclass")).isEqualTo("p");
        assertThat(warehouse.value("SELECT count(*) FROM pg_tables WHERE tablename LIKE '_bronze_staging%'")).isEqualTo("0");
    }

    @Test
    void fromAndToLandExactlyTheRowsInTheIntervalAlsoFromTheDefaultAndAPartitionThatStraddlesABound() {
        // The DEFAULT holds days before 2026-01-01 and from 2026-05-01; February straddles --to.
        var run = partitioned("--table", "sales.events", "--from", "2025-12-25", "--to", "2026-02-15", "--json");

        assertThat(run.exitCode()).as(run.toString()).isZero();
        assertThat(warehouse.rows("SELECT DISTINCT _bronze_partition FROM bronze.events ORDER BY 1"))
            .containsExactly(List.of("sales.events_2026_01"), List.of("sales.events_2026_02"), List.of("sales.events_other"));
        assertThat(bronzeRows("bronze.events")).isEqualTo(source.rows("SELECT id::text, day::text, region, payload, "
            + "tableoid::regclass::text FROM sales.events WHERE day >= '2025-12-25' AND day < '2026-02-15' ORDER BY id"));
        assertThat(run.out()).contains("\"bronze_rows\":" + source.value("SELECT count(*) FROM sales.events "
            + "WHERE day >= '2025-12-25' AND day < '2026-02-15'"));
    }

    /**
     * sales.tree: range by year, the year 2026 by list on region with a DEFAULT of its own, and a DEFAULT
     * at the top for the days no year takes (before 2025-07-01, and from 2027).
     */
    void createTree() {
        source.execute("""
            CREATE TABLE sales.tree (LIKE sales.events) PARTITION BY RANGE (day);
            CREATE TABLE sales.tree_2025h2 PARTITION OF sales.tree FOR VALUES FROM ('2025-07-01') TO ('2026-01-01');
            CREATE TABLE sales.tree_2026 PARTITION OF sales.tree FOR VALUES FROM ('2026-01-01') TO ('2027-01-01') PARTITION BY LIST (region);
            CREATE TABLE sales.tree_2026_eu PARTITION OF sales.tree_2026 FOR VALUES IN ('eu');
            CREATE TABLE sales.tree_2026_us PARTITION OF sales.tree_2026 FOR VALUES IN ('us');
            CREATE TABLE sales.tree_2026_other PARTITION OF sales.tree_2026 DEFAULT;
            CREATE TABLE sales.tree_other PARTITION OF sales.tree DEFAULT;
            INSERT INTO sales.tree SELECT g, date '2025-01-01' + g % 900, (ARRAY['eu', 'us', 'apac'])[g % 3 + 1], md5(g::text)
            FROM generate_series(1, 9000) g;
            ANALYZE sales.tree;
            """);
    }

    @Test
    void aMiddleLevelOfAThreeLevelTreeLoadsItsSubtreeAndARerunKeepsItsUnchangedParts() {
        createTree();

        var first = partitioned("--table", "sales.tree_2026", "--json");

        assertThat(first.exitCode()).as(first.toString()).isZero();
        assertThat(bronzeRows("bronze.tree_2026")).isEqualTo(sourceRows("sales.tree_2026")).hasSize(3650);
        assertThat(first.out()).contains("\"parts\":3");

        source.execute("UPDATE sales.tree SET payload = 'changed' WHERE id = 400 AND region = 'us'");
        var dry = partitioned("--table", "sales.tree_2026", "--dry-run");
        var second = partitioned("--table", "sales.tree_2026", "--json");

        assertThat(dry.out()).as(dry.toString()).contains("sales.tree_2026_eu", "[FOR VALUES IN ('eu')]", "[DEFAULT]");
        assertThat(second.exitCode()).as(second.toString()).isZero();
        assertThat(second.out()).contains("\"copied\":1", "\"kept\":2");
        assertThat(bronzeRows("bronze.tree_2026")).isEqualTo(sourceRows("sales.tree_2026"));
    }

    @Test
    void fromAndToFilterTheDefaultAtEachLevelOfATreeAndKeepWholeThePartitionsInside() {
        createTree();

        var run = partitioned("--table", "sales.tree", "--from", "2025-06-15", "--to", "2026-02-01", "--dry-run");
        var load = partitioned("--table", "sales.tree", "--from", "2025-06-15", "--to", "2026-02-01");

        assertThat(load.exitCode()).as(load.toString()).isZero();
        assertThat(bronzeRows("bronze.tree")).isEqualTo(source.rows("SELECT id::text, day::text, region, payload, tableoid::regclass::text "
            + "FROM sales.tree WHERE day >= '2025-06-15' AND day < '2026-02-01' ORDER BY id"));
        assertThat(run.out()).as(run.toString())
            .contains("[FOR VALUES FROM ('2025-07-01') TO ('2026-01-01')]")
            .contains("[DEFAULT WHERE \"day\" >= '2025-06-15'::date AND \"day\" < '2026-02-01'::date]")
            .contains("[FOR VALUES FROM ('2026-01-01') TO ('2027-01-01') / FOR VALUES IN ('eu') WHERE \"day\" < '2026-02-01'::date]")
            .contains("[FOR VALUES FROM ('2026-01-01') TO ('2027-01-01') / DEFAULT WHERE \"day\" < '2026-02-01'::date]");
        // A narrowed part's estimate is of its rows in the interval (about a twelfth of the leaf here), not of the whole leaf.
        long inInterval = Long.parseLong(source.value("SELECT count(*) FROM sales.tree_2026_eu WHERE day < '2026-02-01'"));
        String eu = run.out().lines().filter(l -> l.contains("sales.tree_2026_eu ")).findFirst().orElseThrow();
        assertThat(Long.parseLong(eu.replaceAll(".*~(\\S+) rows.*", "$1").replaceAll("\\D", ""))).as(eu)
            .isBetween(inInterval / 2, inInterval * 2);
    }

    @Test
    void aFilteredPartIsKeptOnlyWhileTheRowsItReadAreUnchangedAndTheIntervalIsTheSame() {
        String[] interval = {"--table", "sales.events", "--from", "2025-12-25", "--to", "2026-02-15", "--json"};
        assertThat(partitioned(interval).exitCode()).isZero();

        source.execute("UPDATE sales.events SET payload = 'outside' WHERE day = '2026-04-30' OR day = '2025-12-21'");
        var outsideChanged = partitioned(interval);

        assertThat(outsideChanged.out()).as(outsideChanged.toString()).contains("\"copied\":0", "\"kept\":3");
        assertThat(bronzeRows("bronze.events")).isEqualTo(source.rows("SELECT id::text, day::text, region, payload, "
            + "tableoid::regclass::text FROM sales.events WHERE day >= '2025-12-25' AND day < '2026-02-15' ORDER BY id"));

        source.execute("UPDATE sales.events SET payload = 'inside' WHERE day = '2025-12-30'",
            "UPDATE sales.events SET day = '2026-02-20' WHERE day = '2026-02-10'"); // leaves the interval, in its partition
        var insideChanged = partitioned(interval);

        assertThat(insideChanged.out()).as(insideChanged.toString()).contains("\"copied\":2", "\"kept\":1");
        assertThat(bronzeRows("bronze.events")).isEqualTo(source.rows("SELECT id::text, day::text, region, payload, "
            + "tableoid::regclass::text FROM sales.events WHERE day >= '2025-12-25' AND day < '2026-02-15' ORDER BY id"));

        var wider = partitioned("--table", "sales.events", "--from", "2025-12-22", "--to", "2026-02-15", "--json");

        assertThat(wider.out()).as(wider.toString()).contains("\"copied\":1", "\"kept\":2");
        assertThat(bronzeRows("bronze.events")).isEqualTo(source.rows("SELECT id::text, day::text, region, payload, "
            + "tableoid::regclass::text FROM sales.events WHERE day >= '2025-12-22' AND day < '2026-02-15' ORDER BY id"));
    }

    @Test
    void aLoadBegunWithAnotherIntervalOrBeforeBoundsWereRecordedIsNotResumed() {
        // Shard 1 of 2 stages February and the DEFAULT (the parts the interval narrows) and leaves January to shard 0.
        var first = partitioned("--table", "sales.events", "--from", "2025-12-25", "--to", "2026-02-15", "--shard", "1/2", "--json");
        assertThat(first.out()).as(first.toString()).contains("\"status\":\"staged\"", "\"copied\":2");

        var other = partitioned("--table", "sales.events", "--from", "2025-12-22", "--to", "2026-02-10", "--shard", "0/2");
        var last = partitioned("--table", "sales.events", "--from", "2025-12-22", "--to", "2026-02-10", "--shard", "1/2", "--json");

        assertThat(other.err()).as(other.toString()).contains("giving up the unfinished load");
        assertThat(last.out()).as(last.toString()).contains("\"published_by\":\"this run\"");
        assertThat(bronzeRows("bronze.events")).isEqualTo(source.rows("SELECT id::text, day::text, region, payload, "
            + "tableoid::regclass::text FROM sales.events WHERE day >= '2025-12-22' AND day < '2026-02-10' ORDER BY id"));

        // A load as a version that recorded no bounds left it: its parts without bounds, its DEFAULT staged whole.
        var staged = partitioned("--table", "sales.events", "--from", "2025-12-25", "--to", "2026-02-15", "--shard", "1/2", "--json");
        assertThat(staged.out()).as(staged.toString()).contains("\"status\":\"staged\"", "\"copied\":2");
        warehouse.execute("UPDATE bronze.extraction_checkpoints SET state = jsonb_set(state, '{parts}', "
            + "(SELECT jsonb_agg(p - 'bounds') FROM jsonb_array_elements(state->'parts') p)) WHERE partition_name = '(load)'");
        String stagedDefault = warehouse.value("SELECT format('%I.%I', state->'staged'->'copy'->>'schema', state->'staged'->'copy'->>'table') "
            + "FROM bronze.extraction_checkpoints WHERE partition_name = 'sales.events_other'");
        warehouse.execute("INSERT INTO " + stagedDefault + " SELECT (jsonb_populate_record(NULL::" + stagedDefault + ", to_jsonb(one) "
            + "|| '{\"id\": -1, \"day\": \"2020-01-01\", \"payload\": \"outside\"}')).* FROM (SELECT * FROM " + stagedDefault + " LIMIT 1) one");

        var afterUpgrade = partitioned("--table", "sales.events", "--from", "2025-12-25", "--to", "2026-02-15");

        assertThat(afterUpgrade.err()).as(afterUpgrade.toString()).contains("giving up the unfinished load");
        assertThat(bronzeRows("bronze.events")).isEqualTo(source.rows("SELECT id::text, day::text, region, payload, "
            + "tableoid::regclass::text FROM sales.events WHERE day >= '2025-12-25' AND day < '2026-02-15' ORDER BY id"));
    }

    @Test
    void fromAndToFilterTheFirstColumnOfARangeKeyOfSeveralColumns() {
        source.execute("""
            CREATE TABLE sales.monthly (yr int NOT NULL, mo int NOT NULL, id bigint) PARTITION BY RANGE (yr, mo);
            CREATE TABLE sales.monthly_2025a PARTITION OF sales.monthly FOR VALUES FROM (2025, 1) TO (2025, 7);
            CREATE TABLE sales.monthly_2025b PARTITION OF sales.monthly FOR VALUES FROM (2025, 7) TO (2026, 1);
            CREATE TABLE sales.monthly_2026 PARTITION OF sales.monthly FOR VALUES FROM (2026, 1) TO (2026, MAXVALUE);
            CREATE TABLE sales.monthly_rest PARTITION OF sales.monthly DEFAULT;
            INSERT INTO sales.monthly SELECT 2023 + g % 5, 1 + g % 12, g FROM generate_series(1, 3000) g;
            """);

        var run = partitioned("--table", "sales.monthly", "--from", "2024", "--to", "2026");

        assertThat(run.exitCode()).as(run.toString()).isZero();
        assertThat(warehouse.rows("SELECT id::text, yr::text, mo::text, _bronze_partition FROM bronze.monthly ORDER BY id"))
            .isEqualTo(source.rows("SELECT id::text, yr::text, mo::text, tableoid::regclass::text FROM sales.monthly "
                + "WHERE yr >= 2024 AND yr < 2026 ORDER BY id"));
        assertThat(warehouse.value("SELECT string_agg(DISTINCT _bronze_partition, ',' ORDER BY _bronze_partition) FROM bronze.monthly"))
            .isEqualTo("sales.monthly_2025a,sales.monthly_2025b,sales.monthly_rest");
    }

    /** Loads {@code --table sales.<table>} with the extra arguments and checks that bronze.{@code target} holds the rows in {@code interval}. */
    void assertLandsExactly(String table, String key, String interval, String target, String... args) {
        var run = partitioned(java.util.stream.Stream.concat(java.util.stream.Stream.of("--table", "sales." + table, "--target-table", target),
            java.util.stream.Stream.of(args)).toArray(String[]::new));

        assertThat(run.exitCode()).as(run.toString()).isZero();
        assertThat(warehouse.rows("SELECT id::text, " + key + "::text FROM bronze." + target + " ORDER BY id")).as(String.join(" ", args))
            .isEqualTo(source.rows("SELECT id::text, " + key + "::text FROM sales." + table + " WHERE " + interval + " ORDER BY id"));
    }

    @Test
    void fromAndToCompareCharAndBitKeysAsWholeValuesOfTheirType() {
        source.execute("""
            CREATE TABLE sales.skus (sku char(3) NOT NULL, id int) PARTITION BY RANGE (sku);
            CREATE TABLE sales.skus_a PARTITION OF sales.skus FOR VALUES FROM ('aaa') TO ('abm');
            CREATE TABLE sales.skus_b PARTITION OF sales.skus FOR VALUES FROM ('abm') TO ('b');
            CREATE TABLE sales.skus_rest PARTITION OF sales.skus DEFAULT;
            INSERT INTO sales.skus SELECT c, row_number() OVER ()
            FROM unnest(ARRAY['aaa', 'abb', 'abc', 'abd', 'abl', 'abm', 'abz', 'azz', 'baa', 'zzz']) c;
            CREATE TABLE sales.flags (f bit(4) NOT NULL, id int) PARTITION BY RANGE (f);
            CREATE TABLE sales.flags_low PARTITION OF sales.flags FOR VALUES FROM ('0000') TO ('1000');
            CREATE TABLE sales.flags_high PARTITION OF sales.flags FOR VALUES FROM ('1000') TO (MAXVALUE);
            INSERT INTO sales.flags VALUES ('0001', 1), ('0100', 2), ('1001', 3);
            """);

        assertLandsExactly("skus", "sku", "sku >= 'abc' AND sku < 'b'", "skus", "--from", "abc", "--to", "b");
        assertLandsExactly("skus", "sku", "sku >= 'abc' AND sku < 'abz'", "skus_ab", "--from", "abc", "--to", "abz");
        assertLandsExactly("flags", "f", "f >= '0010'", "flags", "--from", "0010");
    }

    @Test
    void fromAndToCompareTextAsEachLevelsCollationAndOperatorClassOrderIt() {
        // In "C" '_' and '`' sort between 'Z' and 'a', so they are inside ['B', 'b'); the column's ICU collation puts them first.
        // text_pattern_ops orders by bytes whatever the collation: 'B' < 'a' there, though ICU puts 'a' first.
        // sales.names: ranges in "C" at the top, and below them a level keyed on the same column in ICU order (a < A < b < B).
        source.execute("""
            CREATE TABLE sales.codes (code text COLLATE "und-x-icu", id int) PARTITION BY RANGE (code COLLATE "C");
            CREATE TABLE sales.codes_upper PARTITION OF sales.codes FOR VALUES FROM ('A') TO ('[');
            CREATE TABLE sales.codes_lower PARTITION OF sales.codes FOR VALUES FROM ('a') TO ('{');
            CREATE TABLE sales.codes_other PARTITION OF sales.codes DEFAULT;
            INSERT INTO sales.codes SELECT c, row_number() OVER ()
            FROM unnest(ARRAY['A', 'AB', 'B', 'Ba', 'Z', '_x', '`', '1', '~', 'a', 'aB', 'b', 'ba', 'z']) c;
            CREATE TABLE sales.pattern (name text COLLATE "und-x-icu" NOT NULL, id int) PARTITION BY RANGE (name text_pattern_ops);
            CREATE TABLE sales.pattern_upper PARTITION OF sales.pattern FOR VALUES FROM ('A') TO ('[');
            CREATE TABLE sales.pattern_lower PARTITION OF sales.pattern FOR VALUES FROM ('a') TO ('{');
            CREATE TABLE sales.pattern_rest PARTITION OF sales.pattern DEFAULT;
            CREATE TABLE sales.names (name text NOT NULL, id int) PARTITION BY RANGE (name COLLATE "C");
            CREATE TABLE sales.names_letters PARTITION OF sales.names FOR VALUES FROM ('A') TO ('{')
                PARTITION BY RANGE (name COLLATE "und-x-icu");
            CREATE TABLE sales.names_am PARTITION OF sales.names_letters FOR VALUES FROM ('a') TO ('n');
            CREATE TABLE sales.names_nz PARTITION OF sales.names_letters FOR VALUES FROM ('n') TO (MAXVALUE);
            CREATE TABLE sales.names_sub_rest PARTITION OF sales.names_letters DEFAULT;
            CREATE TABLE sales.names_rest PARTITION OF sales.names DEFAULT;
            INSERT INTO sales.pattern SELECT c, row_number() OVER () FROM unnest(ARRAY['a', 'A', 'b', 'B', 'm', 'M', 'z', 'Z', '_x', '1', '~']) c;
            INSERT INTO sales.names SELECT * FROM sales.pattern;
            INSERT INTO sales.names VALUES ('n', 12), ('N', 13);
            """);

        assertLandsExactly("codes", "code", "code COLLATE \"C\" >= 'B' AND code COLLATE \"C\" < 'b'", "codes", "--from", "B", "--to", "b");
        assertThat(warehouse.rows("SELECT code FROM bronze.codes ORDER BY id")).contains(List.of("_x"), List.of("`"));
        assertLandsExactly("pattern", "name", "name ~>=~ 'A' AND name ~<~ 'c'", "pattern", "--from", "A", "--to", "c");
        assertLandsExactly("names", "name", "name COLLATE \"C\" >= 'a' AND name COLLATE \"C\" < '{'", "names_lower", "--from", "a",
            "--to", "{");
        assertLandsExactly("names", "name", "name COLLATE \"C\" >= 'A' AND name COLLATE \"C\" < 'a'", "names_upper", "--from", "A",
            "--to", "a");
    }

    @Test
    void unchangedPartsAreKeptAndChangedOnesCopiedAgainUnlessFull() {
        assertThat(partitioned("--table", "sales.events").exitCode()).isZero();
        String firstRun = warehouse.value("SELECT run_id FROM bronze.extraction_runs");
        source.execute("UPDATE sales.events SET payload = 'changed' WHERE id = 7", // in sales.events_other
            "DELETE FROM sales.events WHERE id IN (SELECT id FROM sales.events_2026_02 LIMIT 1)",
            "INSERT INTO sales.events VALUES (100000, '2026-04-02', 'eu', 'new')");

        var second = partitioned("--table", "sales.events", "--json");

        assertThat(second.exitCode()).as(second.toString()).isZero();
        assertThat(second.out()).contains("\"copied\":3", "\"kept\":2", "\"published\":true");
        assertThat(bronzeRows("bronze.events")).isEqualTo(sourceRows("sales.events"));
        assertThat(warehouse.rows("SELECT DISTINCT _bronze_partition FROM bronze.events WHERE _bronze_run_id = '" + firstRun + "' ORDER BY 1"))
            .containsExactly(List.of("sales.events_2026_01"), List.of("sales.events_2026_03"));

        var full = partitioned("--table", "sales.events", "--full", "--json");

        assertThat(full.out()).as(full.toString()).contains("\"copied\":5", "\"kept\":0");
        assertThat(warehouse.value("SELECT count(DISTINCT _bronze_run_id) FROM bronze.events")).isEqualTo("1");
        assertThat(warehouse.value("SELECT count(*) FROM pg_tables WHERE schemaname = 'bronze' AND tablename LIKE '_bronze_part%'"))
            .as("the tables of replaced parts are dropped").isEqualTo("5");
    }

    @Test
    void mirrorLayoutWritesATablePerPartitionAndDropsTheTablesOfVanishedOnes() {
        var first = partitioned("--table", "sales.events", "--layout", "mirror");

        assertThat(first.exitCode()).as(first.toString()).isZero();
        assertThat(warehouse.rows("SELECT tablename FROM pg_tables WHERE schemaname = 'bronze' AND tablename LIKE 'events%' ORDER BY 1"))
            .containsExactly(List.of("events_2026_01"), List.of("events_2026_02"), List.of("events_2026_03"), List.of("events_2026_04"),
                List.of("events_other"));
        assertThat(warehouse.count("bronze.events_2026_03")).isEqualTo(source.count("sales.events_2026_03"));

        source.execute("DROP TABLE sales.events_2026_01");
        var second = partitioned("--table", "sales.events", "--layout", "mirror");

        assertThat(second.exitCode()).as(second.toString()).isZero();
        assertThat(warehouse.value("SELECT to_regclass('bronze.events_2026_01') IS NULL")).isEqualTo("t");
        assertThat(warehouse.count("bronze.events_2026_02")).isEqualTo(source.count("sales.events_2026_02"));
    }

    @Test
    void chunkedExtractOfAPlainTableEqualsAFullExtract() {
        source.execute("CREATE TABLE sales.plain AS SELECT * FROM sales.events", "ANALYZE sales.plain");

        var full = Datakits.run("PostgresExtract", env, "--table", "sales.plain", "--target-table", "plain_full");
        var chunked = partitioned("--table", "sales.plain", "--chunks", "4", "--parallelism", "3");

        assertThat(full.exitCode()).as(full.toString()).isZero();
        assertThat(chunked.exitCode()).as(chunked.toString()).isZero();
        String columns = "id::text, day::text, region, payload";
        assertThat(warehouse.rows("SELECT " + columns + " FROM bronze.plain ORDER BY id"))
            .isEqualTo(warehouse.rows("SELECT " + columns + " FROM bronze.plain_full ORDER BY id"))
            .hasSize(20000);
        assertThat(warehouse.value("SELECT count(DISTINCT _bronze_partition) FROM bronze.plain")).isEqualTo("4");
    }

    @Test
    void inheritanceChildrenAndTheParentsOwnRowsAreParts() {
        source.execute("""
            CREATE TABLE sales.log (id bigint, day date NOT NULL, region text NOT NULL, payload text);
            CREATE TABLE sales.log_2025 () INHERITS (sales.log);
            CREATE TABLE sales.log_2026 () INHERITS (sales.log);
            INSERT INTO sales.log SELECT * FROM sales.events WHERE id <= 100;
            INSERT INTO sales.log_2025 SELECT * FROM sales.events WHERE id > 100 AND day < '2026-01-01';
            INSERT INTO sales.log_2026 SELECT * FROM sales.events WHERE id > 100 AND day >= '2026-01-01';
            """);

        var run = partitioned("--table", "sales.log");

        assertThat(run.exitCode()).as(run.toString()).isZero();
        assertThat(warehouse.rows("SELECT id::text, day::text, region, payload FROM bronze.log ORDER BY id"))
            .isEqualTo(source.rows("SELECT id::text, day::text, region, payload FROM sales.log ORDER BY id")).hasSize(20000);
        assertThat(warehouse.value("SELECT count(*) FROM bronze.log WHERE _bronze_partition = 'sales.log'")).isEqualTo("100");
    }

    @Test
    void aDryRunListsThePartsWithBoundsEstimatesAndWhatWouldBeKeptAndWritesNothing() {
        assertThat(partitioned("--table", "sales.events").exitCode()).isZero();
        source.execute("UPDATE sales.events SET payload = 'changed' WHERE id = 7");

        var dry = partitioned("--table", "sales.events", "--dry-run");

        assertThat(dry.exitCode()).as(dry.toString()).isZero();
        assertThat(dry.out()).contains("5 parts", "layout single, would be replaced atomically",
            "FOR VALUES FROM ('2026-03-01') TO ('2026-04-01')", "[DEFAULT]", "keep (unchanged since run");
        assertThat(dry.out().lines().filter(l -> l.contains("sales.events_") && l.contains("  copy  "))).hasSize(1);
        assertThat(warehouse.value("SELECT count(*) FROM bronze.extraction_runs")).isEqualTo("1");
    }

    @Test
    void aSecondLoadKeepsTheGrantsAndCommentOfTheTableItReplaces() {
        assertThat(Datakits.run("PostgresExtract", env, "--table", "sales.events").exitCode()).isZero();
        warehouse.execute("CREATE ROLE reader_" + warehouse.name(), "GRANT SELECT ON bronze.events TO reader_" + warehouse.name(),
            "COMMENT ON TABLE bronze.events IS 'events, raw'");

        var run = partitioned("--table", "sales.events");

        assertThat(run.exitCode()).as(run.toString()).isZero();
        assertThat(bronzeRows("bronze.events")).isEqualTo(sourceRows("sales.events"));
        assertThat(warehouse.value("SELECT has_table_privilege('reader_" + warehouse.name() + "', 'bronze.events', 'SELECT')")).isEqualTo("t");
        assertThat(warehouse.value("SELECT obj_description('bronze.events'::regclass)")).isEqualTo("events, raw");
    }

    @Test
    void badInputFailsWithOneClearLineBeforeAnythingIsWritten() {
        source.execute("""
            CREATE TABLE sales.plain (id int);
            CREATE TABLE sales.listed (id int, region text) PARTITION BY LIST (region);
            CREATE TABLE sales.mixed (id int, day date, n int, region text) PARTITION BY LIST (region);
            CREATE TABLE sales.mixed_eu PARTITION OF sales.mixed FOR VALUES IN ('eu') PARTITION BY RANGE (day);
            CREATE TABLE sales.mixed_us PARTITION OF sales.mixed FOR VALUES IN ('us') PARTITION BY RANGE (n);
            CREATE TABLE sales.collated (name text, region text) PARTITION BY LIST (region);
            CREATE TABLE sales.collated_eu PARTITION OF sales.collated FOR VALUES IN ('eu') PARTITION BY RANGE (name COLLATE "C");
            CREATE TABLE sales.collated_us PARTITION OF sales.collated FOR VALUES IN ('us') PARTITION BY RANGE (name);
            """);
        record Case(List<String> args, String message) {
        }
        var cases = List.of(
            new Case(List.of("--table", "sales.plain"), "sales.plain is not partitioned. Copy it with postgres-extract, or read it in parallel "
                + "block ranges with --chunks N."),
            new Case(List.of("--table", "sales.events_2026_01"), "sales.events_2026_01 is a partition of sales.events and has no partitions "
                + "of its own. Load sales.events with postgres-partitioned, copy sales.events_2026_01 with postgres-extract, or read it in "
                + "parallel block ranges with --chunks N."),
            new Case(List.of("--table", "sales.events_2026_01", "--from", "2026-01-01"), "sales.events_2026_01 is a partition of sales.events "
                + "and has no partitions of its own."),
            new Case(List.of("--table", "sales.mixed", "--from", "1"), "The levels partitioned by range at the top of sales.mixed disagree "
                + "on their key: sales.mixed_eu is partitioned by RANGE (day), sales.mixed_us by RANGE (n), and --from and --to apply to one. "
                + "Load each of them with --table, or filter rows with --where."),
            new Case(List.of("--table", "sales.collated", "--to", "m"), "sales.collated_eu is partitioned by RANGE (name COLLATE \"C\"), "
                + "sales.collated_us by RANGE (name)"),
            new Case(List.of("--table", "sales.events", "--from", "yesterday-ish"), "--from \"yesterday-ish\" is not a valid date"),
            new Case(List.of("--table", "sales.events", "--from", "2026-03-01", "--to", "2026-02-01"), "--from 2026-03-01 is not before --to"),
            new Case(List.of("--table", "sales.listed", "--from", "a"), "has no level partitioned by range"),
            new Case(List.of("--table", "sales.events", "--chunks", "4"), "Leave out --chunks"),
            new Case(List.of("--table", "sales.plain", "--chunks", "4", "--layout", "mirror"), "Use --layout single"),
            new Case(List.of("--table", "sales.events", "--shard", "3/3"), "Shard index 3 is out of range for 3 shards: give 0 to 2"),
            new Case(List.of("--table", "sales.events", "--shard-count", "3"), "needs this process's index: set JOB_COMPLETION_INDEX"),
            new Case(List.of("--table", "sales.events", "--mode", "append"), "replaces the bronze table with a complete copy"),
            new Case(List.of("--query", "SELECT 1 AS x", "--target-table", "x"), "a --query has none"));

        for (Case c : cases) {
            var run = partitioned(c.args().toArray(String[]::new));

            assertThat(run.exitCode()).as(run.toString()).isEqualTo(2);
            assertThat(run.err()).as(c.args().toString()).contains(c.message()).doesNotContain("Exception");
            assertThat(run.err().lines().filter(l -> l.startsWith("ERROR"))).hasSize(1);
        }
        assertThat(warehouse.value("SELECT count(*) FROM pg_namespace WHERE nspname = 'bronze'")).isEqualTo("0");
    }

    @Test
    void aViewOnTheBronzeTableStopsTheRunBeforeAnyPartIsCopied() {
        assertThat(partitioned("--table", "sales.events").exitCode()).isZero();
        warehouse.execute("CREATE VIEW public.recent AS SELECT * FROM bronze.events WHERE day > '2026-04-01'");

        var run = partitioned("--table", "sales.events", "--full");

        assertThat(run.exitCode()).as(run.toString()).isEqualTo(3);
        assertThat(run.err()).contains("public.recent depends on it");
        assertThat(warehouse.value("SELECT count(*) FROM bronze.extraction_checkpoints WHERE state ? 'staged' AND state->'staged' <> 'null'"))
            .isEqualTo("0");
    }
}
