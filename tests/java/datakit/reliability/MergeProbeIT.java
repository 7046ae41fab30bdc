package datakit.reliability;

import static org.assertj.core.api.Assertions.assertThat;

import datakit.testing.Datakits;
import datakit.testing.SourceAndWarehouse;
import java.util.HashMap;
import java.util.Map;
import org.assertj.core.api.SoftAssertions;
import org.junit.jupiter.api.Test;

/**
 * Reviewer probes of the merged issue-14 work that expose defects (each fails on 428570e): a warehouse pool of one. (The
 * probe of a standby behind the last run lives on in StandbyIT.)
 */
class MergeProbeIT {
    /**
     * WAREHOUSE_PG_POOL_SIZE=1 is accepted, and a full extract runs with it (once migrated); an incremental run needed one
     * connection before issue 14 and now needs two (the lock's and the work's), so it waits for itself and fails with
     * "Cannot connect to the warehouse". CDC needed two before too.
     */
    @Test
    void incrementalAndCdcRunWithAWarehousePoolOfOne() {
        var db = SourceAndWarehouse.create("probe_pool1", "CREATE TABLE public.t (id int PRIMARY KEY, at timestamptz NOT NULL DEFAULT now())",
            "INSERT INTO public.t SELECT g FROM generate_series(1, 10) g");
        var migrate = Datakits.run("PostgresExtract", db.env(), "--table", "public.t", "--target-table", "first");
        assertThat(migrate.exitCode()).as(migrate.toString()).isZero();
        var env = new HashMap<>(db.env());
        env.putAll(Map.of("WAREHOUSE_PG_POOL_SIZE", "1", "WAREHOUSE_PG_CONNECT_TIMEOUT", "2", "WAREHOUSE_PG_MAX_RETRIES", "0"));
        var full = Datakits.run("PostgresExtract", env, "--table", "public.t");
        assertThat(full.exitCode()).as(full.toString()).isZero();
        var inc = Datakits.run("PostgresIncremental", env, "--table", "public.t", "--cursor-field", "at", "--target-table", "t_inc");
        String slot = "probe_pool1_" + db.source().name();
        try {
            var cdc = Datakits.run("PostgresCdc", env, "--table", "public.t", "--slot", slot);
            var soft = new SoftAssertions();
            soft.assertThat(inc.exitCode()).as(inc.toString()).isZero();
            soft.assertThat(cdc.exitCode()).as(cdc.toString()).isZero();
            soft.assertAll();
        } finally {
            db.source().dropReplicationSlots(slot);
        }
    }
}
