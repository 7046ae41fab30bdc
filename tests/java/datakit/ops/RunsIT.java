package datakit.ops;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import datakit.testing.Datakits;
import datakit.testing.TestDatabase;
import datakit.testing.SourceAndWarehouse;
import java.sql.Connection;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.postgresql.PGConnection;
import org.postgresql.PGNotification;

/** bronze-runs lists the run history; every status change of a run reaches a LISTEN on bronze_runs. */
class RunsIT {
    static final ObjectMapper JSON = new ObjectMapper();
    TestDatabase source;
    TestDatabase warehouse;
    Map<String, String> env;

    @BeforeEach
    void createDatabases() {
        var databases = SourceAndWarehouse.create("runs",
            "CREATE TABLE public.items (id int PRIMARY KEY, name text)", "INSERT INTO items VALUES (1, 'one'), (2, 'two')");
        source = databases.source();
        warehouse = databases.warehouse();
        env = databases.env();
    }


    @Test
    void listsRecentRunsNewestFirstAndPublishesEachStatusChange() throws Exception {
        assertThat(Datakits.run("BronzeMigrate", env).exitCode()).isZero();
        try (Connection listener = warehouse.connect(); Statement st = listener.createStatement()) {
            st.execute("LISTEN bronze_runs");
            assertThat(Datakits.run("PostgresExtract", env, "--table", "items").exitCode()).isZero();
            assertThat(Datakits.run("PostgresExtract", env, "--table", "items", "--target-table", "other", "--where", "nope > 1").exitCode())
                .isEqualTo(2);
            assertThat(Datakits.run("PostgresExtract", env, "--table", "items", "--target-table", "other").exitCode()).isZero();

            List<String> heard = new ArrayList<>();
            for (int i = 0; i < 20 && heard.size() < 4; i++) {
                st.execute("SELECT 1"); // notifications arrive with the next message from the server
                PGNotification[] notes = listener.unwrap(PGConnection.class).getNotifications(500);
                for (PGNotification note : notes == null ? new PGNotification[0] : notes) {
                    JsonNode payload = JSON.readTree(note.getParameter());
                    heard.add(payload.path("stream").asText() + " " + payload.path("status").asText() + " " + payload.path("schema").asText());
                }
            }
            assertThat(heard).containsExactly("bronze.items running bronze", "bronze.items succeeded bronze", "bronze.other running bronze",
                "bronze.other succeeded bronze");
        }

        var json = Datakits.run("BronzeRuns", env, "--json");
        assertThat(json.exitCode()).as(json.toString()).isZero();
        JsonNode runs = JSON.readTree(json.out()).path("runs");
        assertThat(runs).hasSize(2);
        assertThat(runs.get(0).path("stream").asText()).isEqualTo("bronze.other");
        assertThat(runs.get(1).path("rows").asLong()).isEqualTo(2);
        assertThat(runs.get(1).path("status").asText()).isEqualTo("succeeded");

        var human = Datakits.run("BronzeRuns", env, "--stream", "bronze.items");
        assertThat(human.exitCode()).isZero();
        assertThat(human.out()).contains("succeeded").contains("bronze.items").contains("postgres-extract").doesNotContain("bronze.other");
        var bad = Datakits.run("BronzeRuns", env, "--status", "weird");
        assertThat(bad.exitCode()).isEqualTo(2);
        assertThat(bad.err()).contains("--status takes running");
    }
}
