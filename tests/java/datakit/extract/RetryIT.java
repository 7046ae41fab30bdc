package datakit.extract;

import static org.assertj.core.api.Assertions.assertThat;

import datakit.testing.Datakits;
import datakit.testing.TestDatabase;
import datakit.testing.TestPostgres;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** A connection lost in the middle of a COPY is retried from the start, and the load lands once. */
class RetryIT {

    @Test
    void aSourceBackendTerminatedMidCopyIsRetriedAndTheLoadLandsOnce() throws Exception {
        TestDatabase source = TestPostgres.createDatabase("retry_src");
        TestDatabase warehouse = TestPostgres.createDatabase("retry_wh");
        source.execute("CREATE TABLE public.big (id bigint, payload text)",
            "INSERT INTO public.big SELECT g, repeat(md5(g::text), 8) FROM generate_series(1, 400000) g");
        var env = Map.of("SOURCE_DATABASE_URL", source.url() + "?application_name=retry-victim",
            "WAREHOUSE_DATABASE_URL", warehouse.url());

        var run = CompletableFuture.supplyAsync(() -> Datakits.run("PostgresExtract", env, "--table", "big", "--mode", "append"));
        String terminated = "f";
        for (int i = 0; i < 400 && terminated.equals("f") && !run.isDone(); i++) {
            terminated = source.value("""
                SELECT coalesce(bool_or(pg_terminate_backend(pid)), false) FROM pg_stat_activity
                WHERE application_name = 'retry-victim' AND query LIKE 'COPY%' AND state = 'active'""");
            Thread.sleep(10);
        }
        var result = run.get(2, TimeUnit.MINUTES);

        assertThat(terminated).as("the source COPY was terminated while running").isEqualTo("t");
        assertThat(result.exitCode()).as(result.toString()).isZero();
        assertThat(result.err()).contains("attempt 2 of the load of bronze.big");
        assertThat(warehouse.count("bronze.big")).isEqualTo(400000);
        assertThat(warehouse.value("SELECT count(DISTINCT id) FROM bronze.big")).isEqualTo("400000");
        assertThat(warehouse.value("SELECT status FROM bronze.extraction_runs")).isEqualTo("succeeded");
    }

    @Test
    void aWarehouseBackendTerminatedMidCopyIsRetriedOnFreshConnections() throws Exception {
        TestDatabase source = TestPostgres.createDatabase("retry2_src");
        TestDatabase warehouse = TestPostgres.createDatabase("retry2_wh");
        source.execute("CREATE TABLE public.big (id bigint, payload text)",
            "INSERT INTO public.big SELECT g, repeat(md5(g::text), 8) FROM generate_series(1, 400000) g");
        var env = Map.of("SOURCE_DATABASE_URL", source.url(),
            "WAREHOUSE_DATABASE_URL", warehouse.url() + "?application_name=retry-warehouse");

        var run = CompletableFuture.supplyAsync(() -> Datakits.run("PostgresExtract", env, "--table", "big"));
        String terminated = "f";
        for (int i = 0; i < 400 && terminated.equals("f") && !run.isDone(); i++) {
            terminated = warehouse.value("""
                SELECT coalesce(bool_or(pg_terminate_backend(pid)), false) FROM pg_stat_activity
                WHERE application_name = 'retry-warehouse' AND query LIKE 'COPY%' AND state = 'active'""");
            Thread.sleep(10);
        }
        var result = run.get(2, TimeUnit.MINUTES);

        assertThat(terminated).as("the warehouse COPY was terminated while running").isEqualTo("t");
        assertThat(result.exitCode()).as(result.toString()).isZero();
        assertThat(result.err()).contains("attempt 2 of the load of bronze.big");
        assertThat(warehouse.count("bronze.big")).isEqualTo(400000);
        assertThat(warehouse.value("SELECT count(*) FROM pg_tables WHERE tablename LIKE '\\_bronze\\_staging%'")).isEqualTo("0");
    }
}
