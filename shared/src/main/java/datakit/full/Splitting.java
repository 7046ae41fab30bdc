package datakit.full;

import java.util.concurrent.Semaphore;

/**
 * When a full extract reads its table in block ranges at once instead of one stream: a plain table of {@code fromBytes} or
 * more on disk ({@code --split-from}, {@link #FROM_BYTES} by default), in {@code streams} ranges, while {@code permit} lets it (the tables of a set share one, so that one table at a
 * time adds streams to the set's). {@code streams} 1 never splits.
 */
public record Splitting(int streams, long fromBytes, Semaphore permit) {
    /** From this size on disk a table is read in block ranges: below it, the extra connections cost about what they save. */
    public static final long FROM_BYTES = 256L << 20;

    /** Never split. */
    public static Splitting none() {
        return new Splitting(1, Long.MAX_VALUE, new Semaphore(0));
    }

    /** Split tables of {@code fromBytes} or more on disk into {@code streams} ranges, one table at a time. */
    public static Splitting into(int streams, long fromBytes) {
        return new Splitting(streams, fromBytes, new Semaphore(1));
    }
}
