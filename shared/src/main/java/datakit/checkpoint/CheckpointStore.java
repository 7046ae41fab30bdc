package datakit.checkpoint;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import datakit.error.DatakitException;
import datakit.sql.Sql;
import datakit.sql.TableRef;
import java.sql.Connection;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Optional;
import java.util.UUID;

/**
 * The {@code extraction_checkpoints} table of a bronze schema. A checkpoint is saved in the same
 * transaction as the rows it covers, and only if it is still the one the run started from, so two runs
 * can never both move a stream forward from the same place.
 */
public final class CheckpointStore {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String WHOLE_STREAM = "";

    private final String table;

    public CheckpointStore(String bronzeSchema) {
        this.table = TableRef.of(bronzeSchema, "extraction_checkpoints").sql();
    }

    /** The stream's checkpoint; empty also when the bronze schema has no bookkeeping yet (a dry run's first look). */
    public Optional<Checkpoint> peek(Connection connection, String stream) {
        boolean exists = Sql.using(connection).resultQuery("SELECT to_regclass(?) IS NOT NULL", table).fetchOne(0, Boolean.class);
        return exists ? load(connection, stream) : Optional.empty();
    }

    public Optional<Checkpoint> load(Connection connection, String stream) {
        return Sql.using(connection)
            .resultQuery("SELECT cursor_value::text FROM " + table + " WHERE stream = ? AND partition_name = ?", stream, WHOLE_STREAM)
            .fetchOptional(r -> read(r.get(0, String.class)));
    }

    /**
     * Replaces the stream's checkpoint {@code expected} (empty: none yet) with {@code next}. Fails with
     * exit code 3 if another run moved the stream meanwhile; the caller's transaction then rolls back.
     */
    public void advance(Connection transaction, String stream, Optional<Checkpoint> expected, Checkpoint next, UUID runId) {
        Optional<Checkpoint> current = Sql.using(transaction)
            .resultQuery("SELECT cursor_value::text FROM " + table + " WHERE stream = ? AND partition_name = ? FOR UPDATE", stream, WHOLE_STREAM)
            .fetchOptional(r -> read(r.get(0, String.class)));
        if (!current.equals(expected)) {
            throw DatakitException.notReady(("The checkpoint of %s moved while this run loaded it (now %s, expected %s): "
                + "another run wrote it. Nothing of this part was committed; run again.")
                .formatted(stream, current.map(Checkpoint::describe).orElse("none"), expected.map(Checkpoint::describe).orElse("none")));
        }
        Sql.using(transaction).execute("INSERT INTO " + table + " (stream, partition_name, cursor_value, run_id, updated_at) "
                + "VALUES (?, ?, ?::jsonb, ?, clock_timestamp()) ON CONFLICT (stream, partition_name) DO UPDATE "
                + "SET cursor_value = excluded.cursor_value, run_id = excluded.run_id, updated_at = excluded.updated_at",
            stream, WHOLE_STREAM, write(next), runId);
    }

    static String write(Checkpoint checkpoint) {
        ObjectNode node = JSON.createObjectNode();
        switch (checkpoint) {
            case CursorCheckpoint c -> {
                node.put("mode", "cursor").put("column", c.column()).put("type", c.type());
                c.keyColumns().forEach(node.putArray("key_columns")::add);
                c.last().ifPresent(p -> {
                    node.put("value", p.cursor());
                    p.keys().forEach(node.putArray("key_values")::add);
                });
            }
            case XminCheckpoint x -> {
                node.put("mode", "xmin").put("snapshot", x.snapshot());
                x.seen().ifPresent(ids -> {
                    var seen = node.putArray("seen");
                    // A range of one is its id; a longer one [first, last].
                    ids.ranges().forEach(r -> {
                        if (r.count() == 1) {
                            seen.add(r.first());
                        } else {
                            seen.addArray().add(r.first()).add(r.last());
                        }
                    });
                });
            }
        }
        checkpoint.source().ifPresent(p -> node.putObject("source").put("system_identifier", p.systemIdentifier()).put("lsn", p.lsn()));
        node.put("filter", checkpoint.filter());
        ObjectNode columns = node.putObject("columns");
        checkpoint.columnsRead().forEach(columns::put);
        return node.toString();
    }

    static Checkpoint read(String json) {
        try {
            JsonNode node = JSON.readTree(json);
            String filter = node.path("filter").asText("");
            // Checkpoints written before the list of columns read have them in their filter.
            // Checkpoints written before schema hashes list the columns' names only.
            var columns = new LinkedHashMap<String, String>();
            if (node.path("columns").isObject()) {
                node.get("columns").properties().forEach(c -> columns.put(c.getKey(), c.getValue().asText()));
            } else {
                (node.has("columns") ? strings(node.get("columns")) : ReadFilter.columnsListed(filter)).forEach(c -> columns.put(c, ""));
            }
            // Checkpoints written before source positions were kept have none.
            JsonNode at = node.path("source");
            Optional<SourcePosition> source = at.isObject()
                ? Optional.of(new SourcePosition(at.path("system_identifier").asText(), at.path("lsn").asText())) : Optional.empty();
            if (node.path("mode").asText().equals("xmin")) {
                Optional<XidRanges> seen = node.has("seen") ? Optional.of(ranges(node.get("seen"))) : Optional.empty();
                return new XminCheckpoint(node.path("snapshot").asText(), seen, filter, columns, source);
            }
            Optional<Position> last = node.hasNonNull("value")
                ? Optional.of(new Position(node.get("value").asText(), strings(node.path("key_values"))))
                : Optional.empty();
            return new CursorCheckpoint(node.path("column").asText(), node.path("type").asText(), strings(node.path("key_columns")),
                last, filter, columns, source);
        } catch (JsonProcessingException e) {
            throw DatakitException.notReady("A checkpoint in extraction_checkpoints is not valid JSON: " + e.getOriginalMessage(), e);
        }
    }

    /** Ids and [first, last] ranges; checkpoints written before ranges hold ids only. */
    private static XidRanges ranges(JsonNode array) {
        var ranges = new ArrayList<XidRanges.Range>();
        array.forEach(v -> ranges.add(v.isArray() ? new XidRanges.Range(v.get(0).asLong(), v.get(1).asLong())
            : new XidRanges.Range(v.asLong(), v.asLong())));
        return XidRanges.merged(ranges);
    }

    private static List<String> strings(JsonNode array) {
        var values = new ArrayList<String>();
        array.forEach(v -> values.add(v.asText()));
        return values;
    }
}
