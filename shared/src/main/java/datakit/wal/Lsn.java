package datakit.wal;

import java.util.Locale;

/**
 * A position in PostgreSQL's write-ahead log (its {@code pg_lsn} type): a byte offset into the WAL, an
 * unsigned 64-bit number, written as two hexadecimal halves, {@code 16/B374D848}. The one form an LSN takes
 * in the library, from the pgoutput messages to the checkpoint stored in the warehouse; PgJDBC's
 * {@code LogSequenceNumber} appears only where the replication stream is started and confirmed.
 *
 * <p>Positions compare unsigned, as the server compares them: {@code 8000000/0} comes after
 * {@code 7FFFFFFF/FFFFFFFF}, and {@code FFFFFFFF/FFFFFFFF} is the last position there is.
 *
 * @param value the position as a 64-bit number, read unsigned
 */
public record Lsn(long value) implements Comparable<Lsn> {
    /** {@code 0/0}: before every position (PostgreSQL's InvalidXLogRecPtr). */
    public static final Lsn ZERO = new Lsn(0);

    /** As many hexadecimal digits as each half may have (pg_lsn_in's MAXPG_LSNCOMPONENT). */
    private static final int MAX_HALF_DIGITS = 8;
    private static final String HEX_DIGITS = "0123456789abcdefABCDEF";

    public static Lsn of(long value) {
        return new Lsn(value);
    }

    /**
     * Reads the text form as PostgreSQL writes and reads it ({@code pg_lsn_in}): two groups of 1 to 8 hexadecimal
     * digits, either case, separated by a slash, and nothing else.
     *
     * @throws IllegalArgumentException for any other text
     */
    public static Lsn parse(String text) {
        int slash = text.indexOf('/');
        if (slash < 0 || !isHalf(text, 0, slash) || !isHalf(text, slash + 1, text.length())) {
            throw new IllegalArgumentException("\"" + text + "\" is not a WAL position (pg_lsn): it must be two hexadecimal numbers "
                + "of up to 8 digits with a slash between them, like 16/B374D848");
        }
        long high = Long.parseLong(text, 0, slash, 16);
        long low = Long.parseLong(text, slash + 1, text.length(), 16);
        return new Lsn(high << 32 | low);
    }

    private static boolean isHalf(String text, int from, int to) {
        if (to - from < 1 || to - from > MAX_HALF_DIGITS) {
            return false;
        }
        for (int i = from; i < to; i++) {
            if (HEX_DIGITS.indexOf(text.charAt(i)) < 0) {
                return false;
            }
        }
        return true;
    }

    /** The text form, as PostgreSQL prints a pg_lsn: upper-case hexadecimal halves without leading zeros ({@code 0/3000060}). */
    @Override
    public String toString() {
        return Long.toHexString(value >>> 32).toUpperCase(Locale.ROOT) + "/" + Long.toHexString(value & 0xFFFFFFFFL).toUpperCase(Locale.ROOT);
    }

    @Override
    public int compareTo(Lsn other) {
        return Long.compareUnsigned(value, other.value);
    }

    public boolean isAfter(Lsn other) {
        return compareTo(other) > 0;
    }

    public boolean isBefore(Lsn other) {
        return compareTo(other) < 0;
    }

    public static Lsn max(Lsn a, Lsn b) {
        return a.compareTo(b) >= 0 ? a : b;
    }

    public static Lsn min(Lsn a, Lsn b) {
        return a.compareTo(b) <= 0 ? a : b;
    }

    /** The bytes of WAL from {@code earlier} to this position ({@code pg_wal_lsn_diff}); negative when {@code earlier} is after it. */
    public long bytesSince(Lsn earlier) {
        return value - earlier.value;
    }

    /** The position {@code bytes} before this one. */
    public Lsn minus(long bytes) {
        return new Lsn(value - bytes);
    }
}
