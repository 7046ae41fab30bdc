package datakit.cdc;

import datakit.bookkeeping.RunLog;
import datakit.bookkeeping.StreamLock;
import datakit.bronze.BronzeTable;
import datakit.bronze.SchemaPolicy;
import datakit.bronze.WriteMode;
import datakit.cdc.pgoutput.PgOutput;
import datakit.db.Database;
import datakit.db.SqlErrors;
import datakit.error.DatakitException;
import datakit.report.RunContext;
import datakit.report.RunSummary;
import datakit.report.Sizes;
import datakit.run.RecordedRun;
import datakit.sql.TableRef;
import datakit.wal.Lsn;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;

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
    private final ReplicationProbe replication;
    private final boolean haltAfterCommit;
    /** Rows loaded from the slot's snapshot into each bronze table, when this run made the slot. */
    private Map<String, Long> snapshotRows = Map.of();
    /** What the run could not do or keep exact, for its summary. */
    private final List<String> warnings = new ArrayList<>();
    /** The tables this run loaded from snapshots while the stream ran (new to it, or --resnapshot). */
    private final List<TableSnapshot.Taken> taken = new ArrayList<>();

    /**
     * @param replication     the replication connection opened before anything else
     * @param haltAfterCommit fault injection for the crash tests: end the process right after the first warehouse commit
     */
    public CdcExtract(RunContext run, Database source, Database warehouse, ReplicationProbe replication, boolean haltAfterCommit) {
        this.run = run;
        this.source = source;
        this.warehouse = warehouse;
        this.replication = replication;
        this.haltAfterCommit = haltAfterCommit;
    }

    /**
     * Captures the stream's changes into {@code bronzeSchema}; {@code onSchemaChange} says what the stream does when a
     * table's columns change (--on-schema-change).
     */
    public void capture(CdcRequest request, String bronzeSchema, SchemaPolicy onSchemaChange) {
        try (CdcSource src = CdcSource.open(source.settings())) {
            src.checkReady();
            DatakitException.check(request.heartbeatSeconds() == 0 || !src.standby(), "--heartbeat writes a logical message into the WAL "
                + "of the source %s, which is a hot standby and cannot write WAL. Leave out --heartbeat: a heartbeat written on the primary "
                + "(SELECT pg_logical_emit_message(false, 'datakit_heartbeat', '') in this database) reaches the standby's stream as well.",
                source.settings().describe());
            if (request.dropSlot()) {
                new SlotDrop(run, source, warehouse).drop(src, request, bronzeSchema);
                return;
            }
            replication.requireConnected();
            List<TableRef> tables = checkedTables(src, request, bronzeSchema);
            run.info("checked the source: %d tables to capture".formatted(tables.size()));
            if (run.dryRun()) {
                CdcDryRun.plan(run, source, warehouse, src, request, tables, bronzeSchema,
                    TableIdentities.read(warehouse, src, bronzeSchema, request.stream(), tables));
                return;
            }
            var record = new RunLog.RunRecord(run.runId(), run.datakit(), source.settings().describe(),
                Optional.of(tables.isEmpty() ? "all tables" : tables.stream().map(TableRef::toString).collect(Collectors.joining(", "))),
                request.stream(), EXTRACTION_TYPE, WriteMode.APPEND.label(),
                Map.of("slot", request.slot(), "publication", request.publication()));
            RecordedRun.run(run, warehouse, bronzeSchema, record, runs -> {
                try (StreamLock lock = StreamLock.exclusive(warehouse, request.stream(), runs, run.runId())) {
                    lock.inTransaction(connection -> runs.abandonStale(connection, request.stream(), run.runId()));
                    stream(src, request, tables, bronzeSchema, onSchemaChange, runs, lock);
                }
                return null;
            }, e -> SqlErrors.failure("Capturing the changes of slot " + request.slot(), e));
        } catch (SQLException e) {
            throw SqlErrors.failure("Planning the capture of slot " + request.slot(), e);
        }
    }

    /**
     * What the stream will carry, checked before anything is made: the tables asked for, and any other table
     * the publication holds (or, with none given and no publication yet, every table).
     */
    private List<TableRef> checkedTables(CdcSource src, CdcRequest request, String bronzeSchema) {
        boolean publicationExists = src.publications().exists(request.publication());
        src.publications().checkPartitionsPublishedWhole(request.publication(), request.tables());
        src.publications().require(request.publication(), request.tables());
        var captured = new TreeSet<TableRef>(Comparator.comparing(TableRef::toString));
        captured.addAll(request.tables());
        if (publicationExists) {
            captured.addAll(src.publications().tables(request.publication()));
        } else if (request.tables().isEmpty()) {
            captured.addAll(src.allTables());
        }
        List<TableRef> tables = List.copyOf(captured);
        TableIdentities identities = TableIdentities.read(warehouse, src, bronzeSchema, request.stream(), tables);
        identities.refuseOldNames(src, request.tables());
        src.checkNoPartitionWithItsParent(tables);
        src.checkKeys(tables);
        checkNames(tables, identities);
        checkResnapshots(src, request, tables);
        return tables;
    }

    private void stream(CdcSource src, CdcRequest request, List<TableRef> tables, String bronzeSchema, SchemaPolicy onSchemaChange,
                        RunLog runs, StreamLock lock) throws SQLException {
        var checkpoints = new SlotCheckpoint(bronzeSchema);
        var bronze = new StreamTables(run, source, warehouse, bronzeSchema, onSchemaChange);
        var snapshots = new TableSnapshot(run, source, src, request, bronze, bronzeSchema, onSchemaChange);
        Optional<SlotCheckpoint.Stored> stored = warehouse.inTransaction(connection -> checkpoints.read(connection, request.stream()));
        Optional<PartitionLeaves> storedLeaves = warehouse.inTransaction(connection -> checkpoints.partitionLeaves(connection, request.stream()));
        SlotStart slot = SlotStart.decide(src, request, stored, src.publications().exists(request.publication()));
        slot.warning().ifPresent(this::warn);
        // Before the run catches up, which frees the WAL: a slot that came close to being invalidated is said now.
        slot.slot().filter(s -> slot.action() == SlotStart.Action.RESUME).flatMap(s -> s.reserve().warning())
            .ifPresent(w -> warn("at the start of this run, " + w));
        boolean loadsSnapshot = !request.snapshotNever() && slot.action() != SlotStart.Action.RESUME;
        // Read under the stream's lock: a run that held it may have followed a table since.
        TableIdentities identities = TableIdentities.read(warehouse, src, bronzeSchema, request.stream(), tables);
        lock.inTransaction(connection -> {
            StreamTables.refuseWhatTheRunWould(connection, tables, identities::bronze, loadsSnapshot);
            return null; // and the lock confirmed, before the source changes: a dropped slot, a publication made or altered
        });
        if (slot.action() == SlotStart.Action.RECREATE) {
            run.info("dropping slot " + request.slot() + ": " + slot.why());
            src.dropSlot(request.slot());
        }
        Publications.Ready publication = src.publications().ensure(request.publication(), request.tables());
        List<TableRef> published = publication.tables();
        identities.know(src, published);
        run.info("publication " + request.publication() + (publication.created() ? " created" : " ready"));
        try (ReplicationSession replication = ReplicationSession.open(source.settings())) {
            run.info("opened the replication connection");
            Lsn start;
            Lsn since;
            PartitionLeaves leaves;
            // Tables new to the stream that a followed run loads beside its stream.
            List<TableRef> loadedBeside = List.of();
            if (slot.action() != SlotStart.Action.RESUME) {
                lock.inTransaction(connection -> {
                    checkpoints.save(connection, request.stream(), request.slot(), request.publication(), null, null, run.runId());
                    notePublication(checkpoints, connection, request, publication);
                    return null;
                });
                // 17+: a failover slot, which the server synchronizes to standbys that sync slots, so a promoted one has it.
                ReplicationSession.NewSlot created = replication.createSlot(request.slot(), failoverSlots(src));
                start = created.consistentPoint();
                since = start;
                // The tables' shapes and partitions as of the slot's snapshot, read before the replication connection's next command.
                List<PgOutput.Relation> relations = src.relations(published, request.publication(), Optional.of(created.snapshot()));
                leaves = src.partitionLeaves(published, Optional.of(created.snapshot()));
                // The new snapshot's partitions replace an earlier slot's: a stream that fails next compares with these.
                PartitionLeaves snapshotLeaves = leaves;
                lock.inTransaction(connection -> {
                    checkpoints.savePartitionLeaves(connection, request.stream(), snapshotLeaves);
                    return null;
                });
                Map<String, Long> loaded = request.snapshotNever() ? Map.of()
                    : bronze.loadSnapshot(src, created.snapshot(), published, relations, request, start, runs, lock, identities,
                        (connection, rows) -> slot.gapFrom().ifPresent(gap -> snapshots.markGap(connection, published, rows, identities,
                            start, gap, request.snapshotAlways() ? TableSnapshot.Reason.SNAPSHOT_ALWAYS : TableSnapshot.Reason.SLOT_LOST)));
                if (request.snapshotNever()) {
                    Lsn position = start;
                    var landings = bronze.landings(relations);
                    lock.inTransaction(connection -> {
                        bronze.prepareChangeTables(connection, src, landings, request, identities);
                        identities.followAll(connection, published);
                        checkpoints.save(connection, request.stream(), request.slot(), request.publication(), position, position, run.runId());
                        return null;
                    });
                }
                run.info("created slot %s at %s%s".formatted(request.slot(), start, loaded.isEmpty() ? "" : "; snapshot " + loaded));
                snapshotRows = loaded;
            } else {
                makeFailover(replication, src, slot.slot().orElseThrow());
                start = stored.flatMap(SlotCheckpoint.Stored::lsn).orElse(slot.slot().orElseThrow().confirmedFlush().orElse(Lsn.ZERO));
                since = stored.filter(s -> s.lsn().isPresent()).flatMap(SlotCheckpoint.Stored::since).orElse(start);
                if (stored.flatMap(SlotCheckpoint.Stored::lsn).isEmpty()) {
                    Lsn position = start;
                    lock.inTransaction(connection -> {
                        checkpoints.save(connection, request.stream(), request.slot(), request.publication(), position, position, run.runId());
                        return null;
                    });
                }
                PartitionLeaves now = src.partitionLeaves(published, Optional.empty());
                leaves = storedLeaves.map(kept -> kept.completedBy(now)).orElse(now);
                // A table new to the stream (added to the publication since): loaded from a snapshot that meets the stream exactly,
                // below; with --snapshot never, it gets its change table now.
                List<TableRef> unprepared = warehouse.inTransaction(connection -> ChangeTable.withoutChangeTable(connection, published,
                    identities::bronze));
                List<TableRef> prepareOnly = request.snapshotNever() ? unprepared : List.of();
                List<PgOutput.Relation> relations = prepareOnly.isEmpty() ? List.of()
                    : src.relations(prepareOnly, request.publication(), Optional.empty());
                var landings = bronze.landings(relations);
                lock.inTransaction(connection -> {
                    bronze.prepareChangeTables(connection, src, landings, request, identities);
                    identities.followAll(connection, published);
                    notePublication(checkpoints, connection, request, publication);
                    return null;
                });
                // And a table a followed run was loading beside its stream when it ended: loaded again, from a new snapshot.
                Set<Long> unlanded = warehouse.inTransaction(connection -> checkpoints.loading(connection, request.stream()));
                // A followed run loads a new table beside its stream, which finds it within seconds; a bounded one before it streams.
                List<TableRef> fresh = unprepared.stream().filter(t -> !prepareOnly.contains(t)).toList();
                loadedBeside = request.follow() ? fresh : List.of();
                var added = new ArrayList<>(request.follow() ? List.<TableRef>of() : fresh);
                (unlanded.isEmpty() ? Map.<Long, TableRef>of() : src.tablesNamed(List.copyOf(unlanded))).values().stream()
                    .filter(published::contains).filter(t -> !added.contains(t)).forEach(added::add);
                for (TableRef table : added) {
                    taken.add(snapshots.take(table, TableSnapshot.Reason.ADDED, Optional.empty(), identities, lock::inTransaction));
                }
            }
            if (!request.resnapshot().isEmpty() && !snapshotRows.isEmpty()) {
                run.info("--resnapshot: the slot's snapshot loaded every table of the stream in this run");
            }
            for (TableRef table : snapshotRows.isEmpty() ? request.resnapshot() : List.<TableRef>of()) {
                if (taken.stream().noneMatch(t -> t.table().equals(table)) && !loadedBeside.contains(table)) {
                    taken.add(snapshots.take(table, TableSnapshot.Reason.RESNAPSHOT, request.where(), identities, lock::inTransaction));
                }
            }
            // Before the stream, while the set-up's connection is sure to be up: a reconnecting stream may outlive it.
            PartitionLeaves now = checkPartitions(src, request, published, leaves, bronzeSchema);
            var changes = new ChangeStream(run, source, src, replication, warehouse, request, bronzeSchema, bronze::landing, bronze::metadata,
                onSchemaChange, haltAfterCommit, snapshots);
            ChangeStream.Result result = changes.run(start, since, runs, lock, now);
            taken.addAll(changes.snapshots());
            try {
                bronze.warnings().forEach(this::warn);
                result.warnings().forEach(this::warn);
                summarize(request, bronzeSchema, bronze, result);
            } finally {
                changes.finished();
            }
        }
    }

    /** Whether the stream's slot is made a failover slot: on a primary of PostgreSQL 17 or later (a standby's slot cannot be one). */
    static boolean failoverSlots(CdcSource src) {
        return src.serverVersion() >= 170000 && !src.standby();
    }

    /**
     * 17+: a slot made before it (or by an earlier version) becomes a failover slot, as a new one is made; a server that
     * refuses leaves it as it is, with a warning, as the stream runs as well without.
     */
    private void makeFailover(ReplicationSession replication, CdcSource src, CdcSource.Slot slot) {
        if (failoverSlots(src) && slot.failover().filter(failover -> !failover).isPresent()) {
            try {
                replication.enableFailover(slot.name());
                run.info("slot %s is now a failover slot".formatted(slot.name()));
            } catch (SQLException e) {
                warn("slot %s could not be made a failover slot (%s): a promoted standby will not have it; see docs/postgres-cdc.md, "
                    .formatted(slot.name(), SqlErrors.serverMessage(e)) + "Failover and upgrades");
            }
        }
    }

    private static void notePublication(SlotCheckpoint checkpoints, Connection transaction, CdcRequest request, Publications.Ready publication) {
        if (publication.created()) {
            checkpoints.notePublicationCreated(transaction, request.stream(), request.publication());
        }
    }

    /**
     * Warns of the partitions that left bronze behind without a change since {@code before} (see {@link
     * PartitionLeaves}): truncated alone, detached or dropped. Returns the leaves as they are now, for the next run.
     */
    private PartitionLeaves checkPartitions(CdcSource src, CdcRequest request, List<TableRef> published, PartitionLeaves before,
                                            String bronzeSchema) {
        PartitionLeaves now = src.partitionLeaves(published, Optional.empty());
        now.changesSince(before, bronzeSchema, request.apply()).forEach(this::warn);
        return now;
    }

    /** A warning on stderr now, and in the summary. */
    private void warn(String warning) {
        run.warn(warning);
        warnings.add(warning);
    }

    /** Each --resnapshot table is one the stream captures; a --where is a condition on it, and the table has a key to upsert by. */
    private static void checkResnapshots(CdcSource src, CdcRequest request, List<TableRef> tables) {
        for (TableRef table : request.resnapshot()) {
            DatakitException.check(tables.contains(table), "--resnapshot %s names no table of this stream (%s). A table is added to the "
                + "stream with --table (or by adding it to the publication), and its first run loads it from a snapshot.", table,
                tables.isEmpty() ? "it captures none yet" : "it captures " + tables.stream().map(TableRef::toString)
                    .collect(Collectors.joining(", ")));
        }
        request.where().ifPresent(condition -> {
            TableRef table = request.resnapshot().getFirst();
            DatakitException.check(!src.rowKey(table).isEmpty(), "--where loads some rows of %s again, upserted by its key, and it has "
                + "none (REPLICA IDENTITY FULL without a primary key). Leave out --where to load the whole table again.", table);
            src.checkCondition(table, condition);
        });
    }

    /** Each table lands in a bronze table of its own: its name's, or the one it had before a rename this stream followed. */
    private void checkNames(List<TableRef> tables, TableIdentities identities) {
        var seen = new HashMap<TableRef, TableRef>();
        for (TableRef table : tables) {
            TableRef bronze = identities.bronze(table);
            DatakitException.check(!BronzeTable.isReserved(bronze.table()), "%s would land in %s, a name every bronze schema keeps "
                + "for its own tables, and change capture keeps source names. Leave it out of --table, and load it with "
                + "postgres-incremental --target-table.", table, bronze);
            TableRef other = seen.put(bronze, table);
            DatakitException.check(other == null, "%s and %s would both land in %s. Capture them with separate slots and --target-schema.",
                other, table, bronze);
        }
    }

    private void summarize(CdcRequest request, String bronzeSchema, StreamTables bronze, ChangeStream.Result result) {
        Optional<CdcSource.Slot> slot = result.slot();
        // Lag, not retained WAL: right after a run caught up, the server frees the WAL behind the slot only
        // at its next checkpoint or running-transactions record, so retained WAL would warn after every big run.
        slot.flatMap(s -> s.reserve().warning()).ifPresent(this::warn);
        slot.filter(s -> s.lagBytes() > request.lagWarning()).ifPresent(s -> warn(("slot %s is %s behind the source's WAL (it keeps %s), "
            + "more than --lag-warning %s: run this stream more often, or drop the slot if it is no longer read").formatted(s.name(),
            Sizes.bytes(s.lagBytes()), Sizes.bytes(s.retainedBytes()), Sizes.bytes(request.lagWarning()))));
        var details = new LinkedHashMap<String, Object>();
        if (!snapshotRows.isEmpty()) {
            details.put("snapshot", snapshotRows);
        }
        if (!taken.isEmpty()) {
            details.put("table_snapshots", taken.stream().map(TableSnapshot.Taken::details).toList());
        }
        details.put("commits", result.transactions());
        if (result.replaysSkipped() > 0) {
            details.put("replayed", result.replaysSkipped() + " transactions the warehouse already had, skipped");
        }
        details.put("changes", result.rowsPerTable().isEmpty() ? "none" : result.rowsPerTable());
        var schema = new ArrayList<>(bronze.prepared());
        schema.addAll(result.schemaChanges());
        if (!schema.isEmpty()) {
            details.put("schema", schema);
        }
        details.putAll(result.refreshed());
        var recorded = new ArrayList<>(bronze.recorded());
        recorded.addAll(result.recorded());
        Recorded.notes(recorded, this::warn).addTo(details);
        if (!warnings.isEmpty()) {
            details.put("warnings", warnings);
        }
        details.put("checkpoint", result.checkpoint().toString());
        if (result.reconnections() > 0) {
            details.put("reconnects", result.reconnections() + " (the replication connection was lost and taken up again)");
        }
        slot.ifPresent(s -> {
            run.gauge("slot_lag_bytes", s.lagBytes());
            run.gauge("slot_retained_wal_bytes", s.retainedBytes());
            run.gauge("slot_wal_reserved", s.reserve().reserved() ? 1 : 0);
            s.safeWalBytes().ifPresent(safe -> run.gauge("slot_safe_wal_bytes", safe));
            s.safeWalBytes().ifPresent(safe -> details.put("wal reserve", Sizes.bytes(Math.max(0, safe))));
            s.failover().ifPresent(failover -> details.put("failover", failover));
            details.put("slot lag", Sizes.bytes(s.lagBytes()));
            details.put("wal kept", Sizes.bytes(s.retainedBytes()));
        });
        long rows = result.changes() + snapshotRows.values().stream().mapToLong(Long::longValue).sum();
        new RunSummary("succeeded", run.datakit(), run.runId(), source.settings().describe(), "slot " + request.slot(), bronzeSchema,
            WriteMode.APPEND.label(), rows, result.bytes(), result.durationMs(), details).print(run);
    }
}
