package datakit.cdc;

import datakit.bookkeeping.RunLog;
import datakit.bookkeeping.StreamLock;
import datakit.bronze.BronzeLoad;
import datakit.bronze.BronzeMetadata;
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
import datakit.run.CopyIntoBronze;
import datakit.run.Landings;
import datakit.source.LandingTypes;
import datakit.source.ReadPlan;
import datakit.source.SchemaFingerprint;
import datakit.source.Selection;
import datakit.source.SourceSession;
import datakit.sql.Sql;
import datakit.sql.TableRef;
import datakit.wal.Lsn;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.BiConsumer;
import java.util.function.Function;

/**
 * The bronze tables of a change stream, as its run makes them before it streams: each published table
 * loaded from the slot's snapshot, and a change table for every table of the stream (with {@code --apply}
 * and no snapshot, the bronze table too). Also how a source table lands: its columns' bronze types and its
 * metadata columns, which the stream uses for every change table it follows.
 */
final class StreamTables {
    private final RunContext run;
    private final Database source;
    private final Database warehouse;
    private final String bronzeSchema;
    private final SchemaPolicy onSchemaChange;
    /** Change tables (and --apply bronze tables) made, in words. */
    private final List<String> prepared = new ArrayList<>();
    /** The schema changes the snapshot and the tables made recorded, and what they could not keep exact. */
    private final List<Recorded> recorded = Collections.synchronizedList(new ArrayList<>()); // a copy beside the stream adds too
    private final List<String> warnings = new ArrayList<>();

    /**
     * The refusals of the stream's bronze and change tables, made before the slot is made, by the run and its dry run alike:
     * a table in their place that the datakits did not write, and with a snapshot to load ({@code loadsSnapshot}), a bronze
     * table that views depend on, which the snapshot cannot replace. Without this, such a run refused after making its slot.
     */
    static void refuseWhatTheRunWould(Connection transaction, List<TableRef> tables, Function<TableRef, TableRef> bronze,
                                      boolean loadsSnapshot) {
        var db = Sql.using(transaction);
        for (TableRef table : tables) {
            TableRef target = bronze.apply(table);
            BronzeTable.inspect(db, new ChangeTable(table, target).ref()).ifPresent(BronzeTable::requireBronze);
            BronzeTable.inspect(db, target).map(BronzeTable::requireBronze).filter(existing -> loadsSnapshot)
                .ifPresent(BronzeTable::requireNoDependents);
        }
    }

    StreamTables(RunContext run, Database source, Database warehouse, String bronzeSchema, SchemaPolicy onSchemaChange) {
        this.run = run;
        this.source = source;
        this.warehouse = warehouse;
        this.bronzeSchema = bronzeSchema;
        this.onSchemaChange = onSchemaChange;
    }

    /** What was made, in words, for the run's summary. */
    List<String> prepared() {
        return prepared;
    }

    /** The schema changes recorded as the bronze tables were loaded or made. */
    List<Recorded> recorded() {
        return recorded;
    }

    /** What the bronze tables made could not keep exact. */
    List<String> warnings() {
        return warnings;
    }

    /**
     * Loads every published table from the slot's snapshot into its bronze table, in one warehouse
     * transaction with the checkpoint at the slot's starting point (and what {@code alsoLands} writes, given the rows loaded
     * into each bronze table): the stream then begins exactly where the snapshot ends.
     */
    Map<String, Long> loadSnapshot(CdcSource src, String snapshot, List<TableRef> tables, List<PgOutput.Relation> relations,
                                   CdcRequest request, Lsn start, RunLog runs, StreamLock lock, TableIdentities identities,
                                   BiConsumer<Connection, Map<String, Long>> alsoLands) throws SQLException {
        var rows = new LinkedHashMap<String, Long>();
        // Read before the snapshot's session takes a source connection: a pool of one has no second to give.
        Map<PgOutput.Relation, Map<String, String>> landings = landings(relations);
        try (SourceSession session = SourceSession.begin(source, Optional.of(snapshot))) {
            lock.inTransaction(connection -> {
                long total = 0;
                long bytes = 0;
                var hashes = new LinkedHashMap<TableRef, Map<String, String>>();
                for (TableRef table : tables) {
                    TableRef target = identities.bronze(table);
                    // With --apply the table is kept by key from now on, so it gets its unique index now.
                    var write = new BronzeWrite(WriteMode.REPLACE, request.apply() ? src.rowKey(table) : List.of(), ConflictPolicy.OVERWRITE,
                        onSchemaChange);
                    var copied = load(connection, session, Selection.table(table), target, write);
                    rows.put(target.toString(), copied.rows());
                    if (request.apply()) {
                        // What decides each column's values, as the snapshot read them: the baseline of ValueRefresh.
                        hashes.put(table, SchemaFingerprint.read(session, Selection.table(table)).columns());
                    }
                    total += copied.rows();
                    bytes += copied.bytes();
                }
                prepareChangeTables(connection, src, landings, request, identities);
                identities.followAll(connection, tables);
                hashes.forEach((table, columns) -> identities.keepColumnHashes(connection, table, columns));
                new SlotCheckpoint(bronzeSchema).save(connection, request.stream(), request.slot(), request.publication(), start, start,
                    run.runId());
                runs.addProgress(connection, run.runId(), total, bytes);
                alsoLands.accept(connection, rows);
                return null;
            });
        }
        return rows;
    }

    /**
     * Fails, before a snapshot is cut, when a reload would have to replace a bronze table that views depend on (PostgreSQL
     * refuses to drop it); {@code how} names what asked for the reload.
     */
    void refuseReplacingUnderViews(TableRef table, TableRef target, String how) {
        try {
            warehouse.inTransaction(connection -> {
                BronzeTable.inspect(Sql.using(connection), target).map(BronzeTable::requireBronze).filter(t -> !t.dependents().isEmpty())
                    .ifPresent(t -> {
                        throw DatakitException.notReady(("Cannot load %s again from a snapshot (%s): %s depend%s on %s, and a reload swaps "
                            + "in a new table, which PostgreSQL refuses while views use the old one. Drop the views and create them again "
                            + "after this run, or refresh its rows in place with --resnapshot %s --where CONDITION.").formatted(table, how,
                            String.join(", ", t.dependents()), t.dependents().size() == 1 ? "s" : "", target, table));
                    });
                return null;
            });
        } catch (SQLException e) {
            throw SqlErrors.failure("Reading " + target, e, warehouse);
        }
    }

    /** Reads {@code selection} in the session's snapshot into the bronze table {@code target}, in the caller's transaction. */
    CopyPipe.Result load(Connection transaction, SourceSession session, Selection selection, TableRef target, BronzeWrite write)
            throws SQLException {
        ReadPlan plan = session.plan(selection);
        TableRef table = selection.table().orElseThrow();
        var load = new BronzeLoad(Sql.using(transaction), Landings.of(plan), target, write, metadata(table));
        var copied = CopyIntoBronze.copy(run, transaction, session, plan, load.prepare());
        load.finish(copied.rows());
        load.recorded().forEach(c -> recorded.add(new Recorded(target, c, write.mode())));
        return copied;
    }

    /**
     * Creates the change table of every table of the stream that has none yet, in the caller's transaction,
     * so that it exists (with the source's types) whether or not the table has changed; with --apply, also
     * the bronze table when no snapshot made it. {@code landings}: each relation with its bronze types ({@link #landings}).
     */
    void prepareChangeTables(Connection transaction, CdcSource src, Map<PgOutput.Relation, Map<String, String>> landings,
                             CdcRequest request, TableIdentities identities) {
        for (var landing : landings.entrySet()) {
            PgOutput.Relation relation = landing.getKey();
            TableRef table = TableRef.of(relation.namespace(), relation.name());
            var changes = new ChangeTable(table, identities.bronze(table));
            changes.prepare(Sql.using(transaction), relation, landing.getValue(), metadata(table),
                request.apply() ? Optional.of(src.rowKey(table)) : Optional.empty(), onSchemaChange, run.runId()).ifPresent(made -> {
                    prepared.addAll(made.done());
                    warnings.addAll(made.warnings());
                    made.recorded().forEach(c -> recorded.add(new Recorded(changes.state(), c, WriteMode.REPLACE)));
                });
        }
    }

    /** Each relation, in order, with the bronze types of its columns ({@link #landing}). */
    Map<PgOutput.Relation, Map<String, String>> landings(List<PgOutput.Relation> relations) {
        var landings = new LinkedHashMap<PgOutput.Relation, Map<String, String>>();
        relations.forEach(relation -> landings.put(relation, landing(relation)));
        return landings;
    }

    /**
     * The bronze type of each column of a relation, by name, from the type the Relation message gives
     * it (the type the column had when the change was made, which the source catalog may have changed
     * since); text for a type the catalog no longer has.
     */
    Map<String, String> landing(PgOutput.Relation relation) {
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

    BronzeMetadata metadata(TableRef table) {
        return BronzeMetadata.of(run.runId(), source.settings().describe(), Optional.of(table.schema()), Optional.of(table.table()),
            CdcExtract.EXTRACTION_TYPE);
    }
}
