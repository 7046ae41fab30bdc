package datakit.cdc;

import datakit.bronze.BronzeTable;
import datakit.bronze.BronzeWrite;
import datakit.bronze.ConflictPolicy;
import datakit.bronze.SchemaPolicy;
import datakit.bronze.WriteMode;
import datakit.cdc.pgoutput.PgOutput;
import datakit.db.CopyPipe;
import datakit.db.Database;
import datakit.db.SqlErrors;
import datakit.error.DatakitException;
import datakit.report.RunContext;
import datakit.source.SchemaFingerprint;
import datakit.source.Selection;
import datakit.source.SourceSession;
import datakit.sql.Sql;
import datakit.sql.TableRef;
import datakit.wal.Lsn;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.jooq.exception.DataAccessException;

/**
 * One table loaded from a snapshot while its stream runs: a table new to the stream, one {@code --resnapshot} asks for
 * (all its rows, or those of a {@code --where}), every table of a slot made again after it was lost. The snapshot and the
 * stream meet at an exact WAL position, the cut, the way PostgreSQL's own table synchronization meets its subscription:
 * a temporary slot is made only for its exported snapshot, which holds every transaction that committed before the
 * slot's consistent point and none after. So for the table's changes in the stream:
 * <ul>
 *   <li>those that committed before the cut are in the snapshot: a table new to the stream does not write them to its
 *       change table (which begins at the cut), and with {@code --apply} no table applies them to its reloaded bronze table;</li>
 *   <li>those that committed at or after the cut are not: they land, and are applied, as every change.</li>
 * </ul>
 * Making the temporary slot waits for the transactions in progress to end, so a transaction that changed a table before it
 * joined the publication (and whose changes pgoutput therefore leaves out) has committed before the cut, into the snapshot.
 * The change table marks the cut with a row of its own ({@code _cdc_op = 'snapshot'}), and the stream's checkpoint keeps the
 * cut (state {@code tables -> <oid> -> snapshot}), so a run that starts again below it after a crash still knows.
 */
final class TableSnapshot {
    /** Why a table is loaded from a snapshot inside its stream, as its change table's mark says. */
    enum Reason {
        ADDED("added to the stream"),
        RESNAPSHOT("--resnapshot"),
        SLOT_LOST("the slot was lost and made again"),
        SNAPSHOT_ALWAYS("--snapshot always");

        private final String words;

        Reason(String words) {
            this.words = words;
        }

        String words() {
            return words;
        }
    }

    /**
     * Where a table's snapshot meets its stream, by the table's identity (oid).
     *
     * @param added   the table was new to the stream: its change table holds no change from before the cut
     * @param partial only the rows of a --where were loaded: the other rows of an --apply table still need every change
     */
    record Cut(long oid, Lsn lsn, boolean added, boolean partial) {
        /** Whether a change of the table that committed at {@code commitLsn} lands in its change table. */
        boolean lands(Lsn commitLsn) {
            return !added || !commitLsn.isBefore(lsn);
        }

        /** Whether, with --apply, a change that committed at {@code commitLsn} is applied to the bronze table. */
        boolean applies(Lsn commitLsn) {
            return partial || !commitLsn.isBefore(lsn);
        }
    }

    /** A snapshot landed: its cut, the bronze table and how many rows it loaded. */
    record Taken(Cut cut, TableRef table, TableRef bronze, long rows, Reason reason, Optional<String> where) {
        /** For the run's summary and details. */
        Map<String, Object> details() {
            var details = new LinkedHashMap<String, Object>();
            details.put("table", bronze.toString());
            details.put("at", cut.lsn().toString());
            details.put("rows", rows);
            details.put("reason", reason.words());
            where.ifPresent(w -> details.put("where", w));
            return details;
        }
    }

    /** The warehouse transaction a snapshot lands in: the run's own, begun and committed by the caller's rules. */
    @FunctionalInterface
    interface Landing {
        void in(Database.TransactionWork<Void> work) throws SQLException;
    }

    private final RunContext run;
    private final Database source;
    private final CdcSource src;
    private final CdcRequest request;
    private final StreamTables bronze;
    private final String bronzeSchema;
    private final SchemaPolicy onSchemaChange;

    TableSnapshot(RunContext run, Database source, CdcSource src, CdcRequest request, StreamTables bronze, String bronzeSchema,
                  SchemaPolicy onSchemaChange) {
        this.run = run;
        this.source = source;
        this.src = src;
        this.request = request;
        this.bronze = bronze;
        this.bronzeSchema = bronzeSchema;
        this.onSchemaChange = onSchemaChange;
    }

    /**
     * Makes the cut, reads {@code table} in its snapshot and lands it in {@code landing}'s transaction: the bronze table
     * (replaced, or with {@code where} upserted by key), the change table (made when missing) with its mark, the cut in
     * the checkpoint's state; with --apply, the column hashes the reloaded table reflects. The other tables' changes wait
     * meanwhile: this is how a run loads tables before it streams.
     */
    Taken take(TableRef table, Reason reason, Optional<String> where, TableIdentities identities, Landing landing) throws SQLException {
        try (Pending pending = cut(src, table, reason, where, identities, false)) {
            Taken[] taken = new Taken[1];
            landing.in(connection -> {
                copy(connection, pending);
                prepare(connection, pending, identities, false);
                taken[0] = land(connection, pending, identities);
                return null;
            });
            return taken[0];
        }
    }

    /**
     * A snapshot cut and imported, whose table is not copied yet: what the copy and the landing need. Closing it ends the
     * snapshot's transaction on the source (and a copy still reading in it).
     */
    static final class Pending implements AutoCloseable {
        final Cut cut;
        final TableRef table;
        final TableRef target;
        final Reason reason;
        final Optional<String> where;
        final List<String> key;
        final Map<PgOutput.Relation, Map<String, String>> landings;
        final SourceSession session;
        /** The source's pool of the session, when it has one of its own (a copy beside the stream, which uses the run's). */
        final Optional<Database> own;
        volatile long rows;
        volatile Map<String, String> hashes = Map.of();
        private final AtomicBoolean ended = new AtomicBoolean();

        private Pending(Cut cut, TableRef table, TableRef target, Reason reason, Optional<String> where, List<String> key,
                        Map<PgOutput.Relation, Map<String, String>> landings, SourceSession session, Optional<Database> own) {
            this.cut = cut;
            this.table = table;
            this.target = target;
            this.reason = reason;
            this.where = where;
            this.key = key;
            this.landings = landings;
            this.session = session;
            this.own = own;
        }

        Cut cut() {
            return cut;
        }

        TableRef table() {
            return table;
        }

        /** Ends the snapshot's transaction on the source (once, from whichever thread comes first). */
        void endSnapshot() {
            if (ended.compareAndSet(false, true)) {
                session.close();
            }
        }

        @Override
        public void close() {
            try {
                endSnapshot();
            } finally {
                own.ifPresent(Database::close);
            }
        }
    }

    /**
     * Makes the cut: a temporary slot whose exported snapshot a source session imports, before the slot's session ends (which
     * ends that snapshot). {@code asked} answers the questions about the table (the run's source connection, or beside the
     * stream one of the copy's own). With {@code ownConnection} the session comes from a pool of its own, so a copy may hold
     * it while the stream asks the source for what it needs.
     */
    Pending cut(CdcSource asked, TableRef table, Reason reason, Optional<String> where, TableIdentities identities, boolean ownConnection)
            throws SQLException {
        identities.know(asked, List.of(table));
        List<String> key = asked.rowKey(table);
        TableRef target = identities.bronze(table);
        long oid = asked.oids(List.of(table)).getOrDefault(table, 0L);
        DatakitException.check(oid != 0, "%s is no longer on the source, so it cannot be loaded from a snapshot.", table);
        if (where.isEmpty()) {
            bronze.refuseReplacingUnderViews(table, target, reason.words());
        }
        Optional<Database> own = ownConnection ? Optional.of(Database.open(source.settings(), Database.Access.READ_ONLY))
            : Optional.empty();
        try (ReplicationSession cutter = ReplicationSession.open(source.settings())) {
            ReplicationSession.NewSlot made = makeCut(cutter, table, reason);
            // Everything the snapshot serves is imported before the cutter's next command (its end), which ends the snapshot.
            var landings = bronze.landings(asked.relations(List.of(table), request.publication(), Optional.of(made.snapshot())));
            SourceSession session = SourceSession.begin(own.orElse(source), Optional.of(made.snapshot()));
            Cut cut = new Cut(oid, made.consistentPoint(), reason == Reason.ADDED, where.isPresent());
            run.info("%s: snapshot at %s (%s)".formatted(table, cut.lsn(), reason.words()));
            return new Pending(cut, table, target, reason, where, key, landings, session, own);
        } catch (SQLException | RuntimeException e) {
            own.ifPresent(Database::close);
            throw e;
        }
    }

    /**
     * Copies the table as the snapshot holds it into its bronze table, in the caller's transaction (replaced, or with a
     * --where upserted by key); with --apply and the whole table, reads the column hashes it reflects. Writes nothing the
     * stream's own transactions write, so it may run beside them.
     */
    void copy(Connection transaction, Pending pending) throws SQLException {
        var write = pending.where.isPresent() ? new BronzeWrite(WriteMode.MERGE, pending.key, ConflictPolicy.OVERWRITE, onSchemaChange)
            : new BronzeWrite(WriteMode.REPLACE, request.apply() ? pending.key : List.of(), ConflictPolicy.OVERWRITE, onSchemaChange);
        Selection whole = Selection.table(pending.table);
        if (pending.where.isPresent()) {
            replaceRowsOf(transaction, pending.target, pending.where.get());
        }
        CopyPipe.Result copied = bronze.load(transaction, pending.session, pending.where.map(whole::where).orElse(whole), pending.target,
            write);
        pending.rows = copied.rows();
        if (request.apply() && pending.where.isEmpty()) {
            pending.hashes = SchemaFingerprint.read(pending.session, whole).columns();
        }
    }

    /**
     * A partial reload replaces the rows of its condition: the bronze rows that match it go first, so a row bronze holds and
     * the source no longer has (or no longer within the condition) does not stay. The condition is evaluated on the bronze
     * table's columns, which carry the source's names.
     */
    private static void replaceRowsOf(Connection transaction, TableRef target, String condition) {
        var db = Sql.using(transaction);
        if (BronzeTable.inspect(db, target).isEmpty()) {
            return;
        }
        try {
            db.execute("DELETE FROM " + target.sql() + " WHERE " + condition);
        } catch (DataAccessException e) {
            throw DatakitException.badInput("--where %s cannot be evaluated on %s, whose rows that match it a partial reload replaces: %s. "
                + "Give a condition on columns the bronze table has too.", condition, target, SqlErrors.serverMessage(e));
        }
    }

    /**
     * Readies the stream for the table's changes from the cut on, in the caller's transaction: its change table (made when
     * missing; a table new to the stream holds no change from before its cut, such as those an earlier try that died left),
     * the table followed by identity, and the cut; {@code loading} while its copy is not in yet.
     */
    void prepare(Connection transaction, Pending pending, TableIdentities identities, boolean loading) {
        bronze.prepareChangeTables(transaction, src, pending.landings, request, identities);
        identities.followAll(transaction, List.of(pending.table));
        if (pending.cut.added()) {
            deleteBeforeCut(transaction, pending);
        }
        new SlotCheckpoint(bronzeSchema).saveCut(transaction, request.stream(), pending.cut, loading);
    }

    private static void deleteBeforeCut(Connection transaction, Pending pending) {
        Sql.using(transaction).execute("DELETE FROM " + new ChangeTable(pending.table, pending.target).ref().sql() + " WHERE _cdc_lsn < "
            + Sql.literal(pending.cut.lsn().toString()) + "::pg_lsn");
    }

    /**
     * Readies the stream for a table new to it whose cut is made beside the stream ({@link #cut} on the copy's thread), in the
     * caller's transaction: its change table, made from the source's catalog now, the table followed by identity, and the
     * table marked loading. Its changes land from now on; those before its cut are in its snapshot, and go at its landing.
     */
    void prepareLoading(Connection transaction, TableRef table, long oid, TableIdentities identities) {
        identities.know(src, List.of(table));
        bronze.prepareChangeTables(transaction, src, bronze.landings(src.relations(List.of(table), request.publication(), Optional.empty())),
            request, identities);
        identities.followAll(transaction, List.of(table));
        new SlotCheckpoint(bronzeSchema).saveLoading(transaction, request.stream(), oid);
    }

    /**
     * Once the copy is in, in the caller's transaction: a table new to the stream loses the change rows from before its cut
     * (they are in its snapshot; they landed while the cut was made beside the stream), then the change table's mark, the
     * column hashes, and the cut, no longer loading.
     */
    Taken land(Connection transaction, Pending pending, TableIdentities identities) {
        if (pending.cut.added()) {
            deleteBeforeCut(transaction, pending);
        }
        var taken = new Taken(pending.cut, pending.table, pending.target, pending.rows, pending.reason, pending.where);
        identities.keepColumnHashes(transaction, pending.table, pending.hashes);
        mark(transaction, new ChangeTable(pending.table, pending.target), taken, Optional.empty());
        new SlotCheckpoint(bronzeSchema).saveCut(transaction, request.stream(), pending.cut, false);
        return taken;
    }

    /**
     * The change table's row that marks the cut: {@code _cdc_op} 'snapshot' at the cut's LSN, before every change of the
     * transactions that commit there ({@code _cdc_seq} 0), the source's columns NULL, and in {@code _cdc_old} what was
     * loaded: {@code {"reason", "rows"}}, and {@code "where"} for a partial one, {@code "gap_from"} after a lost slot.
     */
    private void mark(Connection transaction, ChangeTable changes, Taken taken, Optional<Lsn> gapFrom) {
        var note = new LinkedHashMap<String, Object>(Map.of("reason", taken.reason().words(), "rows", taken.rows()));
        taken.where().ifPresent(w -> note.put("where", w));
        gapFrom.ifPresent(lsn -> note.put("gap_from", lsn.toString()));
        String json = note.entrySet().stream().map(e -> Sql.literal(e.getKey()) + ", " + (e.getValue() instanceof Long n ? n.toString()
            : Sql.literal(e.getValue().toString()))).collect(Collectors.joining(", ", "jsonb_build_object(", ")"));
        var metadata = bronze.metadata(taken.table());
        List<String> columns = Stream.concat(Stream.of("_cdc_lsn", "_cdc_seq", "_cdc_op", "_cdc_commit_ts", "_cdc_old"),
            metadata.columns().stream().map(c -> c.name())).map(Sql::quote).toList();
        List<String> values = Stream.concat(Stream.of(Sql.literal(taken.cut().lsn().toString()) + "::pg_lsn", "0", "'snapshot'",
            "clock_timestamp()", json), metadata.valueExpressions().stream()).toList();
        Sql.using(transaction).execute("INSERT INTO " + changes.ref().sql() + " (" + String.join(", ", columns) + ") VALUES ("
            + String.join(", ", values) + ")");
    }

    /**
     * Every table of a slot made again ({@code reason}: it was lost, or --snapshot always): the new slot's snapshot loaded them
     * all ({@code rows} by bronze table), so each change table gets the mark of that snapshot, with where its gap began
     * ({@code gapFrom}, the checkpoint bronze held).
     */
    void markGap(Connection transaction, List<TableRef> tables, Map<String, Long> rows, TableIdentities identities, Lsn at, Lsn gapFrom,
                 Reason reason) {
        for (TableRef table : tables) {
            TableRef target = identities.bronze(table);
            var taken = new Taken(new Cut(0, at, false, false), table, target, rows.getOrDefault(target.toString(), 0L), reason,
                Optional.empty());
            mark(transaction, new ChangeTable(table, target), taken, Optional.of(gapFrom));
        }
    }

    /** The temporary slot of the cut; a server with no slot free says so in the words of this run. */
    private ReplicationSession.NewSlot makeCut(ReplicationSession cutter, TableRef table, Reason reason) throws SQLException {
        try {
            return cutter.createCutSlot(cutSlotName());
        } catch (SQLException e) {
            if ("53400".equals(e.getSQLState())) {
                throw DatakitException.notReady(("Loading %s from a snapshot inside the stream (%s) needs one more replication slot for a moment "
                    + "(a temporary one, for its snapshot), and every slot of the source is in use (%s). Drop a slot no stream reads "
                    + "(postgres-health lists them), or raise max_replication_slots, then run again.").formatted(table, reason.words(),
                    SqlErrors.serverMessage(e)));
            }
            throw e;
        }
    }

    /** A name no other slot has: the temporary slot is gone when its session ends. */
    private String cutSlotName() {
        return "datakit_cut_%d_%08x".formatted(ProcessHandle.current().pid(), ThreadLocalRandom.current().nextInt());
    }
}
