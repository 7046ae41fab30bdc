package datakit.ops;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import datakit.testing.Datakits;
import datakit.testing.TestDatabase;
import datakit.testing.TestPostgres;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** postgres-discover on a schema with a partitioned table, odd names, a view and cursor columns. */
class DiscoverIT {
    static final ObjectMapper JSON = new ObjectMapper();
    TestDatabase source;

    @BeforeEach
    void createSource() {
        source = TestPostgres.createDatabase("discover_src");
        source.execute("CREATE SCHEMA \"Sales Data\"",
            "CREATE TABLE \"Sales Data\".\"Order Lines\" (\"Line Id\" bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "
                + "\"ÄÖü;'x\" text NOT NULL, updated_at timestamptz, amount numeric(12,2))",
            "CREATE INDEX ON \"Sales Data\".\"Order Lines\" (updated_at)",
            "INSERT INTO \"Sales Data\".\"Order Lines\" (\"ÄÖü;'x\", updated_at) SELECT 'v' || g, now() FROM generate_series(1, 500) g",
            "CREATE TABLE \"Sales Data\".events (id int, at date NOT NULL, PRIMARY KEY (id, at)) PARTITION BY RANGE (at)",
            "CREATE TABLE \"Sales Data\".events_2026_01 PARTITION OF \"Sales Data\".events FOR VALUES FROM ('2026-01-01') TO ('2026-02-01')",
            "CREATE TABLE \"Sales Data\".events_2026_02 PARTITION OF \"Sales Data\".events FOR VALUES FROM ('2026-02-01') TO ('2026-03-01')",
            "INSERT INTO \"Sales Data\".events SELECT g, date '2026-01-01' + g % 50 FROM generate_series(1, 1000) g",
            "CREATE VIEW \"Sales Data\".recent AS SELECT * FROM \"Sales Data\".\"Order Lines\"",
            "ANALYZE");
    }

    @Test
    void listsTablesColumnsKeysPartitionsAndCursorCandidates() throws Exception {
        var run = Datakits.run("PostgresDiscover", Map.of("SOURCE_DATABASE_URL", source.url()), "--schema", "\"Sales Data\"", "--json");
        assertThat(run.exitCode()).as(run.toString()).isZero();
        JsonNode tables = JSON.readTree(run.out()).path("tables");

        List<String> names = new ArrayList<>();
        tables.forEach(t -> names.add(t.path("schema").asText() + "." + t.path("table").asText() + " " + t.path("kind").asText()));
        assertThat(names).containsExactly("Sales Data.Order Lines table", "Sales Data.events partitioned table", "Sales Data.recent view");

        JsonNode lines = tables.get(0);
        assertThat(lines.path("primary_key").toString()).isEqualTo("[\"Line Id\"]");
        assertThat(lines.path("estimated_rows").asLong()).isEqualTo(500);
        assertThat(lines.path("size_bytes").asLong()).isPositive();
        assertThat(lines.path("columns").get(1).toString()).isEqualTo("{\"name\":\"ÄÖü;'x\",\"type\":\"text\",\"nullable\":false}");
        assertThat(lines.path("cursor_candidates").toString())
            .isEqualTo("[{\"column\":\"updated_at\",\"type\":\"timestamp with time zone\",\"why\":\"leads an index\"},"
                + "{\"column\":\"Line Id\",\"type\":\"bigint\",\"why\":\"identity\"}]");

        JsonNode events = tables.get(1);
        assertThat(events.path("partitioning").path("strategy").asText()).isEqualTo("range");
        assertThat(events.path("partitioning").path("partitions").asLong()).isEqualTo(2);
        assertThat(events.path("partitioning").path("key").asText()).isEqualTo("RANGE (\"at\")".replace("\"", ""));
        assertThat(events.path("estimated_rows").asLong()).isEqualTo(1000);

        var human = Datakits.run("PostgresDiscover", Map.of("SOURCE_DATABASE_URL", source.url()), "--schema", "\"Sales Data\"");
        assertThat(human.exitCode()).as(human.toString()).isZero();
        assertThat(human.out()).contains("\"Sales Data\".\"Order Lines\"  (table, ~500 rows").contains("partitioned   by range RANGE (at), 2 partitions")
            .contains("cursor        updated_at (timestamp with time zone, leads an index)");
    }

    @Test
    void aSchemaThatDoesNotExistListsNothingAndABadNameFails() {
        var none = Datakits.run("PostgresDiscover", Map.of("SOURCE_DATABASE_URL", source.url()), "--schema", "nope");
        assertThat(none.exitCode()).isZero();
        assertThat(none.out()).startsWith("postgres-discover: 0 tables and views");
        var bad = Datakits.run("PostgresDiscover", Map.of("SOURCE_DATABASE_URL", source.url()), "--schema", "a.b");
        assertThat(bad.exitCode()).isEqualTo(2);
        assertThat(bad.err()).contains("--schema");
    }
}
