package datakit.cdc;

import datakit.sql.Sql;
import datakit.sql.TableRef;
import java.sql.Connection;
import java.util.Optional;
import java.util.UUID;

/**
 * Where a change stream resumes, in {@code extraction_checkpoints}: the end LSN of the last source
 * transaction the warehouse holds, committed in the same transaction as its change rows. A row whose
 * LSN is NULL says a run was creating the slot: if that run died before its snapshot committed, the
 * slot it left has never been read and is made again.
 */
public final class SlotCheckpoint {
    private final String table;

    public SlotCheckpoint(String bronzeSchema) {
        this.table = TableRef.of(bronzeSchema, "extraction_checkpoints").sql();
    }

    /**
     * The stored position: an empty LSN while a slot is being created. {@code since} is where the current
     * slot began: changes before it may be older than the bronze tables' snapshot.
     */
    public record Stored(Optional<String> lsn, String slot, Optional<String> since) {
    }

    public Optional<Stored> read(Connection connection, String stream) {
        return Sql.using(connection).resultQuery("SELECT lsn::text, state ->> 'slot', state ->> 'since' FROM " + table
                + " WHERE stream = ? AND partition_name = ''", stream)
            .fetchOptional(r -> new Stored(Optional.ofNullable(r.get(0, String.class)), r.get(1, String.class),
                Optional.ofNullable(r.get(2, String.class))));
    }

    /**
     * Records the position; {@code lsn} null while the slot is being created, {@code since} null to keep
     * the one stored.
     */
    public void save(Connection transaction, String stream, String slot, String publication, String lsn, String since, UUID runId) {
        Sql.using(transaction).execute("INSERT INTO " + table + " (stream, partition_name, lsn, state, run_id, updated_at) "
                + "VALUES (?, '', ?::pg_lsn, jsonb_strip_nulls(jsonb_build_object('slot', ?::text, 'publication', ?::text, 'since', ?::text)), "
                + "?, clock_timestamp()) ON CONFLICT (stream, partition_name) DO UPDATE SET lsn = excluded.lsn, "
                + "state = " + table + ".state || excluded.state, run_id = excluded.run_id, updated_at = excluded.updated_at",
            stream, lsn, slot, publication, since, runId);
    }

    /**
     * Records that this stream created its publication (state {@code publication_created}), so that
     * {@code --drop-slot} drops it too, and never a publication someone else made. Later saves keep it.
     */
    public void notePublicationCreated(Connection transaction, String stream) {
        Sql.using(transaction).execute("UPDATE " + table + " SET state = state || '{\"publication_created\": true}' "
            + "WHERE stream = ? AND partition_name = ''", stream);
    }

    /** The publication this stream created, if it did and the checkpoint remembers it. */
    public Optional<String> createdPublication(Connection connection, String stream) {
        return Sql.using(connection).resultQuery("SELECT state ->> 'publication' FROM " + table + " WHERE stream = ? AND partition_name = '' "
            + "AND (state ->> 'publication_created')::boolean", stream).fetchOptional(0, String.class);
    }

    /** The other streams of this bronze schema that read {@code publication}. */
    public java.util.List<String> otherStreamsOf(Connection connection, String publication, String stream) {
        return Sql.using(connection).resultQuery("SELECT stream FROM " + table + " WHERE state ->> 'publication' = ? AND stream <> ? "
            + "AND partition_name = '' ORDER BY 1", publication, stream).fetch(0, String.class);
    }

    public void delete(Connection transaction, String stream) {
        Sql.using(transaction).execute("DELETE FROM " + table + " WHERE stream = ? AND partition_name = ''", stream);
    }
}
