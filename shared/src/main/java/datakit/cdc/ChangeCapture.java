package datakit.cdc;

import datakit.bronze.BronzeMetadata;
import datakit.bronze.BronzeTable;
import datakit.bronze.SchemaPolicy;
import datakit.bronze.WriteMode;
import datakit.cdc.pgoutput.PgOutput;
import datakit.cdc.pgoutput.PgOutputDecoder;
import datakit.sql.Sql;
import datakit.sql.TableRef;
import datakit.wal.Lsn;
import java.nio.ByteBuffer;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.function.Function;
import java.util.function.Supplier;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.jooq.DSLContext;

/**
 * Turns decoded pgoutput messages into change rows of a {@link ChangeBatch}: it knows each relation's
 * change table, numbers the changes of a transaction ({@code _cdc_seq}), and skips transactions the
 * warehouse already holds (a replay after a crash between the warehouse commit and the slot's feedback:
 * their commit LSN is below the checkpoint).
 */
final class ChangeCapture {
    private final String bronzeSchema;
    private final String stream;
    private final UUID runId;
    private final SchemaPolicy onSchemaChange;
    private final Function<PgOutput.Relation, Map<String, String>> landing;
    private final Function<TableRef, BronzeMetadata> metadata;
    private final ChangeBatch batch;
    private final PgOutputDecoder decoder = new PgOutputDecoder();
    private final PgOutputDecoder replayDecoder = PgOutputDecoder.insideStream();
    /** With --apply, the source: the rows' keys, and what older rows hold in a column added since. */
    private final Optional<ApplySource> apply;
    private final Map<Long, ChangeTable> relations = new HashMap<>();
    /** Relation messages not followed yet: each is followed at the relation's first change after it. */
    private final Map<Long, PgOutput.Relation> announced = new HashMap<>();
    private final Map<ChangeTable, List<String>> applyKeys = new HashMap<>();
    /** The change table of each bronze table, one for all the names (and oids) that land there. */
    private final Map<TableRef, ChangeTable> tables = new LinkedHashMap<>();
    /** Where each table's snapshot taken inside the stream met it, by oid, as the warehouse knows (see {@link TableSnapshot}). */
    private final Map<Long, TableSnapshot.Cut> cuts = new HashMap<>();
    /** Of the tables followed, those with a cut: their changes before it are not applied. */
    private final Map<ChangeTable, TableSnapshot.Cut> applyCuts = new HashMap<>();
    /** Tables of the stream found to have their change table: not new to it. */
    private final Set<Long> settled = new HashSet<>();
    /** Tables new to the stream that were dropped before their snapshot: nothing of them lands. */
    private final Set<Long> gone = new HashSet<>();
    /** Tables whose copy goes on beside the stream, by oid: with --apply their changes wait in the change table. */
    private final Set<Long> loading = new HashSet<>();
    /** The oid of each table followed. */
    private final Map<ChangeTable, Long> oids = new HashMap<>();
    /** Tables new to the stream, by oid, whose changes are left out until their snapshot is taken. */
    private final Map<Long, TableRef> awaiting = new LinkedHashMap<>();
    /** Whether a table new to the stream is loaded from a snapshot (not with --snapshot never). */
    private final boolean snapshotsNewTables;
    /** The commit LSN of the transaction being taken. */
    private Lsn transactionCommit = Lsn.ZERO;
    /** The tables the stream follows by identity, as the warehouse's last commit knew them: read at the first Relation message. */
    private TableIdentities identities;
    private final List<String> schemaChanges = new ArrayList<>();
    private final List<Recorded> recorded = new ArrayList<>();
    private final List<String> warnings = new ArrayList<>();
    /** Per --apply table, where this batch's changes of it were applied through before its shape changed. */
    private final Map<ChangeTable, StateApply.After> appliedThrough = new HashMap<>();
    /** Per keyless --apply table, the updates and deletes of this run it could not apply. */
    private final Map<ChangeTable, StateApply.Unmatched> unmatched = new LinkedHashMap<>();
    private Lsn checkpoint;
    private final Lsn since;
    private boolean inTransaction;
    private boolean skipping;
    private Lsn lastCommitEnd = Lsn.ZERO;
    /** The commit LSN of the batch's first transaction; null while the batch has none. */
    private Lsn firstLsnOfBatch;
    private long transactions;
    private long skippedTransactions;

    /**
     * @param landing    the bronze type of each column of a relation, by name, from the types the Relation message names
     * @param metadata   the metadata of a source table's rows
     * @param apply      with --apply, the source: the columns that identify a row of a source table, and the values rows
     *                   older than an added column have in it
     * @param checkpoint the end LSN of the last transaction the warehouse holds
     * @param since      where the slot began: older changes in bronze may be older than its snapshot
     * @param onSchemaChange what the stream does when a Relation message changes a table's columns
     * @param snapshotsNewTables whether a table new to the stream waits for a snapshot (else its changes land from the first)
     */
    ChangeCapture(Connection warehouse, UUID runId, String bronzeSchema, String stream, Function<PgOutput.Relation, Map<String, String>> landing,
                         Function<TableRef, BronzeMetadata> metadata, Optional<ApplySource> apply,
                         Lsn checkpoint, Lsn since, SchemaPolicy onSchemaChange, boolean snapshotsNewTables) {
        this.stream = stream;
        this.snapshotsNewTables = snapshotsNewTables;
        this.runId = runId;
        this.onSchemaChange = onSchemaChange;
        this.since = since;
        this.apply = apply;
        this.batch = new ChangeBatch(warehouse, runId);
        this.bronzeSchema = bronzeSchema;
        this.landing = landing;
        this.metadata = metadata;
        this.checkpoint = checkpoint;
    }

    /** Takes one message as the server sent it; returns true when it ended a transaction. */
    public boolean accept(ByteBuffer message) throws SQLException {
        return take(decoder.decode(message));
    }

    /** Takes a transaction streamed while in progress, at its Stream Commit: its messages in order. */
    boolean acceptStreamed(PgOutput.StreamCommit commit, StreamedTransactions.Spooled messages) throws SQLException {
        try {
            begin(commit.commitLsn(), commit.commitTime(), commit.xid());
            if (!skipping) {
                messages.replay(m -> take(replayDecoder.decode(m)));
            }
            end(commit.endLsn());
            return true;
        } finally {
            messages.delete();
        }
    }

    private boolean take(PgOutput message) throws SQLException {
        switch (message) {
            case PgOutput.Begin begin -> begin(begin.finalLsn(), begin.commitTime(), begin.xid());
            case PgOutput.Commit commit -> {
                end(commit.endLsn());
                return true;
            }
            case PgOutput.Relation relation -> announced.put(relation.oid(), relation);
            case PgOutput.Insert insert when !skipping -> {
                ChangeTable table = table(insert.relation());
                if (table != null) {
                    batch.insert(table, insert.row());
                }
            }
            case PgOutput.Update update when !skipping -> {
                ChangeTable table = table(update.relation());
                if (table != null) {
                    batch.update(table, update);
                }
            }
            case PgOutput.Delete delete when !skipping -> {
                ChangeTable table = table(delete.relation());
                if (table != null) {
                    batch.delete(table, delete);
                }
            }
            case PgOutput.Truncate truncate when !skipping -> {
                for (long oid : truncate.relations()) {
                    ChangeTable table = table(oid);
                    if (table != null) {
                        batch.truncate(table);
                    }
                }
            }
            default -> {
                // Types, origins, logical messages, and the changes of a transaction being skipped.
            }
        }
        return false;
    }

    private void begin(Lsn commitLsn, Instant commitTime, long xid) {
        inTransaction = true;
        transactionCommit = commitLsn;
        skipping = commitLsn.isBefore(checkpoint);
        if (!skipping) {
            batch.begin(commitLsn, commitTime, xid);
            if (firstLsnOfBatch == null) {
                firstLsnOfBatch = commitLsn;
            }
        }
    }

    private void end(Lsn endLsn) {
        inTransaction = false;
        if (skipping) {
            skippedTransactions++;
        } else {
            transactions++;
            lastCommitEnd = endLsn;
        }
    }

    /**
     * The change table of a relation, brought to the shape the server last announced for it; null when the change does not
     * land: a table new to the stream, until its snapshot is taken ({@link #awaitingSnapshots()}), and a change its snapshot
     * holds ({@link TableSnapshot.Cut#lands}). The shape is followed at the relation's next change that lands, not when
     * announced: for a partition published through its partitioned table (publish_via_partition_root), pgoutput announces
     * the partition too, whose changes then arrive under the partitioned table's name, and the partition must not get a
     * change table.
     */
    private ChangeTable table(long oid) throws SQLException {
        readKnown();
        TableSnapshot.Cut cut = cuts.get(oid);
        if (awaiting.containsKey(oid) || gone.contains(oid) || (cut != null && !cut.lands(transactionCommit))) {
            return null;
        }
        PgOutput.Relation relation = announced.get(oid);
        if (relation != null && !relations.containsKey(oid) && newToStream(oid, TableRef.of(relation.namespace(), relation.name()))) {
            awaiting.put(oid, TableRef.of(relation.namespace(), relation.name()));
            return null;
        }
        announced.remove(oid);
        if (relation != null) {
            follow(relation);
        }
        return relations.get(oid);
    }

    /** What the warehouse's last commit knew of the stream's tables: their identities, and the cuts of their snapshots. */
    private void readKnown() {
        if (identities == null) {
            identities = TableIdentities.read(batch.connection(), bronzeSchema, stream);
            var checkpoints = new SlotCheckpoint(bronzeSchema);
            cuts.putAll(checkpoints.cuts(batch.connection(), stream));
            loading.addAll(checkpoints.loading(batch.connection(), stream));
        }
    }

    /**
     * Whether a table of the stream is new to it, so its rows from before need a snapshot: it has no change table yet (a table
     * a publication FOR ALL TABLES gained, or one added to the publication while the stream ran, or before a run that did not
     * load it). With --snapshot never, none is: a new table's changes land from its first one.
     */
    private boolean newToStream(long oid, TableRef source) {
        if (!snapshotsNewTables || settled.contains(oid)) {
            return false;
        }
        boolean isNew = BronzeTable.inspect(Sql.using(batch.connection()), new ChangeTable(source, identities.bronze(oid, source)).ref())
            .isEmpty();
        if (!isNew) {
            settled.add(oid);
        }
        return isNew;
    }

    /** Whether the stream has not yet looked at the table {@code oid} (of its publication) in this capture. */
    boolean unfamiliar(long oid) {
        return !relations.containsKey(oid) && !awaiting.containsKey(oid) && !gone.contains(oid) && !cuts.containsKey(oid)
            && !settled.contains(oid);
    }

    /**
     * A table of the publication, looked at while the stream runs (in a warehouse transaction): one new to the stream waits
     * for its snapshot, as it would at its first change, so a table that stays quiet is loaded too.
     */
    void awaitIfNew(long oid, TableRef table) {
        readKnown();
        if (unfamiliar(oid) && newToStream(oid, table)) {
            awaiting.put(oid, table);
        }
    }

    /** The tables new to the stream whose changes came while no snapshot of them was taken, by oid: they wait for one. */
    Map<Long, TableRef> awaitingSnapshots() {
        return Map.copyOf(awaiting);
    }

    /** A table new to the stream was dropped before its snapshot: its changes never land. */
    void gone(long oid) {
        awaiting.remove(oid);
        gone.add(oid);
    }

    /**
     * The table is being loaded beside the stream, its cut not made yet: its changes land (those before the cut go when it
     * lands), and with --apply wait in its change table until the copy is in ({@link #landed}).
     */
    void loading(long oid) {
        awaiting.remove(oid);
        loading.add(oid);
    }

    /**
     * The table's copy is in its bronze table (at a batch boundary, in the caller's transaction). The change rows since its cut
     * that an unchanged TOAST value left unknown get it from there (no earlier image was in bronze while it copied), and with
     * --apply the table is brought to the shape of its changes and given those from its cut on, as every batch gives them from
     * then on. A table this capture has not followed yet (the stream reconnected since the cut) is followed now, in the shape
     * {@code current} reads from the source's catalog unless a Relation message came.
     */
    void landed(TableSnapshot.Cut cut, Supplier<PgOutput.Relation> current) throws SQLException {
        readKnown();
        loading.remove(cut.oid());
        // Changes before the cut that come again (a restart below it) are in the snapshot: they do not land again.
        cuts.put(cut.oid(), cut);
        DSLContext db = Sql.using(batch.connection());
        ChangeTable table = relations.get(cut.oid());
        if (table == null) {
            PgOutput.Relation relation = announced.remove(cut.oid());
            follow(relation != null ? relation : current.get());
            table = relations.get(cut.oid());
        } else if (apply.isPresent()) {
            followState(db, table, cut.oid());
        }
        StateApply.After from = StateApply.After.start(cut.lsn());
        ChangeTable landed = table;
        db.resultQuery("SELECT DISTINCT unnest(_cdc_unknown) FROM " + table.ref().sql() + " WHERE " + from.sql()).fetch(0, String.class)
            .forEach(column -> UnknownValues.fill(db, landed, column, from, cut.lsn()));
        if (apply.isPresent()) {
            applyCuts.put(table, cut);
            unmatched.merge(table, StateApply.apply(db, table, applyKeys.get(table), from, metadata.apply(table.source())),
                StateApply.Unmatched::plus);
        }
    }

    /** Whether the table's changes are applied now: with --apply, unless its copy is not in yet. */
    private boolean applies(ChangeTable table) {
        return apply.isPresent() && !loading.contains(oids.getOrDefault(table, -1L));
    }

    private void follow(PgOutput.Relation relation) throws SQLException {
        TableRef source = TableRef.of(relation.namespace(), relation.name());
        readKnown();
        // By identity: a table renamed at the source keeps its bronze tables.
        TableRef bronze = identities.bronze(relation.oid(), source);
        ChangeTable table = tables.computeIfAbsent(bronze, b -> new ChangeTable(source, b));
        batch.send(table); // rows gathered so far have the old shape
        DSLContext db = Sql.using(batch.connection());
        if (applies(table) && batch.touched().contains(table)) {
            // The batch's changes so far have the old shape (and name), and the bronze table's columns are about to change (a
            // new one gets the value of the rows from before): they are applied first.
            applyThrough(db, table);
        }
        Optional<TableRef> renamedFrom = identities.lastName(relation.oid()).or(() -> Optional.of(table.source()))
            .filter(before -> !before.equals(source));
        if (renamedFrom.isPresent()) {
            // Later changes name the table as it is now; the rename is said once, with the change table's record.
            table.renamed(db, renamedFrom.get(), metadata.apply(source), runId, apply.isPresent())
                .forEach(c -> recorded.add(new Recorded(table.ref(), c, WriteMode.APPEND)));
        }
        identities.follow(batch.connection(), relation.oid(), source, bronze);
        ChangeTable.Followed followed = table.follow(db, relation, landing.apply(relation), metadata.apply(source), onSchemaChange, runId);
        schemaChanges.addAll(followed.done());
        followed.recorded().forEach(c -> recorded.add(new Recorded(table.ref(), c, WriteMode.APPEND)));
        relations.put(relation.oid(), table);
        oids.put(table, relation.oid());
        Optional.ofNullable(cuts.get(relation.oid())).ifPresent(cut -> applyCuts.put(table, cut));
        if (applies(table)) {
            followState(db, table, relation.oid());
        }
    }

    /** With --apply: the bronze table brought to the shape the change table follows (see {@link StateApply#follow}). */
    private void followState(DSLContext db, ChangeTable table, long oid) {
        ApplySource src = apply.orElseThrow();
        // No key (REPLICA IDENTITY FULL): the bronze table is kept as a multiset of whole rows.
        List<String> key = applyKeys.computeIfAbsent(table, t -> src.rowKey(oid));
        StateApply.Followed state = StateApply.follow(db, table, key, added -> src.olderRowValues(oid, added), onSchemaChange, runId);
        schemaChanges.addAll(state.done());
        warnings.addAll(state.warnings());
        // Kept equal to the source, as a replaced table is: its rows get the value the source's older rows have.
        state.recorded().forEach(c -> recorded.add(new Recorded(table.state(), c, WriteMode.REPLACE)));
    }

    /**
     * Applies the batch's changes of {@code table} not applied yet to its bronze table (--apply), once the values their
     * updates left unknown are filled.
     */
    private void applyThrough(DSLContext db, ChangeTable table) {
        StateApply.After from = appliedThrough.getOrDefault(table, StateApply.After.start(firstLsnOfBatch));
        TableSnapshot.Cut cut = applyCuts.get(table);
        if (cut != null && !cut.applies(from.lsn())) {
            // The changes before the cut are in the table's snapshot: applied again, a keyless table would hold their rows twice.
            from = StateApply.After.start(cut.lsn());
        }
        fillUnknown(db, table, from);
        StateApply.Unmatched missed = StateApply.apply(db, table, applyKeys.get(table), from, metadata.apply(table.source()));
        unmatched.merge(table, missed, StateApply.Unmatched::plus);
        appliedThrough.put(table, batch.lastChange());
    }

    /**
     * Fills the values the batch's changes of {@code table} after {@code from} left unknown. Changes applied already are
     * not looked at again: the bronze table now holds what they set, which is no image of the row from before.
     */
    private void fillUnknown(DSLContext db, ChangeTable table, StateApply.After from) {
        // An applied table's bronze table holds every earlier image; otherwise the change table does, since the slot began.
        batch.unknown().getOrDefault(table, Set.of()).forEach(column -> UnknownValues.fill(db, table, column, from,
            applies(table) ? firstLsnOfBatch : since));
    }

    /**
     * Sends every gathered row and fills unknown values, so the caller can commit with the checkpoint;
     * returns the LSN to commit as the checkpoint: the end of the last transaction taken.
     */
    Lsn finishBatch() throws SQLException {
        batch.sendAll();
        DSLContext db = Sql.using(batch.connection());
        if (apply.isPresent()) {
            for (ChangeTable table : batch.touched()) {
                if (applies(table)) {
                    applyThrough(db, table);
                } else {
                    fillUnknown(db, table, StateApply.After.start(firstLsnOfBatch));
                }
            }
        } else {
            batch.unknown().keySet().forEach(table -> fillUnknown(db, table, StateApply.After.start(firstLsnOfBatch)));
        }
        checkpoint = Lsn.max(checkpoint, lastCommitEnd);
        return checkpoint;
    }

    /** After the caller committed: the next batch starts empty. */
    void batchCommitted() {
        batch.clear();
        appliedThrough.clear();
        firstLsnOfBatch = null;
    }

    /** Whether a transaction's changes are being taken. */
    public boolean inTransaction() {
        return inTransaction;
    }

    /** Whether the batch holds changes (or skipped replays) not committed yet. */
    boolean hasUncommitted() {
        return !batch.isEmpty() || lastCommitEnd.isAfter(checkpoint);
    }

    long batchChanges() {
        return batch.changes();
    }

    long batchBytes() {
        return batch.bytes();
    }

    Map<String, Long> batchRowsPerTable() {
        return batch.rowsPerTable();
    }

    public long transactions() {
        return transactions;
    }

    long skippedTransactions() {
        return skippedTransactions;
    }

    public List<String> schemaChanges() {
        return schemaChanges;
    }

    /** The schema changes this capture recorded in bronze's schema_changes. */
    List<Recorded> recorded() {
        return recorded;
    }

    /**
     * What the run could not keep exact with --apply, in words: bronze tables kept without a key that a schema
     * change keeps from matching older rows, and the updates and deletes that found no row to change.
     */
    public List<String> warnings() {
        var all = new ArrayList<>(warnings);
        unmatched.forEach((table, missed) -> {
            if (missed.noEqualRow() + missed.noOldRow() > 0) {
                all.add("%d updates and deletes of %s could not be applied to %s (%s), so it differs from the source; run once with "
                    .formatted(missed.noEqualRow() + missed.noOldRow(), table.source(), table.state(), Stream.of(
                        missed.noEqualRow() > 0 ? missed.noEqualRow() + " found no equal row to remove" : "",
                        missed.noOldRow() > 0 ? missed.noOldRow() + " came without the whole old row" : "")
                    .filter(w -> !w.isEmpty()).collect(Collectors.joining(" and "))) + "--resnapshot " + table.source() + " to reload it");
            }
        });
        return all;
    }
}
