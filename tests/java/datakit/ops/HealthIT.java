package datakit.ops;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import datakit.testing.Datakits;
import datakit.testing.TestDatabase;
import datakit.testing.SourceAndWarehouse;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** postgres-health on a healthy setup, one with a slot behind and a failed stream, and one it cannot reach. */
class HealthIT {
    static final ObjectMapper JSON = new ObjectMapper();
    TestDatabase source;
    TestDatabase warehouse;
    Map<String, String> env;
    String slot;

    @BeforeEach
    void createDatabases() {
        var databases = SourceAndWarehouse.create("health",
            "CREATE TABLE public.items (id int PRIMARY KEY, name text)", "INSERT INTO items VALUES (1, 'one')");
        source = databases.source();
        warehouse = databases.warehouse();
        env = databases.env();
        slot = "h_" + source.name();
    }

    @AfterEach
    void dropSlot() {
        source.execute("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '" + slot + "'");
    }


    JsonNode health(Map<String, String> env, int exitCode, String... args) throws Exception {
        String[] all = new String[args.length + 1];
        System.arraycopy(args, 0, all, 0, args.length);
        all[args.length] = "--json";
        var run = Datakits.run("PostgresHealth", env, all);
        assertThat(run.exitCode()).as(run.toString()).isEqualTo(exitCode);
        return JSON.readTree(run.out());
    }

    @Test
    void aHealthySetupReportsItsFactsAndExitsZero() throws Exception {
        var extract = Datakits.run("PostgresExtract", env, "--table", "items");
        assertThat(extract.exitCode()).as(extract.toString()).isZero();

        // Health reads every slot of the server; on a shared test server another run's slot is not this setup's.
        JsonNode report = health(env, 0, "--lag-warning", String.valueOf(Long.MAX_VALUE));

        assertThat(report.path("status").asText()).as(report.toString()).isEqualTo("healthy");
        JsonNode src = report.path("source");
        assertThat(src.path("connected").asBoolean()).isTrue();
        assertThat(src.path("response_time_ms").isNumber()).isTrue();
        assertThat(src.path("server_version").asText()).isEqualTo(source.value("SHOW server_version"));
        assertThat(src.path("database_size_bytes").asLong()).isPositive();
        assertThat(src.path("table_count").asLong()).isEqualTo(1);
        assertThat(src.path("capabilities").path("wal_level").asText()).isEqualTo("logical");
        assertThat(src.path("capabilities").path("logical_replication").asBoolean()).isTrue();
        JsonNode streams = report.path("warehouse").path("streams");
        assertThat(streams).hasSize(1);
        assertThat(streams.get(0).path("stream").asText()).isEqualTo("bronze.items");
        assertThat(streams.get(0).path("status").asText()).isEqualTo("succeeded");
        assertThat(streams.get(0).path("rows").asLong()).isEqualTo(1);

        var human = Datakits.run("PostgresHealth", env, "--lag-warning", String.valueOf(Long.MAX_VALUE));
        assertThat(human.exitCode()).isZero();
        assertThat(human.out()).startsWith("postgres-health: healthy").contains("bronze.items");
    }

    @Test
    void aSlotBehindAndAFailedStreamMakeItDegradedAndStrictFails() throws Exception {
        source.execute("SELECT pg_create_logical_replication_slot('" + slot + "', 'pgoutput')",
            "INSERT INTO items SELECT g, repeat('x', 100) FROM generate_series(2, 2000) g");
        var failed = Datakits.run("PostgresExtract", env, "--table", "items", "--where", "no_such_column > 0");
        assertThat(failed.exitCode()).isEqualTo(2);
        Datakits.run("PostgresExtract", env, "--table", "items", "--target-table", "ok_items");
        warehouse.execute("UPDATE bronze.extraction_runs SET status = 'failed', error = 'boom' WHERE stream = 'bronze.ok_items'");

        JsonNode report = health(env, 0, "--lag-warning", "1000");

        assertThat(report.path("status").asText()).isEqualTo("degraded");
        JsonNode slotReport = null;
        for (JsonNode s : report.path("source").path("replication_slots")) {
            if (s.path("name").asText().equals(slot)) {
                slotReport = s;
            }
        }
        assertThat(slotReport).isNotNull();
        assertThat(slotReport.path("lag_bytes").asLong()).isGreaterThan(1000);
        assertThat(report.path("warnings").toString()).contains("slot " + slot + " is").contains("stream bronze.ok_items: its last run failed");

        health(env, 1, "--lag-warning", "1000", "--strict");
    }

    @Test
    void aStreamStoppedByItsSchemaChangePolicyIsReportedWithTheChangesItRefused() throws Exception {
        assertThat(Datakits.run("PostgresExtract", env, "--table", "items", "--mode", "append").exitCode()).isZero();
        source.execute("ALTER TABLE items ADD COLUMN note text");
        var refused = Datakits.run("PostgresExtract", env, "--table", "items", "--mode", "append", "--on-schema-change", "fail");
        assertThat(refused.exitCode()).as(refused.toString()).isEqualTo(3);

        JsonNode report = health(env, 0, "--check", "warehouse");

        assertThat(report.path("status").asText()).isEqualTo("degraded");
        JsonNode stream = report.path("warehouse").path("streams").get(0);
        assertThat(stream.path("status").asText()).isEqualTo("failed");
        assertThat(stream.path("schema_changes_refused").toString()).isEqualTo("[{\"column\":\"note\",\"change\":\"added\","
            + "\"new_type\":\"text\"}]");
        assertThat(report.path("warnings").toString()).isEqualTo("[\"stream bronze.items: stopped by a schema change its "
            + "--on-schema-change refused: note is new (text). Run it with --on-schema-change evolve to follow the change\"]");
        health(env, 1, "--check", "warehouse", "--strict");
    }

    @Test
    void schemaNamesFoldToLowerCaseUnlessQuotedLikeEveryOtherDatakit() throws Exception {
        source.execute("CREATE SCHEMA sales", "CREATE TABLE sales.orders (id int)", "CREATE SCHEMA \"Sales\"");
        assertThat(Datakits.run("PostgresExtract", env, "--table", "items", "--target-schema", "Bronze").exitCode()).isZero();

        JsonNode report = health(env, 0, "--schema", "SALES", "--target-schema", "Bronze");

        assertThat(report.path("source").path("schema").asText()).isEqualTo("sales");
        assertThat(report.path("source").path("table_count").asLong()).isEqualTo(1);
        assertThat(report.path("warehouse").path("schema").asText()).isEqualTo("bronze");
        assertThat(report.path("warehouse").path("streams").get(0).path("stream").asText()).isEqualTo("bronze.items");
        assertThat(health(env, 0, "--schema", "\"Sales\"").path("source").path("table_count").asLong()).isZero();
    }

    @Test
    void anUnreachableDatabaseIsUnhealthyAndExitsOne() throws Exception {
        JsonNode report = health(Map.of("SOURCE_DATABASE_URL", source.url(),
            "WAREHOUSE_DATABASE_URL", "postgresql://nobody:secret@127.0.0.1:1/nowhere?connectTimeout=2"), 1);

        assertThat(report.path("status").asText()).isEqualTo("unhealthy");
        assertThat(report.path("warehouse").path("connected").asBoolean()).isFalse();
        assertThat(report.path("problems").get(0).asText()).startsWith("warehouse 127.0.0.1:1/nowhere");
        assertThat(report.toString()).doesNotContain("secret");
        assertThat(report.path("source").path("connected").asBoolean()).isTrue();
    }
}
