package datakit.ops;

import static org.assertj.core.api.Assertions.assertThat;

import datakit.testing.Datakits;
import datakit.testing.TestDatabase;
import datakit.testing.SourceAndWarehouse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** --metrics-file writes Prometheus text format that parses, for a run that succeeded and one that failed. */
class MetricsIT {
    /** A sample line: name{label="value",...} number. */
    static final String SAMPLE = "[a-zA-Z_:][a-zA-Z0-9_:]*\\{([a-zA-Z_][a-zA-Z0-9_]*=\"([^\"\\\\\\n]|\\\\[\\\\\"n])*\",?)*\\} -?[0-9]+(\\.[0-9]+)?";
    TestDatabase source;
    TestDatabase warehouse;
    Map<String, String> env;
    @TempDir
    Path dir;

    @BeforeEach
    void createDatabases() {
        var databases = SourceAndWarehouse.create("metrics",
            "CREATE TABLE public.items (id int PRIMARY KEY, name text)", "INSERT INTO items VALUES (1, 'one'), (2, 'two')");
        source = databases.source();
        warehouse = databases.warehouse();
        env = databases.env();
    }

    List<String> samples(Path file) throws Exception {
        List<String> lines = Files.readAllLines(file);
        for (String line : lines) {
            assertThat(line).as("a Prometheus text line").matches("# (HELP|TYPE) .*|" + SAMPLE);
        }
        return lines.stream().filter(l -> !l.startsWith("#")).toList();
    }

    @Test
    void aRunWritesItsFiguresAndAFailedRunSaysSo() throws Exception {
        Path file = dir.resolve("datakit.prom");
        var run = Datakits.run("PostgresExtract", env, "--table", "items", "--metrics-file", file.toString());
        assertThat(run.exitCode()).as(run.toString()).isZero();
        assertThat(samples(file)).contains("datakit_run_success{datakit=\"postgres-extract\",stream=\"bronze.items\"} 1",
            "datakit_rows{datakit=\"postgres-extract\",stream=\"bronze.items\"} 2")
            .anyMatch(l -> l.startsWith("datakit_duration_seconds{datakit=\"postgres-extract\",stream=\"bronze.items\"} "));

        var failed = Datakits.run("PostgresExtract", env, "--table", "missing", "--metrics-file", file.toString());
        assertThat(failed.exitCode()).isEqualTo(2);
        assertThat(samples(file)).contains("datakit_run_success{datakit=\"postgres-extract\"} 0");
        assertThat(Files.list(dir).map(p -> p.getFileName().toString()).toList()).containsExactly("datakit.prom");

        // Options checked before anything connects fail the run too: the scheduler's metrics say so.
        Files.delete(file);
        var misconfigured = Datakits.run("PostgresExtract", env, "--metrics-file", file.toString());
        assertThat(misconfigured.exitCode()).isEqualTo(2);
        assertThat(misconfigured.err()).contains("Nothing to read.");
        assertThat(samples(file)).contains("datakit_run_success{datakit=\"postgres-extract\"} 0");
    }
}
