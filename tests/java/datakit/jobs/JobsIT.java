package datakit.jobs;

import static org.assertj.core.api.Assertions.assertThat;

import datakit.testing.Datakits;
import datakit.testing.SourceAndWarehouse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** bronze-jobs: dependency order, bounded parallelism, failure propagation, ${ENV} values and validation messages. */
class JobsIT {
    SourceAndWarehouse db;
    @TempDir
    Path dir;

    @BeforeEach
    void createDatabases() {
        db = SourceAndWarehouse.create("jobs", "CREATE TABLE public.customers (id int PRIMARY KEY, name text)",
            "CREATE TABLE public.orders (id int PRIMARY KEY, customer_id int, amount numeric)",
            "INSERT INTO customers SELECT g, 'c' || g FROM generate_series(1, 10) g",
            "INSERT INTO orders SELECT g, g % 10 + 1, g FROM generate_series(1, 100) g");
    }

    Datakits.Run jobs(String yaml, String... extra) throws Exception {
        Path file = dir.resolve("jobs.yml");
        Files.writeString(file, yaml);
        var env = new HashMap<>(db.env());
        env.put("JOBS_SCHEMA", "bronze");
        env.put("JOBS_SOURCE", db.source().url());
        // A stream's own source: URL wins over the runner's SOURCE_PG_* parts.
        env.put("SOURCE_PG_DATABASE", "no_such_database");
        String[] args = new String[extra.length + 2];
        args[0] = "--file";
        args[1] = file.toString();
        System.arraycopy(extra, 0, args, 2, extra.length);
        return Datakits.run("BronzeJobs", env, args);
    }

    @Test
    void streamsRunInDependencyOrderAndAFailureStopsOnlyItsDependants() throws Exception {
        var run = jobs("""
            parallelism: 2
            defaults:
              target-schema: ${JOBS_SCHEMA}
              source: ${JOBS_SOURCE}
            streams:
              customers: {datakit: postgres-extract, options: {table: customers}}
              orders: {datakit: postgres-extract, options: {table: orders}}
              facts:
                datakit: postgres-extract
                options: {query: "SELECT 1 AS one", target-table: facts}
                depends_on: [orders, customers]
              broken: {datakit: postgres-extract, options: {table: missing}}
              after_broken: {datakit: postgres-extract, options: {table: orders, target-table: orders_again}, depends_on: broken}
            """);

        assertThat(run.exitCode()).as(run.toString()).isEqualTo(1);
        assertThat(run.out()).startsWith("bronze-jobs: failed").containsPattern("facts\\s+postgres-extract\\s+succeeded")
            .containsPattern("broken\\s+postgres-extract\\s+failed.*Table public.missing does not exist")
            .containsPattern("after_broken\\s+postgres-extract\\s+skipped\\s+skipped: broken failed");
        assertThat(db.warehouse().value("SELECT count(*) FROM bronze.orders")).isEqualTo("100");
        assertThat(db.warehouse().value("SELECT to_regclass('bronze.orders_again') IS NULL")).isEqualTo("t");
        // facts started only after both of its dependencies had ended.
        assertThat(db.warehouse().value("SELECT (SELECT started_at FROM bronze.extraction_runs WHERE stream = 'bronze.facts') >= "
            + "(SELECT max(ended_at) FROM bronze.extraction_runs WHERE stream IN ('bronze.orders', 'bronze.customers'))")).isEqualTo("t");
    }

    @Test
    void badJobFilesNameTheFileTheStreamAndTheKey() throws Exception {
        Map<String, String> cases = Map.of(
            "streams: {a: {datakit: postgres-extract, opts: {table: orders}}}", "stream a: unknown key opts",
            "streams: {a: {datakit: postgres-nothing}}", "stream a: datakit postgres-nothing is not one the runner knows",
            "streams: {a: {datakit: postgres-extract, options: {table: orders}, depends_on: b}}", "stream a: depends_on names b, which is not",
            "streams: {a: {datakit: postgres-extract, depends_on: b}, b: {datakit: postgres-extract, depends_on: a}}", "in a cycle",
            "streams: {a: {datakit: postgres-extract, options: {table: '${NOT_SET_ANYWHERE}'}}}",
            "stream a: options.table: ${NOT_SET_ANYWHERE} is not set in the environment",
            "streams: [", "is not valid YAML or JSON");
        for (var c : cases.entrySet()) {
            var run = jobs(c.getKey());
            assertThat(run.exitCode()).as(c.getKey() + "\n" + run).isEqualTo(2);
            assertThat(run.err()).as(c.getKey()).contains("jobs.yml").contains(c.getValue());
            assertThat(run.err().strip().lines().toList()).hasSize(1);
        }
        assertThat(db.warehouse().value("SELECT to_regclass('bronze.extraction_runs') IS NULL")).isEqualTo("t");
        assertThat(List.of(dir.toFile().list())).containsExactly("jobs.yml");
    }
}
