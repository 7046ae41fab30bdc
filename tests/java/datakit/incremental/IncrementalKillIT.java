package datakit.incremental;

import static org.assertj.core.api.Assertions.assertThat;

import datakit.testing.Datakits;
import datakit.testing.TestDatabase;
import datakit.testing.TestPostgres;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * An incremental run killed with SIGKILL (no clean shutdown, no exception handler) resumes from its last
 * committed chunk: bronze ends exactly equal to the source in merge mode, without gaps or duplicates in
 * append mode; and two runs started together never load a row twice.
 */
class IncrementalKillIT {
    static final int ROWS = 120_000;

    TestDatabase source() {
        TestDatabase source = TestPostgres.createDatabase("kill_src");
        source.execute("CREATE TABLE public.events (id bigint PRIMARY KEY, payload text, changed_at timestamptz NOT NULL)",
            "INSERT INTO public.events SELECT g, repeat(md5(g::text), 4), timestamptz '2026-01-01' + (g / 7) * interval '1 s' "
                + "FROM generate_series(1, " + ROWS + ") g",
            "CREATE INDEX ON public.events (changed_at, id)");
        return source;
    }

    /** Starts the datakit in its own JVM, as a scheduler would. */
    static Process start(Map<String, String> env, String... args) throws Exception {
        return Datakits.start("PostgresIncremental", env, args);
    }

    void killAfterRows(TestDatabase warehouse, Process process, long rows) throws Exception {
        for (int i = 0; i < 3000 && process.isAlive(); i++) {
            if (warehouse.value("SELECT to_regclass('bronze.extraction_runs') IS NOT NULL").equals("t")
                && Long.parseLong(warehouse.value("SELECT coalesce(max(rows_loaded), 0) FROM bronze.extraction_runs WHERE status = 'running'")) >= rows) {
                break;
            }
            Thread.sleep(10);
        }
        assertThat(process.isAlive()).as("still running when killed").isTrue();
        process.destroyForcibly(); // SIGKILL
        process.waitFor(30, TimeUnit.SECONDS);
    }

    @Test
    void aRunKilledMidwayResumesAtItsLastChunkAndBronzeEqualsTheSource() throws Exception {
        TestDatabase source = source();
        TestDatabase warehouse = TestPostgres.createDatabase("kill_wh");
        var env = Map.of("SOURCE_DATABASE_URL", source.url(), "WAREHOUSE_DATABASE_URL", warehouse.url());
        String[] merge = {"--table", "events", "--cursor-field", "changed_at", "--chunk-rows", "10000"};

        killAfterRows(warehouse, start(env, merge), 20_000);
        long committed = Long.parseLong(warehouse.value("SELECT count(*) FROM bronze.events"));
        assertThat(committed).as("whole chunks only").isPositive().isLessThan(ROWS).matches(n -> n % 10_000 == 0);
        source.execute("UPDATE public.events SET payload = 'changed', changed_at = changed_at + interval '1 day' WHERE id % 1000 = 0");

        var resumed = Datakits.run("PostgresIncremental", env, merge);

        assertThat(resumed.exitCode()).as(resumed.toString()).isZero();
        assertThat(warehouse.rows("SELECT id, payload, changed_at FROM bronze.events ORDER BY id"))
            .isEqualTo(source.rows("SELECT id, payload, changed_at FROM public.events ORDER BY id"));
        assertThat(warehouse.rows("SELECT status FROM bronze.extraction_runs ORDER BY started_at"))
            .containsExactly(List.of("abandoned"), List.of("succeeded"));
    }

    @Test
    void anAppendRunKilledTwiceLeavesNoGapAndNoDuplicate() throws Exception {
        TestDatabase source = source();
        TestDatabase warehouse = TestPostgres.createDatabase("kill_wh");
        var env = Map.of("SOURCE_DATABASE_URL", source.url(), "WAREHOUSE_DATABASE_URL", warehouse.url());
        String[] append = {"--table", "events", "--cursor-field", "changed_at", "--chunk-rows", "8000", "--mode", "append"};

        killAfterRows(warehouse, start(env, append), 8_000);
        killAfterRows(warehouse, start(env, append), 16_000);
        var last = Datakits.run("PostgresIncremental", env, append);

        assertThat(last.exitCode()).as(last.toString()).isZero();
        assertThat(warehouse.value("SELECT count(*) FROM bronze.events")).isEqualTo(String.valueOf(ROWS));
        assertThat(warehouse.value("SELECT count(DISTINCT id) FROM bronze.events")).isEqualTo(String.valueOf(ROWS));
    }

    @Test
    void twoRunsStartedTogetherNeverLoadARowTwice() throws Exception {
        TestDatabase source = source();
        TestDatabase warehouse = TestPostgres.createDatabase("race_wh");
        var env = Map.of("SOURCE_DATABASE_URL", source.url(), "WAREHOUSE_DATABASE_URL", warehouse.url());
        String[] append = {"--table", "events", "--cursor-field", "changed_at", "--chunk-rows", "20000", "--mode", "append"};
        Datakits.run("BronzeMigrate", Map.of("WAREHOUSE_DATABASE_URL", warehouse.url()));

        var first = CompletableFuture.supplyAsync(() -> Datakits.run("PostgresIncremental", env, append));
        var second = CompletableFuture.supplyAsync(() -> Datakits.run("PostgresIncremental", env, append));
        var results = List.of(first.get(2, TimeUnit.MINUTES), second.get(2, TimeUnit.MINUTES));

        assertThat(results).extracting(Datakits.Run::exitCode).containsAnyOf(0).allMatch(code -> code == 0 || code == 3);
        results.stream().filter(r -> r.exitCode() == 3)
            .forEach(r -> assertThat(r.err()).contains("Another run of bronze.events is in progress"));
        assertThat(warehouse.value("SELECT count(*) FROM bronze.events")).isEqualTo(String.valueOf(ROWS));
        assertThat(warehouse.value("SELECT count(DISTINCT id) FROM bronze.events")).isEqualTo(String.valueOf(ROWS));
    }
}
