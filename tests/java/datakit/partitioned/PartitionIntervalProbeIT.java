package datakit.partitioned;

import static org.assertj.core.api.Assertions.assertThat;

import datakit.testing.Datakits;
import datakit.testing.TestDatabase;
import datakit.testing.TestPostgres;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Reviewer probes of --from/--to that fail on cff9e25: bronze must hold exactly the source rows whose key is in
 * [from, to), compared as PostgreSQL routes rows (the key's full type, its collation and operator class, per level).
 */
class PartitionIntervalProbeIT {
    TestDatabase source;
    TestDatabase warehouse;
    Map<String, String> env;

    @BeforeEach
    void createDatabases() {
        source = TestPostgres.createDatabase("probe_src");
        warehouse = TestPostgres.createDatabase("probe_wh");
        env = Map.of("SOURCE_DATABASE_URL", source.url(), "WAREHOUSE_DATABASE_URL", warehouse.url());
        source.execute("CREATE SCHEMA sales");
    }

    Datakits.Run partitioned(String... args) {
        return Datakits.run("PostgresPartitioned", env, args);
    }

    /** id and key as text, from bronze and from the source with the interval's condition. */
    void assertLanded(String table, String key, String condition) {
        assertThat(warehouse.rows("SELECT id::text, " + key + "::text FROM bronze." + table + " ORDER BY id"))
            .isEqualTo(source.rows("SELECT id::text, " + key + "::text FROM sales." + table + " WHERE " + condition + " ORDER BY id"));
    }

    @Test
    void aCharKeyComparesWholeValues() {
        source.execute("""
            CREATE TABLE sales.codes (code char(3) NOT NULL, id int) PARTITION BY RANGE (code);
            CREATE TABLE sales.codes_a PARTITION OF sales.codes FOR VALUES FROM ('aaa') TO ('abm');
            CREATE TABLE sales.codes_b PARTITION OF sales.codes FOR VALUES FROM ('abm') TO ('b');
            CREATE TABLE sales.codes_rest PARTITION OF sales.codes DEFAULT;
            INSERT INTO sales.codes SELECT c, row_number() OVER ()
            FROM unnest(ARRAY['aaa', 'abb', 'abc', 'abd', 'abl', 'abm', 'abz', 'azz', 'baa', 'zzz']) c;
            """);

        var run = partitioned("--table", "sales.codes", "--from", "abc", "--to", "b");

        assertThat(run.exitCode()).as(run.toString()).isZero();
        assertLanded("codes", "code", "code >= 'abc' AND code < 'b'");
    }

    @Test
    void aCharKeyIntervalWithinOneFirstLetter() {
        source.execute("""
            CREATE TABLE sales.codes (code char(3) NOT NULL, id int) PARTITION BY RANGE (code);
            CREATE TABLE sales.codes_a PARTITION OF sales.codes FOR VALUES FROM ('aaa') TO ('b');
            CREATE TABLE sales.codes_rest PARTITION OF sales.codes DEFAULT;
            INSERT INTO sales.codes SELECT c, row_number() OVER () FROM unnest(ARRAY['aaa', 'abc', 'abd', 'abz']) c;
            """);

        var run = partitioned("--table", "sales.codes", "--from", "abc", "--to", "abz");

        assertThat(run.exitCode()).as(run.toString()).isZero();
        assertLanded("codes", "code", "code >= 'abc' AND code < 'abz'");
    }

    @Test
    void aBitKeyTakesItsValues() {
        source.execute("""
            CREATE TABLE sales.flags (f bit(4) NOT NULL, id int) PARTITION BY RANGE (f);
            CREATE TABLE sales.flags_low PARTITION OF sales.flags FOR VALUES FROM ('0000') TO ('1000');
            CREATE TABLE sales.flags_high PARTITION OF sales.flags FOR VALUES FROM ('1000') TO (MAXVALUE);
            INSERT INTO sales.flags VALUES ('0001', 1), ('0100', 2), ('1001', 3);
            """);

        var run = partitioned("--table", "sales.flags", "--from", "0010");

        assertThat(run.exitCode()).as(run.toString()).isZero();
        assertLanded("flags", "f", "f >= '0010'");
    }

    @Test
    void aKeyWithAPatternOperatorClassComparesByBytes() {
        // text_pattern_ops orders by bytes whatever the collation: 'B' < 'a' here, though ICU puts 'a' first.
        source.execute("""
            CREATE TABLE sales.pat (name text COLLATE "und-x-icu" NOT NULL, id int) PARTITION BY RANGE (name text_pattern_ops);
            CREATE TABLE sales.pat_upper PARTITION OF sales.pat FOR VALUES FROM ('A') TO ('[');
            CREATE TABLE sales.pat_lower PARTITION OF sales.pat FOR VALUES FROM ('a') TO ('{');
            CREATE TABLE sales.pat_rest PARTITION OF sales.pat DEFAULT;
            INSERT INTO sales.pat SELECT c, row_number() OVER () FROM unnest(ARRAY['a', 'A', 'b', 'B', 'm', 'M', 'z', 'Z', '_x', '1', '~']) c;
            """);

        var run = partitioned("--table", "sales.pat", "--from", "A", "--to", "c");

        assertThat(run.exitCode()).as(run.toString()).isZero();
        assertLanded("pat", "name", "name ~>=~ 'A' AND name ~<~ 'c'");
    }

    /** sales.names: ranges in "C" at the top, and below them a level keyed on the same column in ICU order. */
    void createNames() {
        // The top level orders names in "C" (upper case before lower case); the level below in ICU (a < A < b < B).
        source.execute("""
            CREATE TABLE sales.names (name text NOT NULL, id int) PARTITION BY RANGE (name COLLATE "C");
            CREATE TABLE sales.names_letters PARTITION OF sales.names FOR VALUES FROM ('A') TO ('{')
                PARTITION BY RANGE (name COLLATE "und-x-icu");
            CREATE TABLE sales.names_am PARTITION OF sales.names_letters FOR VALUES FROM ('a') TO ('n');
            CREATE TABLE sales.names_nz PARTITION OF sales.names_letters FOR VALUES FROM ('n') TO (MAXVALUE);
            CREATE TABLE sales.names_sub_rest PARTITION OF sales.names_letters DEFAULT;
            CREATE TABLE sales.names_rest PARTITION OF sales.names DEFAULT;
            INSERT INTO sales.names SELECT c, row_number() OVER ()
            FROM unnest(ARRAY['a', 'A', 'b', 'B', 'm', 'M', 'n', 'N', 'z', 'Z', '_x', '1', '~']) c;
            """);
    }

    @Test
    void aLevelBelowKeyedOnTheSameColumnInAnotherCollationTakesRowsOutsideTheInterval() {
        createNames();

        var lower = partitioned("--table", "sales.names", "--from", "a", "--to", "{", "--target-table", "names");
        assertThat(lower.exitCode()).as(lower.toString()).isZero();
        assertLanded("names", "name", "name COLLATE \"C\" >= 'a' AND name COLLATE \"C\" < '{'");
    }

    @Test
    void aLevelBelowKeyedOnTheSameColumnInAnotherCollationLeavesOutRowsInTheInterval() {
        createNames();

        var upper = partitioned("--table", "sales.names", "--from", "A", "--to", "a", "--target-table", "names");
        assertThat(upper.exitCode()).as(upper.toString()).isZero();
        assertLanded("names", "name", "name COLLATE \"C\" >= 'A' AND name COLLATE \"C\" < 'a'");
    }
}
