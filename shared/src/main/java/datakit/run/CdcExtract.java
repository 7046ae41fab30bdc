package datakit.run;

import datakit.bronze.BronzeLoad;
import datakit.bronze.BronzeMetadata;
import datakit.bronze.BronzeWrite;
import datakit.bronze.ConflictPolicy;
import datakit.bronze.WriteMode;
import datakit.cdc.CdcSource;
import datakit.cdc.PgOutput;
import datakit.cdc.ReplicationSession;
import datakit.cdc.SlotCheckpoint;
import datakit.cli.DatakitException;
import datakit.cli.ExitCode;
import datakit.db.Database;
import datakit.db.Migrations;
import datakit.db.SqlErrors;
import datakit.source.LandingTypes;
import datakit.source.ReadPlan;
import datakit.source.Selection;
import datakit.source.SourceSession;
import datakit.sql.Sql;
import datakit.sql.TableRef;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;
import java.util.stream.Collectors;
import org.jooq.exception.DataAccessException;
import org.postgresql.replication.LogSequenceNumber;

/**
 * Change data capture into bronze: sets up the publication and slot, loads the tables from the slot's
 * snapshot when it is made, then streams the slot's changes into {@code <table>__changes} tables (see
 * {@link ChangeStream}). One run per slot at a time; the slot's position moves only after the
 * warehouse committed the changes before it.
 */
public final class CdcExtract {
    static final String EXTRACTION_TYPE = "cdc";

    private final RunContext run;
    private final Database source;
    private final Database warehouse;
    private final boolean haltAfterCommit;
    /** Rows loaded from the slot's snapshot into each bronze table, when this run made the slot. */
    private Map<String, Long> snapshotRows = Map.of();

    /** @param haltAfterCommit fault injection for the crash tests: end the process right after the first warehouse commit */
    public CdcExtract(RunContext run, Database source, Database warehouse, boolean haltAfterCommit) {
        this.run = run;
        this.source = source;
        this.warehouse = warehouse;
        this.haltAfterCommit = haltAfterCommit;
    }

    public void capture(CdcRequest request, String bronzeSchema) {
        try (CdcSource src = CdcSource.open(source.settings())) {
            src.checkReady();
            if (request.dropSlot()) {
                dropSlot(src, request, bronzeSchema);
                return;
            }
            // What the stream will carry: the tables asked for, and any other table the publication holds.
            boolean publicationExists = src.publicationExists(request.publication());
            var captured = new TreeSet<TableRef>(Comparator.comparing(TableRef::toString));
            captured.addAll(request.tables());
            if (publicationExists) {
                captured.addAll(src.published(request.publication()));
            } else if (request.tables().isEmpty()) {
                captured.addAll(src.allTables());
            }
            List<TableRef> tables = List.copyOf(captured);
            src.checkKeys(tables);
            if (request.apply()) {
                tables.forEach(t -> DatakitException.check(!src.rowKey(t).isEmpty(), "--apply keeps rows by key, and %s has no primary key "
                    + "or replica identity index. Add a primary key, or capture it without --apply.", t));
            }
            checkNames(tables, bronzeSchema);
            run.info("checked the source: %d tables to capture".formatted(tables.size()));
            if (run.dryRun()) {
                printPlan(src, request, tables, bronzeSchema);
                return;
            }
            Migrations.apply(warehouse.dataSource(), bronzeSchema).forEach(m -> run.info("applied migration " + m + " to " + bronzeSchema));
            run.info("checked the migrations of " + bronzeSchema);
            var runs = new RunLog(bronzeSchema);
            runs.start(warehouse, new RunLog.RunRecord(run.runId(), run.datakit(), source.settings().describe(),
                Optional.of(tables.isEmpty() ? "all tables" : tables.stream().map(TableRef::toString).collect(Collectors.joining(", "))),
                request.stream(), EXTRACTION_TYPE, WriteMode.APPEND.label(),
                Map.of("slot", request.slot(), "publication", request.publication())));
            try (Connection lock = warehouse.connect()) {
                if (!StreamLock.tryForSession(lock, request.stream())) {
                    throw StreamLock.busy(lock, request.stream(), runs, run.runId());
                }
                runs.abandonStale(lock, request.stream(), run.runId());
                stream(src, request, tables, bronzeSchema, runs);
            } catch (SQLException | RuntimeException e) {
                var error = SqlErrors.failure("Capturing the changes of slot " + request.slot(), e);
                runs.recordFailure(warehouse, run, error.getMessage());
                throw error;
            }
        }
    }

    private void stream(CdcSource src, CdcRequest request, List<TableRef> tables, String bronzeSchema, RunLog runs) throws SQLException {
        var checkpoints = new SlotCheckpoint(bronzeSchema);
        Optional<SlotCheckpoint.Stored> stored;
        try (Connection connection = warehouse.connect()) {
            stored = checkpoints.read(connection, request.stream());
        }
        Optional<CdcSource.Slot> slot = src.slot(request.slot());
        slot.ifPresent(src::checkSlotUsable);
        boolean ours = stored.filter(s -> s.lsn().isEmpty() && request.slot().equals(s.slot())).isPresent();
        if (slot.isPresent() && (request.snapshotAlways() || ours)) {
            run.info("dropping slot " + request.slot() + (ours ? ": a run that was creating it ended before its snapshot committed" : ""));
            src.dropSlot(request.slot());
            slot = Optional.empty();
        }
        if (slot.isPresent() && stored.flatMap(SlotCheckpoint.Stored::lsn).isEmpty() && !request.snapshotNever()) {
            throw new DatakitException(ExitCode.BAD_INPUT, ("Replication slot %s exists, but bronze has no checkpoint for it, so its "
                + "changes cannot be matched to a snapshot. Use --snapshot never to stream from the slot's position, or "
                + "--drop-slot to start over.").formatted(request.slot()));
        }
        if (slot.isEmpty() && stored.flatMap(SlotCheckpoint.Stored::lsn).isPresent() && !request.snapshotAlways()) {
            run.warn("slot " + request.slot() + " is gone since the last run; changes made since then are lost to __changes"
                + (request.snapshotNever() ? "" : ", and the snapshot of the new slot brings the bronze tables up to date"));
        }
        List<TableRef> published = src.ensurePublication(request.publication(), request.tables());
        run.info("publication " + request.publication() + " ready");
        try (ReplicationSession replication = ReplicationSession.open(source.settings())) {
            run.info("opened the replication connection");
            String start;
            String since;
            if (slot.isEmpty()) {
                try (Connection connection = warehouse.connect()) {
                    checkpoints.save(connection, request.stream(), request.slot(), request.publication(), null, null, run.runId());
                }
                ReplicationSession.NewSlot created = replication.createSlot(request.slot());
                start = created.consistentPoint().asString();
                since = start;
                Map<String, Long> loaded = request.snapshotNever() ? Map.of()
                    : loadSnapshot(src, created.snapshot(), published, bronzeSchema, request, start, runs);
                if (request.snapshotNever()) {
                    try (Connection connection = warehouse.connect()) {
                        checkpoints.save(connection, request.stream(), request.slot(), request.publication(), start, start, run.runId());
                    }
                }
                run.info("created slot %s at %s%s".formatted(request.slot(), start, loaded.isEmpty() ? "" : "; snapshot " + loaded));
                snapshotRows = loaded;
            } else {
                start = stored.flatMap(SlotCheckpoint.Stored::lsn).orElse(slot.get().confirmedFlush().orElse("0/0"));
                since = stored.filter(s -> s.lsn().isPresent()).flatMap(SlotCheckpoint.Stored::since).orElse(start);
                if (stored.flatMap(SlotCheckpoint.Stored::lsn).isEmpty()) {
                    try (Connection connection = warehouse.connect()) {
                        checkpoints.save(connection, request.stream(), request.slot(), request.publication(), start, start, run.runId());
                    }
                }
            }
            var changes = new ChangeStream(run, source, src, replication, warehouse, request, bronzeSchema, this::landing, this::metadata,
                haltAfterCommit);
            ChangeStream.Result result = changes.run(LogSequenceNumber.valueOf(start), LogSequenceNumber.valueOf(since), runs);
            try {
                summarize(request, bronzeSchema, result);
            } finally {
                changes.finished();
            }
        }
    }

    /**
     * Loads every published table from the slot's snapshot into its bronze table, in one warehouse
     * transaction with the checkpoint at the slot's starting point: the stream then begins exactly
     * where the snapshot ends.
     */
    private Map<String, Long> loadSnapshot(CdcSource src, String snapshot, List<TableRef> tables, String bronzeSchema, CdcRequest request, String start,
                                           RunLog runs) throws SQLException {
        var rows = new LinkedHashMap<String, Long>();
        try (SourceSession session = SourceSession.begin(source, Optional.of(snapshot))) {
            warehouse.inTransaction(connection -> {
                long total = 0;
                long bytes = 0;
                for (TableRef table : tables) {
                    ReadPlan plan = session.plan(Selection.table(table));
                    TableRef target = TableRef.of(bronzeSchema, table.table());
                    // With --apply the table is kept by key from now on, so it gets its unique index now.
                    var write = new BronzeWrite(WriteMode.REPLACE, request.apply() ? src.rowKey(table) : List.of(), ConflictPolicy.OVERWRITE);
                    var load = new BronzeLoad(Sql.using(connection), plan, target, write, metadata(table));
                    var copied = CopyIntoBronze.copy(run, connection, session, plan, load.prepare());
                    load.finish(copied.rows());
                    rows.put(target.toString(), copied.rows());
                    total += copied.rows();
                    bytes += copied.bytes();
                }
                new SlotCheckpoint(bronzeSchema).save(connection, request.stream(), request.slot(), request.publication(), start, start,
                    run.runId());
                runs.addProgress(connection, run.runId(), total, bytes);
                return null;
            });
        }
        return rows;
    }

    /**
     * The bronze type of each column of a relation, by name, from the type the Relation message gives
     * it (the type the column had when the change was made, which the source catalog may have changed
     * since); text for a type the catalog no longer has.
     */
    private Map<String, String> landing(PgOutput.Relation relation) {
        var types = new LinkedHashMap<String, String>();
        try (Connection connection = source.connect()) {
            var landing = new LandingTypes(Sql.using(connection));
            for (PgOutput.Column column : relation.columns()) {
                String type;
                try {
                    type = landing.bronzeType(column.typeOid(), column.typmod());
                } catch (IllegalStateException dropped) {
                    type = "text";
                }
                types.put(column.name(), type);
            }
        } catch (SQLException e) {
            throw SqlErrors.failure("Reading the types of " + relation.namespace() + "." + relation.name() + " on the source", e);
        }
        return types;
    }

    private BronzeMetadata metadata(TableRef table) {
        return BronzeMetadata.of(run.runId(), source.settings().describe(), Optional.of(table.schema()), Optional.of(table.table()),
            EXTRACTION_TYPE);
    }

    private void checkNames(List<TableRef> tables, String bronzeSchema) {
        var seen = new HashMap<String, TableRef>();
        for (TableRef table : tables) {
            TableRef other = seen.put(table.table(), table);
            DatakitException.check(other == null, "%s and %s would both land in %s. Capture them with separate slots and --target-schema.",
                other, table, TableRef.of(bronzeSchema, table.table()));
        }
    }

    private void dropSlot(CdcSource src, CdcRequest request, String bronzeSchema) {
        Optional<CdcSource.Slot> slot = src.slot(request.slot());
        slot.ifPresent(src::checkSlotUsable);
        if (run.dryRun()) {
            run.out().println("postgres-cdc would drop slot " + slot.map(s -> s.name() + " (it keeps " + Sizes.bytes(s.retainedBytes())
                + " of WAL)").orElse(request.slot() + ": it does not exist") + " and the checkpoint of " + request.stream());
            run.out().flush();
            return;
        }
        slot.ifPresent(s -> src.dropSlot(s.name()));
        if (!Migrations.pending(warehouse.dataSource(), bronzeSchema).contains("V1")) {
            try {
                warehouse.inTransaction(connection -> {
                    new SlotCheckpoint(bronzeSchema).delete(connection, request.stream());
                    return null;
                });
            } catch (SQLException | DataAccessException e) {
                throw SqlErrors.failure("Deleting the checkpoint of " + request.stream(), e);
            }
        }
        var details = new LinkedHashMap<String, Object>();
        details.put("slot", slot.map(s -> "dropped " + s.name() + "; the server no longer keeps WAL for it (it kept "
            + Sizes.bytes(s.retainedBytes()) + ")").orElse(request.slot() + " did not exist"));
        details.put("next run", "makes a new slot" + (request.snapshotNever() ? "" : " and loads the tables from its snapshot")
            + "; changes made until then are not captured");
        new RunSummary("succeeded", run.datakit(), run.runId(), source.settings().describe(), "slot " + request.slot(), bronzeSchema,
            "none", 0, 0, 0, details).print(run);
    }

    private void printPlan(CdcSource src, CdcRequest request, List<TableRef> tables, String bronzeSchema) {
        Optional<CdcSource.Slot> slot = src.slot(request.slot());
        run.out().println("postgres-cdc would capture " + (tables.isEmpty() ? "all tables" : tables.stream().map(TableRef::toString)
            .collect(Collectors.joining(", "))) + " into " + bronzeSchema);
        run.out().println("  publication " + request.publication() + (src.publicationExists(request.publication()) ? " (exists)" : " (would be created)"));
        run.out().println("  slot        " + request.slot() + slot.map(s -> " (exists, " + Sizes.bytes(s.lagBytes()) + " behind)")
            .orElse(" (would be created" + (request.snapshotNever() ? ")" : ", and the tables loaded from its snapshot)")));
        run.out().flush();
    }

    private void summarize(CdcRequest request, String bronzeSchema, ChangeStream.Result result) {
        var details = new LinkedHashMap<String, Object>();
        if (!snapshotRows.isEmpty()) {
            details.put("snapshot", snapshotRows);
        }
        details.put("commits", result.transactions());
        if (result.replaysSkipped() > 0) {
            details.put("replayed", result.replaysSkipped() + " transactions the warehouse already had, skipped");
        }
        details.put("changes", result.rowsPerTable().isEmpty() ? "none" : result.rowsPerTable());
        if (!result.schemaChanges().isEmpty()) {
            details.put("schema", result.schemaChanges());
        }
        details.put("checkpoint", result.checkpoint());
        if (result.reconnections() > 0) {
            details.put("reconnects", result.reconnections() + " (the replication connection was lost and taken up again)");
        }
        result.slot().ifPresent(s -> {
            run.gauge("slot_lag_bytes", s.lagBytes());
            run.gauge("slot_retained_wal_bytes", s.retainedBytes());
            details.put("slot lag", Sizes.bytes(s.lagBytes()));
            details.put("wal kept", Sizes.bytes(s.retainedBytes()));
            // Lag, not retained WAL: right after a run caught up, the server frees the WAL behind the slot only
            // at its next checkpoint or running-transactions record, so retained WAL would warn after every big run.
            if (s.lagBytes() > request.lagWarning()) {
                run.warn("slot %s is %s behind the source's WAL (it keeps %s), more than --lag-warning %s: run this stream more often, or "
                    .formatted(s.name(), Sizes.bytes(s.lagBytes()), Sizes.bytes(s.retainedBytes()), Sizes.bytes(request.lagWarning()))
                    + "drop the slot if it is no longer read");
            }
        });
        long rows = result.changes() + snapshotRows.values().stream().mapToLong(Long::longValue).sum();
        new RunSummary("succeeded", run.datakit(), run.runId(), source.settings().describe(), "slot " + request.slot(), bronzeSchema,
            WriteMode.APPEND.label(), rows, result.bytes(), result.durationMs(), details).print(run);
    }
}
