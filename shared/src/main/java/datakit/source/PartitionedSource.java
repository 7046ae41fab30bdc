package datakit.source;

import java.sql.SQLException;
import java.util.List;
import org.postgresql.copy.CopyOut;

/**
 * A big table read in parts, in one source snapshot: the parts from the catalog, the COPY of each, and
 * the check that finds a part unchanged since an earlier load.
 *
 * <p>The rule for "unchanged": the part is the same table (same oid, same bounds), it holds exactly as
 * many rows (matching {@code --where}) as the earlier load copied, and none of them was written by a
 * transaction at or after that load's horizon, the oldest transaction still running when its snapshot
 * was taken. Every row now visible was then committed, so the earlier snapshot saw it; with the same
 * count, the rows are the same. Inserts and updates leave a newer xmin, deletes a lower count.
 */
public final class PartitionedSource {
    /** Horizons older than this are not compared: a row's 32-bit xmin cannot be placed in its epoch. */
    private static final long XID_WINDOW = 1L << 31;

    private final SourceSession session;
    private final ReadPlan plan;

    public PartitionedSource(SourceSession session, ReadPlan plan) {
        this.session = session;
        this.plan = plan;
    }

    /** The parts of the planned table, as {@code split} asks. */
    public List<Part> parts(Split split) {
        var relation = session.catalog().find(plan.table().orElseThrow());
        return session.partitionCatalog(plan.selection()).parts(relation, split);
    }

    /**
     * The planned table's block ranges for {@code count} parallel reads, when it is a plain table of at least {@code minBytes}
     * (PostgreSQL 14+ reads them with TID range scans); none for a query, a view, a partitioned or inheritance parent, a smaller
     * table or an older server.
     */
    public List<Part> blockRangesWhenBig(int count, long minBytes) {
        if (plan.table().isEmpty()) {
            return List.of();
        }
        var relation = session.catalog().find(plan.table().get());
        return session.partitionCatalog(plan.selection()).blockRangesWhenBig(relation, count, minBytes);
    }

    public String copySql(Part part) {
        return ReadSql.copyOf(plan, part);
    }

    /** Starts streaming the part's rows; call {@link SourceSession#copyDone()} when the stream ended cleanly. */
    public CopyOut startCopy(Part part) throws SQLException {
        return session.startCopy(copySql(part));
    }

    /** The snapshot's horizon: transactions from this id on may be invisible to it (64-bit, {@code pg_snapshot_xmin}). */
    public long horizon() {
        return Long.parseLong(session.rows("SELECT pg_catalog.pg_snapshot_xmin(pg_catalog.pg_current_snapshot())::text",
            plan.selection()).get(0).get(0));
    }

    /** What an earlier load copied of a part: its table, bounds and rows, and that load's horizon. */
    public record EarlierCopy(long oid, String bounds, long rows, long horizon) {
    }

    /** Whether the part still holds the rows {@code earlier} copied (see the class comment); it scans the part once. */
    public boolean unchangedSince(Part part, EarlierCopy earlier) {
        if (!part.keepable() || part.oid() != earlier.oid() || !part.bounds().equals(earlier.bounds())) {
            return false;
        }
        long xmax = Long.parseLong(session.rows("SELECT pg_catalog.pg_snapshot_xmax(pg_catalog.pg_current_snapshot())::text",
            plan.selection()).get(0).get(0));
        if (xmax - earlier.horizon() >= XID_WINDOW || earlier.horizon() > xmax) {
            return false;
        }
        List<String> counts = session.rows(ReadSql.rowsOf(plan, part,
            "count(*), count(*) FILTER (WHERE " + Xmin.full(xmax) + " >= " + earlier.horizon() + ")"), plan.selection()).get(0);
        return Long.parseLong(counts.get(0)) == earlier.rows() && Long.parseLong(counts.get(1)) == 0;
    }
}
