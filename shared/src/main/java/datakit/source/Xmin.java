package datakit.source;

import datakit.checkpoint.XidRanges;
import datakit.checkpoint.XminCheckpoint;
import datakit.sql.Sql;
import datakit.sql.TableRef;
import java.util.stream.Collectors;
import org.jooq.impl.DSL;

/**
 * A row's {@code xmin} as a 64-bit transaction id. The column holds only the low 32 bits; the epoch is
 * that of a reference transaction id (a current snapshot's xmax), or the one before when the low bits
 * are larger, which is right for every id less than 2^31 transactions older than the reference. xmin
 * mode's queries are built on it.
 */
final class Xmin {
    private Xmin() {
    }

    /** SQL for the distinct xmins, from {@code xmin} on, of the rows of {@code table}: the transactions whose rows a snapshot sees. */
    static String idsFrom(TableRef table, long xmin, long referenceXmax) {
        String full = full(referenceXmax);
        return "SELECT DISTINCT " + full + " FROM " + table.sql() + " WHERE " + full + " >= " + xmin + " ORDER BY 1";
    }

    /**
     * SQL that holds for rows written by a transaction {@code checkpoint} did not read: from its xmin on, but those it saw; or,
     * for a checkpoint without that list, those its snapshot did not see. The ids it saw are a multirange where the server
     * has the type (PostgreSQL 14 on: a few ranges, each id found by a binary search), else a list of every id.
     */
    static String notSeenBy(XminCheckpoint checkpoint, long referenceXmax, boolean multiranges) {
        String full = full(referenceXmax);
        return checkpoint.seen()
            .map(seen -> "(" + full + " >= " + checkpoint.xmin() + (seen.isEmpty() ? "" : " AND " + notIn(full, seen, multiranges)) + ")")
            .orElseGet(() -> "NOT pg_catalog.pg_visible_in_snapshot(" + full + "::text::xid8, " + Sql.inline(DSL.inline(checkpoint.snapshot()))
                + "::pg_snapshot)");
    }

    private static String notIn(String full, XidRanges seen, boolean multiranges) {
        if (multiranges) {
            String ranges = seen.ranges().stream().map(r -> "[" + r.first() + "," + r.last() + "]").collect(Collectors.joining(",", "{", "}"));
            return "NOT " + full + " <@ " + Sql.inline(DSL.inline(ranges)) + "::pg_catalog.int8multirange";
        }
        String ids = seen.ids().stream().map(String::valueOf).collect(Collectors.joining(",", "{", "}"));
        return full + " <> ALL (" + Sql.inline(DSL.inline(ids)) + "::bigint[])";
    }

    /** SQL for the row's xmin as a bigint, placed in the epoch of {@code referenceXmax}. */
    static String full(long referenceXmax) {
        String raw = "xmin::text::bigint";
        return "((CASE WHEN " + raw + " <= " + (referenceXmax & 0xFFFFFFFFL) + " THEN " + (referenceXmax >>> 32) + " ELSE "
            + ((referenceXmax >>> 32) - 1) + " END << 32) | " + raw + ")";
    }
}
