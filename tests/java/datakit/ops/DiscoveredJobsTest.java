package datakit.ops;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import datakit.error.DatakitException;
import datakit.jobs.JobFile;
import datakit.run.LoadChoice;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The job file --emit-jobs writes reads back in bronze-jobs' own reader as the rule chose, hostile names included. */
class DiscoveredJobsTest {
    static final Set<String> DATAKITS = Set.of("postgres-extract", "postgres-incremental", "postgres-partitioned", "postgres-jsonb", "postgres-cdc");
    @TempDir
    Path dir;

    static Map<String, Object> table(String schema, String name, String kind, long bytes, List<String> key, boolean partitioned) {
        var t = new LinkedHashMap<String, Object>();
        t.put("schema", schema);
        t.put("table", name);
        t.put("kind", kind);
        t.put("estimated_rows", null);
        t.put("size_bytes", bytes);
        t.put("primary_key", key);
        if (partitioned) {
            t.put("partitioning", Map.of("strategy", "range", "key", "RANGE (at)", "partitions", 12L));
        }
        t.put("columns", List.of(Map.of("name", "id", "type", "bigint", "nullable", false), Map.of("name", "on", "type", "text", "nullable", true)));
        t.put("cursor_candidates", List.of());
        return t;
    }

    @Test
    void theFileReadsBackInBronzeJobsReaderWithTheChosenDatakitsAndOptions() throws Exception {
        var emitted = DiscoveredJobs.emitted("db:5432/x", List.of("Sales"), List.of(
            table("Sales", "events", "partitioned table", 2 * LoadChoice.PARTITIONED_FROM_BYTES, List.of("id"), true),
            table("Sales", "on", "table", 8192, List.of(), false),
            table("Sales", "a\"b\nc: #d", "table", 8192, List.of("id"), false),
            table("Sales", "cost ${HOME}", "table", 8192, List.of("id"), false),
            table("Sales", "v", "materialized view", 8192, List.of(), false)));
        Path file = dir.resolve("jobs.yml");
        Files.writeString(file, emitted.yaml());
        var jobs = JobFile.read(file, DATAKITS, name -> null);

        assertThat(jobs.streams().keySet()).containsExactly("a\"b\nc: #d", "events", "on");
        assertThat(jobs.streams().get("events").datakit()).isEqualTo("postgres-partitioned");
        assertThat(jobs.streams().get("events").arguments()).containsExactly("--table", "\"Sales\".events");
        assertThat(jobs.streams().get("on").arguments()).containsExactly("--table", "\"Sales\".on");
        assertThat(jobs.streams().get("a\"b\nc: #d").arguments())
            .containsExactly("--table", "\"Sales\".\"a\"\"b\nc: #d\"", "--sync-mode", "xmin", "--mode", "merge");
        assertThat(emitted.leftOut()).containsExactly("table \"Sales\".\"cost ${HOME}\" (its name holds ${, which a job file reads as a variable)",
            "materialized view \"Sales\".v");
        // A newline in a name stays inside its comment line.
        assertThat(emitted.yaml().lines().filter(l -> !l.isBlank())).allMatch(l -> l.startsWith("#") || l.startsWith(" ") || l.matches("[a-z]+:.*"));
    }

    @Test
    void nothingToLoadIsRefused() {
        assertThatThrownBy(() -> DiscoveredJobs.emitted("db:5432/x", List.of("empty"), List.of()))
            .isInstanceOf(DatakitException.class).hasMessage("schema empty of db:5432/x holds no table to load, so there is no job file to write. "
                + "Check --schema: names fold to lower case unless quoted (--schema '\"Sales\"').");
    }
}
