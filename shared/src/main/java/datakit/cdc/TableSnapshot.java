package datakit.cdc;

import datakit.bronze.BronzeWrite;
import datakit.bronze.ConflictPolicy;
import datakit.bronze.SchemaPolicy;
import datakit.bronze.WriteMode;
import datakit.cdc.pgoutput.PgOutput;
import datakit.db.CopyPipe;
import datakit.db.Database;
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
import java.util.stream.Collectors;
import java.util.stream.Stream;

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
        SLOT_LOST("the slot was lost and made again");

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
     * the checkpoint's state; with --apply, the column hashes the reloaded table reflects.
     */
    Taken take(TableRef table, Reason reason, Optional<String> where, TableIdentities identities, Landing landing) throws SQLException {
        identities.know(src, List.of(table));
        List<String> key = src.rowKey(table);
        TableRef target = identities.bronze(table);
        long oid = src.oids(List.of(table)).getOrDefault(table, 0L);
        DatakitException.check(oid != 0, "%s is no longer on the source, so it cannot be loaded from a snapshot.", table);
        ReplicationSession.NewSlot made;
        Map<PgOutput.Relation, Map<String, String>> landings;
        SourceSession session;
        try (ReplicationSession cutter = ReplicationSession.open(source.settings())) {
            made = cutter.createCutSlot(cutSlotName());
            // Everything the snapshot serves is imported before the cutter's next command (its end), which ends the snapshot.
            landings = bronze.landings(src.relations(List.of(table), request.publication(), Optional.of(made.snapshot())));
            session = SourceSession.begin(source, Optional.of(made.snapshot()));
        }
        Cut cut = new Cut(oid, made.consistentPoint(), reason == Reason.ADDED, where.isPresent());
        run.info("%s: snapshot at %s (%s)".formatted(table, cut.lsn(), reason.words()));
        long[] rows = new long[1];
        try (session) {
            landing.in(connection -> {
                var write = where.isPresent() ? new BronzeWrite(WriteMode.MERGE, key, ConflictPolicy.OVERWRITE, onSchemaChange)
                    : new BronzeWrite(WriteMode.REPLACE, request.apply() ? key : List.of(), ConflictPolicy.OVERWRITE, onSchemaChange);
                Selection selection = where.map(condition -> Selection.table(table).where(condition)).orElse(Selection.table(table));
                CopyPipe.Result copied = bronze.load(connection, session, selection, target, write);
                rows[0] = copied.rows();
                bronze.prepareChangeTables(connection, src, landings, request, identities);
                identities.followAll(connection, List.of(table));
                if (request.apply() && where.isEmpty()) {
                    identities.keepColumnHashes(connection, table, SchemaFingerprint.read(session, Selection.table(table)).columns());
                }
                var taken = new Taken(cut, table, target, copied.rows(), reason, where);
                mark(connection, new ChangeTable(table, target), taken, Optional.empty());
                new SlotCheckpoint(bronzeSchema).saveCut(connection, request.stream(), cut);
                return null;
            });
        }
        return new Taken(cut, table, target, rows[0], reason, where);
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
     * Every table of a slot made again after it was lost: the new slot's snapshot loaded them all ({@code rows} by bronze
     * table), so each change table gets the mark of that snapshot, with where its gap began ({@code gapFrom}, the checkpoint
     * bronze held).
     */
    void markLostSlot(Connection transaction, List<TableRef> tables, Map<String, Long> rows, TableIdentities identities, Lsn at,
                      Lsn gapFrom) {
        for (TableRef table : tables) {
            TableRef target = identities.bronze(table);
            var taken = new Taken(new Cut(0, at, false, false), table, target, rows.getOrDefault(target.toString(), 0L), Reason.SLOT_LOST,
                Optional.empty());
            mark(transaction, new ChangeTable(table, target), taken, Optional.of(gapFrom));
        }
    }

    /** A name no other slot has: the temporary slot is gone when its session ends. */
    private String cutSlotName() {
        return "datakit_cut_%d_%08x".formatted(ProcessHandle.current().pid(), ThreadLocalRandom.current().nextInt());
    }
}
