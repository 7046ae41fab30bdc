package datakit.cdc;

import datakit.sql.Sql;
import datakit.sql.TableRef;
import datakit.wal.Lsn;
import java.sql.Connection;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;

/**
 * Where a change stream resumes, in {@code extraction_checkpoints}: the end LSN of the last source
 * transaction the warehouse holds, committed in the same transaction as its change rows. A row whose
 * LSN is NULL says a run was creating the slot: if that run died before its snapshot committed, the
 * slot it left has never been read and is made again.
 */
final class SlotCheckpoint {
    private final String table;

    SlotCheckpoint(String bronzeSchema) {
        this.table = TableRef.of(bronzeSchema, "extraction_checkpoints").sql();
    }

    /**
     * The stored position: an empty LSN while a slot is being created. {@code since} is where the current
     * slot began: changes before it may be older than the bronze tables' snapshot.
     */
    public record Stored(Optional<Lsn> lsn, String slot, Optional<Lsn> since) {
    }

    /** Whether the bronze schema has its checkpoint table yet (it has none before its first run). */
    public boolean exists(Connection connection) {
        return Sql.using(connection).resultQuery("SELECT pg_catalog.to_regclass(?) IS NOT NULL", table).fetchOne(0, Boolean.class);
    }

    public Optional<Stored> read(Connection connection, String stream) {
        return Sql.using(connection).resultQuery("SELECT lsn::text, state ->> 'slot', state ->> 'since' FROM " + table
                + " WHERE stream = ? AND partition_name = ''", stream)
            .fetchOptional(r -> new Stored(Optional.ofNullable(r.get(0, String.class)).map(Lsn::parse), r.get(1, String.class),
                Optional.ofNullable(r.get(2, String.class)).map(Lsn::parse)));
    }

    /**
     * Records the position; {@code lsn} null while the slot is being created, {@code since} null to keep
     * the one stored.
     */
    public void save(Connection transaction, String stream, String slot, String publication, Lsn lsn, Lsn since, UUID runId) {
        Sql.using(transaction).execute("INSERT INTO " + table + " (stream, partition_name, lsn, state, run_id, updated_at) "
                + "VALUES (?, '', ?::pg_lsn, jsonb_strip_nulls(jsonb_build_object('slot', ?::text, 'publication', ?::text, 'since', ?::text)), "
                + "?, clock_timestamp()) ON CONFLICT (stream, partition_name) DO UPDATE SET lsn = excluded.lsn, "
                + "state = " + table + ".state || excluded.state, run_id = excluded.run_id, updated_at = excluded.updated_at",
            stream, text(lsn), slot, publication, text(since), runId);
    }

    /** The pg_lsn text a position is stored as; null stays null. */
    private static String text(Lsn lsn) {
        return lsn == null ? null : lsn.toString();
    }

    /**
     * Records the name of the publication this stream created (state {@code created_publication}), so that
     * {@code --drop-slot} drops that one, and never a publication someone else made, even after the stream
     * switched to another. Later saves keep it.
     */
    void notePublicationCreated(Connection transaction, String stream, String publication) {
        Sql.using(transaction).execute("UPDATE " + table + " SET state = state || jsonb_build_object('created_publication', ?::text) "
            + "WHERE stream = ? AND partition_name = ''", publication, stream);
    }

    /** The publication this stream created, if it did and the checkpoint remembers it. */
    Optional<String> createdPublication(Connection connection, String stream) {
        return Sql.using(connection).resultQuery("SELECT state ->> 'created_publication' FROM " + table + " WHERE stream = ? "
            + "AND partition_name = ''", stream).fetchOptional(0, String.class);
    }

    /** The publication the stream reads, as its checkpoint names it. */
    Optional<String> publication(Connection connection, String stream) {
        return Sql.using(connection).resultQuery("SELECT state ->> 'publication' FROM " + table + " WHERE stream = ? AND partition_name = ''",
            stream).fetchOptional(0, String.class);
    }

    /** The leaves of the stream's partitioned tables as the last run saw them (see {@link PartitionLeaves}), if it kept them. */
    Optional<PartitionLeaves> partitionLeaves(Connection connection, String stream) {
        return Sql.using(connection).resultQuery("SELECT state ->> 'partitions' FROM " + table + " WHERE stream = ? AND partition_name = ''",
            stream).fetchOptional(0, String.class).map(PartitionLeaves::fromJson);
    }

    void savePartitionLeaves(Connection transaction, String stream, PartitionLeaves leaves) {
        Sql.using(transaction).execute("UPDATE " + table + " SET state = state || jsonb_build_object('partitions', ?::jsonb) "
            + "WHERE stream = ? AND partition_name = ''", leaves.toJson(), stream);
    }

    /**
     * The source tables the stream follows by identity (state {@code tables}: {@code {"<oid>": {"schema", "table",
     * "bronze"}}}): each table's oid, with the name it had when last seen and the bronze table its changes land in.
     */
    Map<Long, TableIdentities.Followed> followedTables(Connection connection, String stream) {
        var followed = new LinkedHashMap<Long, TableIdentities.Followed>();
        Sql.using(connection).resultQuery("SELECT t.key::bigint, t.value ->> 'schema', t.value ->> 'table', t.value ->> 'bronze' FROM "
                + table + ", jsonb_each(coalesce(state -> 'tables', '{}')) t WHERE stream = ? AND partition_name = '' ORDER BY 1", stream)
            .forEach(r -> followed.put(r.get(0, Long.class), new TableIdentities.Followed(TableRef.of(r.get(1, String.class),
                r.get(2, String.class)), r.get(3, String.class))));
        return followed;
    }

    /**
     * Records that the table {@code oid}, now named {@code source}, lands in the bronze table {@code bronze}; what else the
     * stream keeps of the table (its column hashes) stays.
     */
    void saveFollowedTable(Connection transaction, String stream, long oid, TableRef source, String bronze) {
        Sql.using(transaction).execute("UPDATE " + table + " SET state = state || jsonb_build_object('tables', coalesce(state -> 'tables', "
                + "'{}') || jsonb_build_object(?::text, coalesce(state -> 'tables' -> ?::text, '{}') || jsonb_build_object('schema', ?::text, "
                + "'table', ?::text, 'bronze', ?::text))) WHERE stream = ? AND partition_name = ''", Long.toString(oid), Long.toString(oid),
            source.schema(), source.table(), bronze, stream);
    }

    /**
     * The hash of what decides each column's values ({@link datakit.source.SchemaFingerprint}) that the --apply table of each
     * followed table reflects (state {@code tables -> <oid> -> columns}; see {@link ValueRefresh}), by oid; a table without
     * them is left out.
     */
    Map<Long, Map<String, String>> columnHashes(Connection connection, String stream) {
        var hashes = new LinkedHashMap<Long, Map<String, String>>();
        Sql.using(connection).resultQuery("SELECT t.key::bigint, c.key, c.value FROM " + table + ", jsonb_each(coalesce(state -> 'tables', "
                + "'{}')) t, jsonb_each_text(coalesce(t.value -> 'columns', '{}')) c WHERE stream = ? AND partition_name = '' ORDER BY 1, 2", stream)
            .forEach(r -> hashes.computeIfAbsent(r.get(0, Long.class), oid -> new LinkedHashMap<>()).put(r.get(1, String.class),
                r.get(2, String.class)));
        return hashes;
    }

    /** Records the column hashes of the followed table {@code oid} (nothing when the stream does not follow it). */
    void saveColumnHashes(Connection transaction, String stream, long oid, Map<String, String> hashes) {
        Sql.using(transaction).execute("UPDATE " + table + " SET state = jsonb_set(state, ARRAY['tables', ?::text, 'columns'], "
                + "jsonb_object(?::text[], ?::text[])) WHERE stream = ? AND partition_name = ''", Long.toString(oid),
            hashes.keySet().toArray(String[]::new), hashes.values().toArray(String[]::new), stream);
    }

    /**
     * Records where a table's snapshot taken inside the stream met it ({@link TableSnapshot.Cut}; state {@code tables -> <oid>
     * -> snapshot}: {@code {"lsn", "added", "partial"}}), replacing an earlier one; what else the stream keeps of the table stays.
     */
    void saveCut(Connection transaction, String stream, TableSnapshot.Cut cut, boolean loading) {
        Sql.using(transaction).execute("UPDATE " + table + " SET state = jsonb_set(state, ARRAY['tables', ?::text, 'snapshot'], "
                + "jsonb_build_object('lsn', ?::text, 'added', ?::boolean, 'partial', ?::boolean, 'loading', ?::boolean)) "
                + "WHERE stream = ? AND partition_name = ''",
            Long.toString(cut.oid()), cut.lsn().toString(), cut.added(), cut.partial(), loading, stream);
    }

    /** The cuts of the tables the stream loaded from snapshots while it ran, by oid (a table whose cut is being made has none). */
    Map<Long, TableSnapshot.Cut> cuts(Connection connection, String stream) {
        var cuts = new LinkedHashMap<Long, TableSnapshot.Cut>();
        Sql.using(connection).resultQuery("SELECT t.key::bigint, t.value -> 'snapshot' ->> 'lsn', (t.value -> 'snapshot' ->> 'added')::boolean, "
                + "(t.value -> 'snapshot' ->> 'partial')::boolean FROM " + table + ", jsonb_each(coalesce(state -> 'tables', '{}')) t "
                + "WHERE stream = ? AND partition_name = '' AND t.value -> 'snapshot' ->> 'lsn' IS NOT NULL", stream)
            .forEach(r -> cuts.put(r.get(0, Long.class), new TableSnapshot.Cut(r.get(0, Long.class), Lsn.parse(r.get(1, String.class)),
                r.get(2, Boolean.class), r.get(3, Boolean.class))));
        return cuts;
    }

    /** The tables being loaded beside the stream whose copy is not in (the run loading them may have ended), by oid. */
    Set<Long> loading(Connection connection, String stream) {
        return new LinkedHashSet<>(Sql.using(connection).resultQuery("SELECT t.key::bigint FROM " + table + ", jsonb_each(coalesce("
                + "state -> 'tables', '{}')) t WHERE stream = ? AND partition_name = '' AND coalesce((t.value -> 'snapshot' ->> 'loading')::boolean, "
                + "false)", stream).fetch(0, Long.class));
    }

    /** Records that the table {@code oid}, new to the stream, is being loaded beside it: its cut is not made yet. */
    void saveLoading(Connection transaction, String stream, long oid) {
        Sql.using(transaction).execute("UPDATE " + table + " SET state = jsonb_set(state, ARRAY['tables', ?::text, 'snapshot'], "
            + "jsonb_build_object('added', true, 'loading', true)) WHERE stream = ? AND partition_name = ''", Long.toString(oid), stream);
    }

    public void delete(Connection transaction, String stream) {
        Sql.using(transaction).execute("DELETE FROM " + table + " WHERE stream = ? AND partition_name = ''", stream);
    }
}
