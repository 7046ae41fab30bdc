package datakit.reliability;

import static org.assertj.core.api.Assertions.assertThat;

import datakit.testing.Datakits;
import datakit.testing.SourceAndWarehouse;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Two schedulers starting the same stream: the second finds the first's lock in the warehouse and exits
 * with code 3 and one line naming the run in progress; the first is not disturbed. (Incremental:
 * IncrementalKillIT; CDC, a slot in use: CdcIT; partitioned processes of one stream share the load and
 * copy each part once by design: PartitionedResumeIT.)
 */
class ConcurrencyIT {

    @Test
    void aSecondFullExtractOfTheSameStreamExitsWithAClearMessage() throws Exception {
        var db = SourceAndWarehouse.create("twice", FaultsIT.BIG_TABLE);
        var first = CompletableFuture.supplyAsync(() -> Datakits.run("PostgresExtract", db.env(), "--table", "big"));
        FaultsIT.awaitCopy(db.warehouse(), first);

        var second = Datakits.run("PostgresExtract", db.env(), "--table", "big");

        assertThat(second.exitCode()).as(second.toString()).isEqualTo(3);
        String running = db.warehouse().value("SELECT run_id FROM bronze.extraction_runs ORDER BY started_at LIMIT 1");
        assertThat(second.err().strip()).matches("ERROR: Another run of bronze\\.big is in progress \\(run " + running
            + ", started [0-9-]+ [0-9:]+ UTC\\)\\. Wait for it to finish, or stop it first\\.");
        var done = first.get(2, TimeUnit.MINUTES);
        assertThat(done.exitCode()).as(done.toString()).isZero();
        assertThat(db.warehouse().count("bronze.big")).isEqualTo(400000);
        assertThat(db.warehouse().rows("SELECT status FROM bronze.extraction_runs ORDER BY started_at"))
            .containsExactly(List.of("succeeded"), List.of("failed"));
    }
}
