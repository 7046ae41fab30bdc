package datakit.migrate;

import static org.assertj.core.api.Assertions.assertThat;

import datakit.testing.Datakits;
import datakit.testing.TestDatabase;
import datakit.testing.TestPostgres;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** bronze-migrate prepares several bronze schemas, lists pending work on a dry run, and is idempotent. */
class BronzeMigrateIT {

    @Test
    void migratesEachSchemaOnceAndADryRunOnlyLists() {
        TestDatabase warehouse = TestPostgres.createDatabase("migrate_wh");
        var env = Map.of("WAREHOUSE_DATABASE_URL", warehouse.url());

        var dry = Datakits.run("BronzeMigrate", env, "--target-schema", "bronze,raw_crm", "--dry-run");
        assertThat(dry.exitCode()).as(dry.toString()).isZero();
        assertThat(dry.out()).contains("bronze on ", "would apply V1 create bookkeeping tables, V2 staged run status, V3 json key profiles, V4 bronze rejects, V5 json key paths of any length, V6 schema changes, V7 table set runs, bronze views (repeatable)");
        assertThat(warehouse.value("SELECT count(*) FROM pg_namespace WHERE nspname IN ('bronze', 'raw_crm')")).isEqualTo("0");

        var first = Datakits.run("BronzeMigrate", env, "--target-schema", "bronze,raw_crm");
        assertThat(first.exitCode()).as(first.toString()).isZero();
        assertThat(first.out()).contains("raw_crm on ", "applied V1 create bookkeeping tables");
        for (String schema : List.of("bronze", "raw_crm")) {
            assertThat(warehouse.rows("SELECT tablename FROM pg_tables WHERE schemaname = '" + schema + "' ORDER BY 1"))
                .containsExactly(List.of("_bronze_rejects"), List.of("extraction_checkpoints"), List.of("extraction_json_keys"),
                    List.of("extraction_runs"), List.of("flyway_schema_history"), List.of("schema_changes"), List.of("table_set_runs"));
        }

        var again = Datakits.run("BronzeMigrate", env, "--target-schema", "raw_crm", "--json");
        assertThat(again.exitCode()).isZero();
        assertThat(again.out()).contains("\"status\":\"succeeded\"", "\"applied\":{\"raw_crm\":[]}");
    }
}
