package datakit.cdc.pgoutput;

import datakit.wal.Lsn;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;

/**
 * One message's bytes, read front to back in the field types of PostgreSQL's "Message Data Types": Byte1,
 * Int8, Int16, Int32, Int64 (big-endian, as {@link ByteBuffer} reads them), String (NUL-terminated) and
 * Byte<i>n</i>, and TupleData (a row). Each read moves past its field, so a decoder names the fields in the order they come.
 */
final class MessageBuffer {
    /** PostgreSQL counts time in microseconds since 2000-01-01 00:00 UTC. */
    private static final Instant POSTGRES_EPOCH = Instant.parse("2000-01-01T00:00:00Z");

    private final ByteBuffer bytes;

    MessageBuffer(ByteBuffer bytes) {
        this.bytes = bytes;
    }

    /** Byte1: a message type or a marker, as a character. */
    char byte1() {
        return (char) bytes.get();
    }

    /** Int8: flags, or a count that fits in a byte. */
    int int8() {
        return bytes.get();
    }

    /** Int16, read unsigned: a number of columns. */
    int uint16() {
        return Short.toUnsignedInt(bytes.getShort());
    }

    /** Int32: a length or a count. */
    int int32() {
        return bytes.getInt();
    }

    /** Int32, read unsigned: an Oid or a TransactionId. */
    long uint32() {
        return Integer.toUnsignedLong(bytes.getInt());
    }

    /** Int64 (XLogRecPtr): a position in the WAL. */
    Lsn lsn() {
        return Lsn.of(bytes.getLong());
    }

    /** Int64 (TimestampTz): microseconds since 2000-01-01 00:00 UTC. */
    Instant timestamp() {
        return POSTGRES_EPOCH.plus(Duration.ofNanos(Math.multiplyExact(bytes.getLong(), 1000L)));
    }

    /** String: NUL-terminated, in the server's encoding (UTF-8 for the datakits' connections). */
    String string() {
        int end = bytes.position();
        while (bytes.get(end) != 0) {
            end++;
        }
        byte[] text = new byte[end - bytes.position()];
        bytes.get(text);
        bytes.get(); // the terminating NUL
        return new String(text, StandardCharsets.UTF_8);
    }

    /** Byte<i>n</i>: {@code length} bytes as they are. */
    byte[] bytes(int length) {
        byte[] value = new byte[length];
        bytes.get(value);
        return value;
    }

    /**
     * TupleData, a row:
     * <pre>
     * Int16                  number of columns, then for each column one of:
     *   Byte1 ('n')          NULL
     *   Byte1 ('u')          an unchanged TOASTed value, not sent
     *   Byte1 ('t' or 'b')   a value in text or binary form, then
     *     Int32              its length
     *     Byten              its bytes
     * </pre>
     */
    PgOutput.Tuple tupleData() {
        int count = uint16();
        var values = new ArrayList<PgOutput.Value>(count);
        for (int i = 0; i < count; i++) {
            char kind = byte1();
            values.add(switch (kind) {
                case 'n' -> new PgOutput.Value(PgOutput.Kind.NULL, null);
                case 'u' -> new PgOutput.Value(PgOutput.Kind.UNCHANGED_TOAST, null);
                case 't' -> new PgOutput.Value(PgOutput.Kind.TEXT, bytes(int32()));
                case 'b' -> new PgOutput.Value(PgOutput.Kind.BINARY, bytes(int32()));
                default -> throw new IllegalArgumentException("pgoutput sent a column of unknown kind '" + kind + "'");
            });
        }
        return new PgOutput.Tuple(values);
    }
}
