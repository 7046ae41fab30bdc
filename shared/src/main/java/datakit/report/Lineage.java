package datakit.report;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * OpenLineage run events ({@code --lineage}): START when a run begins, COMPLETE or FAIL when it ends,
 * with the source table as input and the bronze table as output, named the OpenLineage way for
 * PostgreSQL ({@code postgres://host:port}, {@code database.schema.table}). Events go to a file, one JSON
 * object per line, or are POSTed to an HTTP endpoint (Marquez: {@code http://host:5000/api/v1/lineage}).
 * Lineage never fails a run: an event that cannot be sent is a warning.
 */
public final class Lineage {
    private static final String PRODUCER = "https://github.com/postgres-bronze-datakits";
    private static final String SCHEMA_URL = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/definitions/RunEvent";
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    private final String target;
    private final String namespace;
    private final String job;

    /**
     * @param target    a file path, or an http(s) URL to POST to
     * @param namespace the job namespace
     * @param job       the job's name: the datakit and what it loads, the same for every run of the stream
     */
    public Lineage(String target, String namespace, String job) {
        this.target = target;
        this.namespace = namespace;
        this.job = job;
    }

    public void start(RunContext run) {
        send(run, "START", List.of(), List.of());
    }

    /** COMPLETE (or FAIL) with the datasets the run's summaries name. */
    public void end(RunContext run, boolean succeeded) {
        var inputs = new ArrayList<Map<String, Object>>();
        var outputs = new ArrayList<Map<String, Object>>();
        String source = run.outcome().databases().get("source");
        String warehouse = run.outcome().databases().get("warehouse");
        for (RunSummary summary : run.outcome().summaries()) {
            dataset(source, summary.read()).ifPresent(inputs::add);
            dataset(warehouse, summary.target()).ifPresent(outputs::add);
        }
        send(run, succeeded ? "COMPLETE" : "FAIL", inputs, outputs);
    }

    /** A PostgreSQL dataset: namespace postgres://host:port, name database.schema.table; none for a query or a slot. */
    static Optional<Map<String, Object>> dataset(String database, String table) {
        if (database == null || table == null || !table.matches("[^ ]+\\.[^ ]+")) {
            return Optional.empty();
        }
        int slash = database.lastIndexOf('/');
        var dataset = new LinkedHashMap<String, Object>();
        dataset.put("namespace", "postgres://" + database.substring(0, slash));
        dataset.put("name", database.substring(slash + 1) + "." + table);
        return Optional.of(dataset);
    }

    /** The target without any user and password in it. */
    private String shown() {
        return target.replaceFirst("//[^/@]*@", "//");
    }

    private void send(RunContext run, String type, List<Map<String, Object>> inputs, List<Map<String, Object>> outputs) {
        var event = new LinkedHashMap<String, Object>();
        event.put("eventType", type);
        event.put("eventTime", Instant.now().toString());
        event.put("run", Map.of("runId", run.runId().toString()));
        event.put("job", Map.of("namespace", namespace, "name", job));
        event.put("inputs", inputs);
        event.put("outputs", outputs);
        event.put("producer", PRODUCER);
        event.put("schemaURL", SCHEMA_URL);
        String json = RunSummary.toJson(event);
        try {
            if (target.startsWith("http://") || target.startsWith("https://")) {
                HttpResponse<String> response = HTTP.send(HttpRequest.newBuilder(URI.create(target)).timeout(Duration.ofSeconds(10))
                    .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(json)).build(),
                    HttpResponse.BodyHandlers.ofString());
                if (response.statusCode() >= 300) {
                    run.warn("the lineage endpoint answered " + response.statusCode() + " to the " + type + " event");
                }
            } else {
                Files.writeString(Path.of(target), json + "\n", StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
            }
        } catch (IOException | IllegalArgumentException e) {
            run.warn("could not send the " + type + " lineage event to " + shown() + ": " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
