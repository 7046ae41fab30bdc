package datakit.extract;

import static org.assertj.core.api.Assertions.assertThat;

import datakit.testing.Datakits;
import datakit.testing.TestDatabase;
import datakit.testing.TestPostgres;
import java.sql.ResultSet;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

/**
 * A reader querying the bronze table while replace runs sees the old table or the new one, whole:
 * never an empty table, a partial load, or a missing table.
 */
class ReplaceAtomicityIT {

    @Test
    void aConcurrentReaderSeesTheOldOrTheNewTableNeverAPartialOne() throws Exception {
        TestDatabase source = TestPostgres.createDatabase("atomic_src");
        TestDatabase warehouse = TestPostgres.createDatabase("atomic_wh");
        source.execute("CREATE TABLE public.events (id bigint, payload text)",
            "INSERT INTO public.events SELECT g, repeat('x', 100) FROM generate_series(1, 200000) g");
        var env = Map.of("SOURCE_DATABASE_URL", source.url(), "WAREHOUSE_DATABASE_URL", warehouse.url());
        assertThat(Datakits.run("PostgresExtract", env, "--table", "events").exitCode()).isZero();

        Set<Long> seen = ConcurrentHashMap.newKeySet();
        List<Throwable> readerErrors = new ArrayList<>();
        var stop = new AtomicBoolean();
        Thread reader = new Thread(() -> {
            try (var c = warehouse.connect(); var st = c.createStatement()) {
                while (!stop.get()) {
                    try (ResultSet rs = st.executeQuery("SELECT count(*), count(DISTINCT _bronze_run_id) FROM bronze.events")) {
                        rs.next();
                        seen.add(rs.getLong(1));
                        assertThat(rs.getLong(2)).isEqualTo(1);
                    }
                }
            } catch (Throwable e) {
                synchronized (readerErrors) {
                    readerErrors.add(e);
                }
            }
        });
        reader.start();
        for (int round = 0; round < 3; round++) {
            source.execute(round % 2 == 0 ? "DELETE FROM public.events WHERE id > 150000"
                : "INSERT INTO public.events SELECT g, repeat('y', 100) FROM generate_series(150001, 200000) g");
            var run = Datakits.run("PostgresExtract", env, "--table", "events");
            assertThat(run.exitCode()).as(run.toString()).isZero();
        }
        stop.set(true);
        reader.join();

        assertThat(readerErrors).isEmpty();
        assertThat(seen).isSubsetOf(150000L, 200000L).contains(150000L, 200000L);
    }
}
