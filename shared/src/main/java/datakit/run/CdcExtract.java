package datakit.run;

import datakit.bronze.BronzeLoad;
import datakit.bronze.BronzeMetadata;
import datakit.bronze.BronzeTable;
import datakit.bronze.BronzeWrite;
import datakit.bronze.ConflictPolicy;
import datakit.bronze.WriteMode;
import datakit.cdc.CdcSource;
import datakit.cdc.ChangeTable;
import datakit.cdc.PgOutput;
import datakit.cdc.Publications;
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
import java.util.ArrayList;
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
    /** Change tables (and --apply bronze tables) made before the stream, in words. */
    private final List<String> prepared = new ArrayList<>();

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
            boolean publicationExists = src.publications().exists(request.publication());
            if (publicationExists) {
                src.publications().checkPartitionsPublishedWhole(request.publication());
            }
            src.publications().require(request.publication(), request.tables());
            var captured = new TreeSet<TableRef>(Comparator.comparing(TableRef::toString));
            captured.addAll(request.tables());
            if (publicationExists) {
                captured.addAll(src.publications().tables(request.publication()));
            } else if (request.tables().isEmpty()) {
                captured.addAll(src.allTables());
            }
            List<TableRef> tables = List.copyOf(captured);
            src.checkNoPartitionWithItsParent(tables);
            src.checkKeys(tables);
            checkNames(tables, bronzeSchema);
            run.info("checked the source: %d tables to capture".formatted(tables.size()));
            if (run.dryRun()) {
                CdcDryRun.plan(run, source.settings(), warehouse, src, request, tables, bronzeSchema);
                return;
            }
            Migrations.apply(warehouse.dataSource(), bronzeSchema).forEach(m -> run.info("applied migration " + m + " to " + bronzeSchema));
            run.info("checked the migrations of " + bronzeSchema);
            var runs = new RunLog(bronzeSchema);
            runs.start(warehouse, new RunLog.RunRecord(run.runId(), run.datakit(), source.settings().describe(),
                Optional.of(tables.isEmpty() ? "all tables" : tables.stream().map(TableRef::toString).collect(Collectors.joining(", "))),
                request.stream(), EXTRACTION_TYPE, WriteMode.APPEND.label(),
                Map.of("slot", request.slot(), "publication", request.publication())));
            try (StreamLock lock = StreamLock.exclusive(warehouse, request.stream(), runs, run.runId())) {
                runs.abandonStale(warehouse, request.stream(), run.runId());
                stream(src, request, tables, bronzeSchema, runs, lock);
            } catch (SQLException | RuntimeException e) {
                var error = SqlErrors.failure("Capturing the changes of slot " + request.slot(), e);
                runs.recordFailure(warehouse, run, error.getMessage());
                throw error;
            }
        }
    }

    private void stream(CdcSource src, CdcRequest request, List<TableRef> tables, String bronzeSchema, RunLog runs, StreamLock lock)
            throws SQLException {
        var checkpoints = new SlotCheckpoint(bronzeSchema);
        Optional<SlotCheckpoint.Stored> stored = warehouse.inTransaction(connection -> checkpoints.read(connection, request.stream()));
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
        Publications.Ready publication = src.publications().ensure(request.publication(), request.tables());
        List<TableRef> published = publication.tables();
        run.info("publication " + request.publication() + (publication.created() ? " created" : " ready"));
        try (ReplicationSession replication = ReplicationSession.open(source.settings())) {
            run.info("opened the replication connection");
            String start;
            String since;
            if (slot.isEmpty()) {
                warehouse.inTransaction(connection -> {
                    checkpoints.save(connection, request.stream(), request.slot(), request.publication(), null, null, run.runId());
                    if (publication.created()) {
                        checkpoints.notePublicationCreated(connection, request.stream());
                    }
                    return null;
                });
                ReplicationSession.NewSlot created = replication.createSlot(request.slot());
                start = created.consistentPoint().asString();
                since = start;
                // The tables' shapes as of the slot's snapshot, read before the replication connection's next command.
                List<PgOutput.Relation> relations = src.relations(published, request.publication(), Optional.of(created.snapshot()));
                Map<String, Long> loaded = request.snapshotNever() ? Map.of()
                    : loadSnapshot(src, created.snapshot(), published, relations, bronzeSchema, request, start, runs, lock);
                if (request.snapshotNever()) {
                    String position = start;
                    warehouse.inTransaction(connection -> {
                        prepareChangeTables(connection, src, relations, bronzeSchema, request);
                        checkpoints.save(connection, request.stream(), request.slot(), request.publication(), position, position, run.runId());
                        return null;
                    });
                }
                run.info("created slot %s at %s%s".formatted(request.slot(), start, loaded.isEmpty() ? "" : "; snapshot " + loaded));
                snapshotRows = loaded;
            } else {
                start = stored.flatMap(SlotCheckpoint.Stored::lsn).orElse(slot.get().confirmedFlush().orElse("0/0"));
                since = stored.filter(s -> s.lsn().isPresent()).flatMap(SlotCheckpoint.Stored::since).orElse(start);
                if (stored.flatMap(SlotCheckpoint.Stored::lsn).isEmpty()) {
                    String position = start;
                    warehouse.inTransaction(connection -> {
                        checkpoints.save(connection, request.stream(), request.slot(), request.publication(), position, position, run.runId());
                        return null;
                    });
                }
                // A table new to the stream (added to the publication since) gets its change table now, too.
                List<TableRef> unprepared = withoutChangeTable(published, bronzeSchema);
                List<PgOutput.Relation> relations = unprepared.isEmpty() ? List.of()
                    : src.relations(unprepared, request.publication(), Optional.empty());
                warehouse.inTransaction(connection -> {
                    prepareChangeTables(connection, src, relations, bronzeSchema, request);
                    if (publication.created()) {
                        checkpoints.notePublicationCreated(connection, request.stream());
                    }
                    return null;
                });
            }
            var changes = new ChangeStream(run, source, src, replication, warehouse, request, bronzeSchema, this::landing, this::metadata,
                haltAfterCommit);
            ChangeStream.Result result = changes.run(LogSequenceNumber.valueOf(start), LogSequenceNumber.valueOf(since), runs, lock);
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
    private Map<String, Long> loadSnapshot(CdcSource src, String snapshot, List<TableRef> tables, List<PgOutput.Relation> relations,
                                           String bronzeSchema, CdcRequest request, String start, RunLog runs, StreamLock lock)
            throws SQLException {
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
                prepareChangeTables(connection, src, relations, bronzeSchema, request);
                new SlotCheckpoint(bronzeSchema).save(connection, request.stream(), request.slot(), request.publication(), start, start,
                    run.runId());
                runs.addProgress(connection, run.runId(), total, bytes);
                lock.confirm(connection);
                return null;
            });
        }
        return rows;
    }

    /**
     * Creates the change table of every table of the stream that has none yet, in the caller's transaction,
     * so that it exists (with the source's types) whether or not the table has changed; with --apply, also
     * the bronze table when no snapshot made it.
     */
    private void prepareChangeTables(Connection transaction, CdcSource src, List<PgOutput.Relation> relations, String bronzeSchema,
                                     CdcRequest request) {
        for (PgOutput.Relation relation : relations) {
            TableRef table = TableRef.of(relation.namespace(), relation.name());
            var changes = new ChangeTable(table, TableRef.of(bronzeSchema, table.table()));
            prepared.addAll(changes.prepare(Sql.using(transaction), relation, landing(relation), metadata(table),
                request.apply() ? Optional.of(src.rowKey(table)) : Optional.empty()));
        }
    }

    /** The tables whose change table the warehouse does not have yet: one query, so a run of a large stream stays quick. */
    private List<TableRef> withoutChangeTable(List<TableRef> tables, String bronzeSchema) throws SQLException {
        var byName = new LinkedHashMap<String, TableRef>();
        tables.forEach(t -> byName.put(new ChangeTable(t, TableRef.of(bronzeSchema, t.table())).ref().sql(), t));
        return warehouse.inTransaction(connection -> Sql.using(connection).resultQuery("SELECT t FROM unnest(?::text[]) WITH ORDINALITY "
                + "AS u(t, n) WHERE pg_catalog.to_regclass(t) IS NULL ORDER BY n", (Object) byName.keySet().toArray(String[]::new))
            .fetch(0, String.class).stream().map(byName::get).toList());
    }

    /**
     * The bronze type of each column of a relation, by name, from the type the Relation message gives
     * it (the type the column had when the change was made, which the source catalog may have changed
     * since); text for a type the catalog no longer has.
     */
    private Map<String, String> landing(PgOutput.Relation relation) {
        var types = new LinkedHashMap<String, String>();
        try {
            source.inTransaction(connection -> {
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
                return null;
            });
        } catch (SQLException e) {
            throw SqlErrors.failure("Reading the types of " + relation.namespace() + "." + relation.name() + " on the source", e, source);
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
            DatakitException.check(!BronzeTable.isReserved(table.table()), "%s would land in %s, a name every bronze schema keeps "
                + "for its own tables, and change capture keeps source names. Leave it out of --table, and load it with "
                + "postgres-incremental --target-table.", table, TableRef.of(bronzeSchema, table.table()));
            TableRef other = seen.put(table.table(), table);
            DatakitException.check(other == null, "%s and %s would both land in %s. Capture them with separate slots and --target-schema.",
                other, table, TableRef.of(bronzeSchema, table.table()));
        }
    }

    private void dropSlot(CdcSource src, CdcRequest request, String bronzeSchema) {
        Optional<CdcSource.Slot> slot = src.slot(request.slot());
        slot.ifPresent(src::checkSlotUsable);
        var checkpoints = new SlotCheckpoint(bronzeSchema);
        boolean bookkeeping = Migrations.pending(warehouse.dataSource(), bronzeSchema).stream().noneMatch(m -> m.startsWith("V1 "));
        Optional<String> created = Optional.empty();
        List<String> sharing = List.of();
        if (bookkeeping) {
            try {
                created = warehouse.inTransaction(connection -> checkpoints.createdPublication(connection, request.stream()));
                Optional<String> made = created;
                sharing = made.isEmpty() ? List.of()
                    : warehouse.inTransaction(connection -> checkpoints.otherStreamsOf(connection, made.get(), request.stream()));
            } catch (SQLException | DataAccessException e) {
                throw SqlErrors.failure("Reading the checkpoint of " + request.stream(), e, warehouse);
            }
        }
        String publication = created.orElse(request.publication());
        boolean exists = src.publications().exists(publication);
        boolean dropPublication = created.isPresent() && sharing.isEmpty() && exists && !src.standby();
        String publicationFate = !exists ? "publication " + publication + " does not exist"
            : dropPublication ? "publication " + publication + " (this stream created it)"
            : created.isPresent() && src.standby() ? "kept publication " + publication + ": the source is a hot standby; drop it on the primary"
            : created.isPresent() ? "kept publication " + publication + ": " + String.join(", ", sharing) + " read it too"
            : "kept publication " + publication + ": this stream did not create it";
        if (run.dryRun()) {
            CdcDryRun.dropSlot(run, source.settings(), request, slot, dropPublication ? "would drop " + publicationFate : publicationFate);
            return;
        }
        slot.ifPresent(s -> src.dropSlot(s.name()));
        if (dropPublication) {
            src.publications().drop(publication);
        }
        if (bookkeeping) {
            try {
                warehouse.inTransaction(connection -> {
                    checkpoints.delete(connection, request.stream());
                    return null;
                });
            } catch (SQLException | DataAccessException e) {
                throw SqlErrors.failure("Deleting the checkpoint of " + request.stream(), e, warehouse);
            }
        }
        var details = new LinkedHashMap<String, Object>();
        details.put("slot", slot.map(s -> "dropped " + s.name() + "; the server no longer keeps WAL for it (it kept "
            + Sizes.bytes(s.retainedBytes()) + ")").orElse(request.slot() + " did not exist"));
        details.put("publication", dropPublication ? "dropped " + publicationFate : publicationFate);
        details.put("next run", "makes a new slot" + (request.snapshotNever() ? "" : " and loads the tables from its snapshot")
            + "; changes made until then are not captured");
        new RunSummary("succeeded", run.datakit(), run.runId(), source.settings().describe(), "slot " + request.slot(), bronzeSchema,
            "none", 0, 0, 0, details).print(run);
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
        var schema = new ArrayList<>(prepared);
        schema.addAll(result.schemaChanges());
        if (!schema.isEmpty()) {
            details.put("schema", schema);
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
