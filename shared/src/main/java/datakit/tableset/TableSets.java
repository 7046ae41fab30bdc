package datakit.tableset;

import datakit.bronze.SchemaPolicy;
import datakit.bronze.WriteMode;
import datakit.db.Database;
import datakit.error.ExitCode;
import datakit.full.FullExtract;
import datakit.full.Splitting;
import datakit.incremental.IncrementalExtract;
import datakit.report.RunContext;
import datakit.source.Selection;
import datakit.source.TableSet;
import datakit.sql.TableRef;
import java.util.Optional;
import java.util.function.UnaryOperator;

/**
 * The datakits' loads over a set of tables: each table loaded as the datakit loads one table, by {@link TableSetRun}.
 * A full extract reads the whole set in one snapshot, and one big table at a time in block ranges ({@link Splitting});
 * an incremental load follows each table by its own checkpoint.
 */
public final class TableSets {
    private final RunContext run;
    private final Database source;
    private final Database warehouse;
    private final int parallelism;
    /** How big tables are read; one at a time reads in block ranges, beside the tables the other workers load. */
    private final Splitting splitting;
    private final boolean restart;

    public TableSets(RunContext run, Database source, Database warehouse, int parallelism, Splitting splitting, boolean restart) {
        this.run = run;
        this.source = source;
        this.warehouse = warehouse;
        this.parallelism = parallelism;
        this.splitting = splitting;
        this.restart = restart;
    }

    /** A full extract of every table, all read in one exported snapshot (postgres-extract). */
    public ExitCode extract(TableSet set, String patterns, String bronzeSchema, WriteMode mode, SchemaPolicy onSchemaChange) {
        return extract(set, patterns, bronzeSchema, mode, onSchemaChange, UnaryOperator.identity());
    }

    /**
     * A full extract of every table, all read in one exported snapshot, each table's read shaped by {@code read} first
     * (postgres-jsonb's flattening).
     */
    public ExitCode extract(TableSet set, String patterns, String bronzeSchema, WriteMode mode, SchemaPolicy onSchemaChange,
                            UnaryOperator<Selection> read) {
        var request = new TableSetRun.Request(set, patterns, bronzeSchema, mode.label(), true, restart);
        return new TableSetRun(run, source, warehouse, parallelism).load(request, (tableRun, table, target, snapshot) -> {
            var extract = new FullExtract(tableRun, source, warehouse, snapshot, splitting);
            extract.load(extract.plan(read.apply(Selection.table(table))), target, mode, onSchemaChange);
        });
    }

    /**
     * An incremental load of every table (postgres-incremental): each table's cursor, xmin or full copy chosen by the rule of
     * {@link IncrementalLoads} from one read of the catalog, each table with its own checkpoint and snapshot.
     */
    public ExitCode incremental(TableSet set, String patterns, SetIncrement asked, String bronzeSchema, WriteMode mode,
                                SchemaPolicy onSchemaChange) {
        return incremental(set, patterns, asked, bronzeSchema, mode, onSchemaChange, UnaryOperator.identity());
    }

    /** An incremental load of every table, each table's read shaped by {@code read} first (postgres-jsonb). */
    public ExitCode incremental(TableSet set, String patterns, SetIncrement asked, String bronzeSchema, WriteMode mode,
                                SchemaPolicy onSchemaChange, UnaryOperator<Selection> read) {
        // Refused once, before any table: what no table's load would take (the checks read the options and what read adds to
        // a table's read, whichever table it is).
        IncrementalExtract.checkAsked(run.datakit(), asked.of(read.apply(Selection.table(TableRef.of(bronzeSchema, "any"))),
            asked.cursorField(), Optional.empty()), mode);
        // Every run loads every table: each goes on from its own checkpoint, so completing a failed run's tables only would
        // hold the others back a run (and every run, behind a table that keeps failing).
        var request = new TableSetRun.Request(set, patterns, bronzeSchema, mode.label(), false, true);
        return new TableSetRun(run, source, warehouse, parallelism).load(request,
            tables -> IncrementalLoads.choose(run, source, warehouse, tables, asked, mode, onSchemaChange, read));
    }
}
