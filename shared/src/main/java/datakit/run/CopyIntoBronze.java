package datakit.run;

import datakit.db.CopyPipe;
import datakit.report.Progress;
import datakit.report.RunContext;
import datakit.source.ReadPlan;
import datakit.source.SourceSession;
import java.sql.Connection;
import java.sql.SQLException;

/** One COPY from a source session into the warehouse, with progress; the caller finishes and commits. */
public final class CopyIntoBronze {
    private CopyIntoBronze() {
    }

    /** @param copyIn the warehouse's COPY ... FROM STDIN, from a load's {@code prepare()} */
    public static CopyPipe.Result copy(RunContext run, Connection warehouse, SourceSession session, ReadPlan plan, String copyIn)
            throws SQLException {
        var progress = new Progress(run.err(), run.terminal(), plan.describe(), plan.estimatedRows());
        CopyPipe.Result result = CopyPipe.transfer(warehouse, copyIn, () -> session.startCopy(plan), progress);
        progress.done();
        session.copyDone();
        return result;
    }
}
