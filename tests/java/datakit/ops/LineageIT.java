package datakit.ops;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpServer;
import datakit.testing.Datakits;
import datakit.testing.TestDatabase;
import datakit.testing.SourceAndWarehouse;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** --lineage: OpenLineage START and COMPLETE (or FAIL) events, to a file or an HTTP endpoint, naming the tables read and written. */
class LineageIT {
    static final ObjectMapper JSON = new ObjectMapper();
    TestDatabase source;
    TestDatabase warehouse;
    Map<String, String> env;
    @TempDir
    Path dir;

    @BeforeEach
    void createDatabases() {
        var databases = SourceAndWarehouse.create("lineage",
            "CREATE TABLE public.items (id int PRIMARY KEY)", "INSERT INTO items VALUES (1)");
        source = databases.source();
        warehouse = databases.warehouse();
        env = databases.env();
    }


    @Test
    void eventsGoToAFileWithTheTablesReadAndWritten() throws Exception {
        Path file = dir.resolve("lineage.ndjson");
        var run = Datakits.run("PostgresExtract", env, "--table", "items", "--lineage", file.toString());
        assertThat(run.exitCode()).as(run.toString()).isZero();
        var failed = Datakits.run("PostgresExtract", env, "--table", "missing", "--lineage", file.toString());
        assertThat(failed.exitCode()).isEqualTo(2);

        List<JsonNode> events = Files.readAllLines(file).stream().map(this::parse).toList();
        assertThat(events.stream().map(e -> e.path("eventType").asText() + " " + e.path("job").path("name").asText()))
            .containsExactly("START postgres-extract.items", "COMPLETE postgres-extract.items", "START postgres-extract.missing",
                "FAIL postgres-extract.missing");
        JsonNode complete = events.get(1);
        assertThat(complete.path("run").path("runId").asText()).isEqualTo(events.get(0).path("run").path("runId").asText());
        assertThat(complete.path("inputs").get(0).path("name").asText()).isEqualTo(source.name() + ".public.items");
        assertThat(complete.path("inputs").get(0).path("namespace").asText()).startsWith("postgres://");
        assertThat(complete.path("outputs").get(0).path("name").asText()).isEqualTo(warehouse.name() + ".bronze.items");
        assertThat(complete.path("job").path("namespace").asText()).isEqualTo("bronze-datakits");
    }

    @Test
    void eventsArePostedToAnHttpEndpoint() throws Exception {
        List<String> bodies = new CopyOnWriteArrayList<>();
        HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.createContext("/api/v1/lineage", exchange -> {
            bodies.add(new String(exchange.getRequestBody().readAllBytes(), StandardCharsets.UTF_8));
            exchange.sendResponseHeaders(201, -1);
            exchange.close();
        });
        server.start();
        try {
            var run = Datakits.run("PostgresExtract", env, "--table", "items", "--lineage",
                "http://127.0.0.1:" + server.getAddress().getPort() + "/api/v1/lineage", "--lineage-namespace", "shop");
            assertThat(run.exitCode()).as(run.toString()).isZero();
        } finally {
            server.stop(0);
        }
        assertThat(bodies).hasSize(2);
        assertThat(parse(bodies.get(1)).path("eventType").asText()).isEqualTo("COMPLETE");
        assertThat(parse(bodies.get(1)).path("job").path("namespace").asText()).isEqualTo("shop");
    }

    JsonNode parse(String line) {
        try {
            return JSON.readTree(line);
        } catch (Exception e) {
            throw new IllegalStateException(line, e);
        }
    }
}
