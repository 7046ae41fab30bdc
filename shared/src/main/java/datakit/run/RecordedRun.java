package datakit.run;

import datakit.bookkeeping.RunLog;
import datakit.db.Database;
import datakit.db.Migrations;
import datakit.error.DatakitException;
import datakit.report.RunContext;
import java.sql.SQLException;
import java.util.function.Function;

/**
 * The skeleton every mode's real run shares, once it has planned and its dry run has gone another way: the bronze
 * schema's migrations, the run's row in extraction_runs, the mode's work, and on failure that row marked failed with
 * the one line the user sees. The mode's decisions (its refusals) are made by one method the dry run calls too.
 */
public final class RecordedRun {
    /** A mode's work, given the run log that holds its record. */
    @FunctionalInterface
    public interface Work<T> {
        T run(RunLog runs) throws SQLException;
    }

    private RecordedRun() {
    }

    /**
     * Migrates {@code bronzeSchema}, records the run as started, and does {@code work}; a failure is recorded as
     * {@code failure} words it, and thrown.
     */
    public static <T> T run(RunContext run, Database warehouse, String bronzeSchema, RunLog.RunRecord record, Work<T> work,
                            Function<Exception, DatakitException> failure) {
        long migrating = System.nanoTime();
        Migrations.apply(warehouse, bronzeSchema).forEach(m -> run.info("applied migration " + m + " to " + bronzeSchema));
        run.info("checked the migrations of %s in %d ms".formatted(bronzeSchema, (System.nanoTime() - migrating) / 1_000_000));
        var runs = new RunLog(bronzeSchema);
        runs.start(warehouse, record);
        try {
            return work.run(runs);
        } catch (SQLException | RuntimeException e) {
            DatakitException error = failure.apply(e);
            runs.recordFailure(warehouse, run, error.getMessage(), error.details());
            throw error;
        }
    }
}
