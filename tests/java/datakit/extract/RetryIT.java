package datakit.extract;

import static org.assertj.core.api.Assertions.assertThat;

import datakit.testing.Datakits;
import datakit.testing.TestDatabase;
import datakit.testing.TestPostgres;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** A connection lost in the middle of a COPY is retried from the start on fresh connections, and the load lands once. */
class RetryIT {

    @Test
    void aSourceBackendTerminatedMidCopyIsRetriedAndTheLoadLandsOnce() throws Exception {
        TestDatabase source = bigSource("retry_src");
        TestDatabase warehouse = TestPostgres.createDatabase("retry_wh");
        var env = Map.of("SOURCE_DATABASE_URL", source.url() + "?application_name=retry-victim", "WAREHOUSE_DATABASE_URL", warehouse.url());

        var result = runAndTerminateCopy(env, source, "retry-victim", "--mode", "append");

        assertThat(warehouse.count("bronze.big")).isEqualTo(400000);
        assertThat(warehouse.value("SELECT count(DISTINCT id) FROM bronze.big")).isEqualTo("400000");
        assertThat(warehouse.value("SELECT status FROM bronze.extraction_runs")).isEqualTo("succeeded");
        assertThat(result.err()).contains("attempt 2 of the load of bronze.big");
    }

    @Test
    void aWarehouseBackendTerminatedMidCopyIsRetriedOnFreshConnections() throws Exception {
        TestDatabase source = bigSource("retry2_src");
        TestDatabase warehouse = TestPostgres.createDatabase("retry2_wh");
        var env = Map.of("SOURCE_DATABASE_URL", source.url(), "WAREHOUSE_DATABASE_URL", warehouse.url() + "?application_name=retry-warehouse");

        var result = runAndTerminateCopy(env, warehouse, "retry-warehouse");

        assertThat(warehouse.count("bronze.big")).isEqualTo(400000);
        assertThat(warehouse.value("SELECT count(*) FROM pg_tables WHERE tablename LIKE '\\_bronze\\_staging%'")).isEqualTo("0");
        assertThat(result.err()).contains("attempt 2 of the load of bronze.big");
    }

    /**
     * Chunk "6-end" commits in the exported snapshot; then the source's backends are terminated while chunk "0-5" is copied: the
     * snapshot's exporting session too, so no retry can import it again. The load goes on in a new snapshot and copies the
     * staged chunk again.
     */
    @Test
    void aPartitionedLoadWhoseSnapshotWasLostGoesOnInANewOneCopyingItsStagedPartsAgain() throws Exception {
        TestDatabase source = TestPostgres.createDatabase("retry3_src");
        TestDatabase warehouse = TestPostgres.createDatabase("retry3_wh");
        source.execute("CREATE TABLE items (id int PRIMARY KEY, pad text)",
            "INSERT INTO items SELECT g, repeat('x', 400) FROM generate_series(1, 230) g", "VACUUM ANALYZE items");
        var env = Map.of("SOURCE_DATABASE_URL", source.url() + "?application_name=retry-parts", "WAREHOUSE_DATABASE_URL", warehouse.url());
        var run = CompletableFuture.supplyAsync(() -> Datakits.run("PostgresPartitioned", env, "--table", "items", "--chunks", "2",
            "--parallelism", "1", "--where", "pg_sleep(0.01) IS NOT NULL"));
        String terminated = "f";
        for (int i = 0; i < 1000 && terminated.equals("f") && !run.isDone(); i++) {
            terminated = source.value("""
                SELECT coalesce(bool_or(pg_terminate_backend(pid)), false) FROM pg_stat_activity WHERE application_name = 'retry-parts'
                  AND EXISTS (SELECT FROM pg_stat_activity WHERE application_name = 'retry-parts' AND query LIKE 'COPY%(0,0)%' AND state = 'active')""");
            Thread.sleep(10);
        }

        var result = run.get(2, TimeUnit.MINUTES);

        assertThat(terminated).as("the source's backends were terminated during the second chunk").isEqualTo("t");
        assertThat(result.exitCode()).as(result.toString()).isZero();
        assertThat(result.err()).contains("in a new snapshot: the part this run staged in the one that ended is copied again");
        assertThat(warehouse.rows("SELECT id FROM bronze.items ORDER BY id")).isEqualTo(source.rows("SELECT id FROM items ORDER BY id"));
        assertThat(warehouse.rows("SELECT details->>'copied', details->>'resumed' FROM bronze.extraction_runs")).containsExactly(List.of("2", "0"));
    }

    private static TestDatabase bigSource(String prefix) {
        TestDatabase source = TestPostgres.createDatabase(prefix);
        source.execute("CREATE TABLE public.big (id bigint, payload text)",
            "INSERT INTO public.big SELECT g, repeat(md5(g::text), 8) FROM generate_series(1, 400000) g");
        return source;
    }

    /** Runs the extract and terminates the backend of {@code database} that runs its COPY, once. */
    private static Datakits.Run runAndTerminateCopy(Map<String, String> env, TestDatabase database, String applicationName,
                                                    String... extraArgs) throws Exception {
        String[] args = new String[extraArgs.length + 2];
        args[0] = "--table";
        args[1] = "big";
        System.arraycopy(extraArgs, 0, args, 2, extraArgs.length);
        var run = CompletableFuture.supplyAsync(() -> Datakits.run("PostgresExtract", env, args));
        String terminated = "f";
        for (int i = 0; i < 400 && terminated.equals("f") && !run.isDone(); i++) {
            terminated = database.value("""
                SELECT coalesce(bool_or(pg_terminate_backend(pid)), false) FROM pg_stat_activity
                WHERE application_name = '%s' AND query LIKE 'COPY%%' AND state = 'active'""".formatted(applicationName));
            Thread.sleep(10);
        }
        var result = run.get(2, TimeUnit.MINUTES);
        assertThat(terminated).as("a COPY was terminated while running").isEqualTo("t");
        assertThat(result.exitCode()).as(result.toString()).isZero();
        return result;
    }
}
