package datakit.source;

/**
 * A row's {@code xmin} as a 64-bit transaction id. The column holds only the low 32 bits; the epoch is
 * that of a reference transaction id (a current snapshot's xmax), or the one before when the low bits
 * are larger, which is right for every id less than 2^31 transactions older than the reference.
 */
final class Xmin {
    private Xmin() {
    }

    /** SQL for the row's xmin as a bigint, placed in the epoch of {@code referenceXmax}. */
    static String full(long referenceXmax) {
        String raw = "xmin::text::bigint";
        return "((CASE WHEN " + raw + " <= " + (referenceXmax & 0xFFFFFFFFL) + " THEN " + (referenceXmax >>> 32) + " ELSE "
            + ((referenceXmax >>> 32) - 1) + " END << 32) | " + raw + ")";
    }
}
