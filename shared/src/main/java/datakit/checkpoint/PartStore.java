package datakit.checkpoint;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import datakit.error.DatakitException;
import datakit.sql.Sql;
import datakit.sql.TableRef;
import java.sql.Connection;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

/**
 * The checkpoints of partitioned loads in {@code extraction_checkpoints}: a row {@code (load)} that
 * describes the stream's current load (its parts, which process loads each, whether it is published),
 * and a row per part with what bronze holds for it and what the unfinished load has staged for it. A
 * part's row commits in the same transaction as the part's rows.
 */
public final class PartStore {
    /** The partition_name of the load's row; part names always contain a dot, so none can take it. */
    static final String LOAD_ROW = "(load)";
    private static final ObjectMapper JSON = new ObjectMapper()
        .setPropertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
        .configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false);

    private final String table;

    public PartStore(String bronzeSchema) {
        this.table = TableRef.of(bronzeSchema, "extraction_checkpoints").sql();
    }

    /**
     * One load of a stream's parts.
     *
     * @param fingerprint          what was read, and how it lands: loads with equal fingerprints make equal tables
     * @param shards               how many processes share it ({@code --shard i/n}); 1 without sharding
     * @param published            whether its tables are in bronze
     * @param publishedFingerprint the fingerprint of the load whose tables bronze holds now, "" if none
     * @param sourceSchema         the hash of the source's schema it read ({@link datakit.source.SchemaFingerprint}), which
     *                             {@code fingerprint} includes, kept apart to say why parts are copied again; null in loads
     *                             of earlier versions
     * @param publishedSourceSchema that of the load whose tables bronze holds now, null if none or unknown
     */
    public record Load(UUID id, String fingerprint, String layout, int shards, List<PlannedPart> parts, boolean published,
                       String publishedFingerprint, UUID startedBy, String sourceSchema, String publishedSourceSchema) {
        public Load {
            parts = List.copyOf(parts);
        }

        public Load publish() {
            return new Load(id, fingerprint, layout, shards, parts, true, fingerprint, startedBy, sourceSchema, sourceSchema);
        }

        public Load withShards(int count, List<PlannedPart> assigned) {
            return new Load(id, fingerprint, layout, count, assigned, published, publishedFingerprint, startedBy, sourceSchema,
                publishedSourceSchema);
        }

        /** The fingerprint of the load whose tables bronze holds now (this one once published), "" if none. */
        public String bronzeFingerprint() {
            return published ? fingerprint : publishedFingerprint;
        }

        /** The source schema's hash of the load whose tables bronze holds now, null if none or unknown. */
        public String bronzeSourceSchema() {
            return published ? sourceSchema : publishedSourceSchema;
        }
    }

    /**
     * A part of a load: its name, its number (which names its table), the shard that loads it, and its
     * bounds with the condition it is read with (null in loads begun before they were recorded).
     */
    public record PlannedPart(String name, int index, int shard, long estimatedRows, String bounds) {
    }

    /**
     * A part's rows in the warehouse, and what a later run needs to find the part unchanged.
     *
     * @param horizon the loading snapshot's oldest running transaction id (64-bit)
     */
    public record Copy(String schema, String table, long oid, String bounds, long rows, long bytes, long horizon, UUID runId) {
        public TableRef ref() {
            return TableRef.of(schema, table);
        }
    }

    /** What the unfinished load {@code load} has for a part: a new copy, or the published one kept. */
    public record Staged(UUID load, boolean kept, Copy copy) {
    }

    /** A part's row: its published copy and its staged one, either possibly null. */
    public record PartRecord(Copy published, Staged staged) {
        public Optional<Copy> publishedCopy() {
            return Optional.ofNullable(published);
        }

        /** The part's copy in load {@code load}, if that load has one yet. */
        public Optional<Staged> stagedIn(UUID load) {
            return Optional.ofNullable(staged).filter(s -> s.load().equals(load));
        }
    }

    /** The stream's load; empty also when the bronze schema has no bookkeeping yet (a dry run's first look). */
    public Optional<Load> load(Connection connection, String stream) {
        return exists(connection) ? row(connection, stream, LOAD_ROW).map(json -> read(json, Load.class)) : Optional.empty();
    }

    public void saveLoad(Connection transaction, String stream, Load load, UUID runId) {
        save(transaction, stream, LOAD_ROW, write(load), runId);
    }

    /** Every part's row, by part name. */
    public Map<String, PartRecord> parts(Connection connection, String stream) {
        var parts = new LinkedHashMap<String, PartRecord>();
        if (exists(connection)) {
            Sql.using(connection).resultQuery("SELECT partition_name, state::text FROM " + table
                    + " WHERE stream = ? AND partition_name <> ? ORDER BY partition_name", stream, LOAD_ROW)
                .forEach(r -> parts.put(r.get(0, String.class), read(r.get(1, String.class), PartRecord.class)));
        }
        return parts;
    }

    public Optional<PartRecord> part(Connection connection, String stream, String part) {
        return row(connection, stream, part).map(json -> read(json, PartRecord.class));
    }

    public void savePart(Connection transaction, String stream, String part, PartRecord record, UUID runId) {
        save(transaction, stream, part, write(record), runId);
    }

    public void deleteParts(Connection transaction, String stream, Collection<String> parts) {
        for (String part : parts) {
            Sql.using(transaction).execute("DELETE FROM " + table + " WHERE stream = ? AND partition_name = ?", stream, part);
        }
    }

    private boolean exists(Connection connection) {
        return Sql.using(connection).resultQuery("SELECT to_regclass(?) IS NOT NULL", table).fetchOne(0, Boolean.class);
    }

    private Optional<String> row(Connection connection, String stream, String part) {
        return Sql.using(connection).resultQuery("SELECT state::text FROM " + table + " WHERE stream = ? AND partition_name = ?", stream, part)
            .fetchOptional(0, String.class);
    }

    private void save(Connection transaction, String stream, String part, String state, UUID runId) {
        Sql.using(transaction).execute("INSERT INTO " + table + " (stream, partition_name, state, run_id, updated_at) "
                + "VALUES (?, ?, ?::jsonb, ?, clock_timestamp()) ON CONFLICT (stream, partition_name) DO UPDATE "
                + "SET state = excluded.state, run_id = excluded.run_id, updated_at = excluded.updated_at",
            stream, part, state, runId);
    }

    private static String write(Object value) {
        try {
            return JSON.writeValueAsString(value);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    private static <T> T read(String json, Class<T> type) {
        try {
            return JSON.readValue(json, type);
        } catch (JsonProcessingException e) {
            throw DatakitException.notReady("A partitioned load's checkpoint in extraction_checkpoints cannot be read ("
                + e.getOriginalMessage() + "). Run with --restart to start the load over.", e);
        }
    }
}
