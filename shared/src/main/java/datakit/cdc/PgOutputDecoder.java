package datakit.cdc;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Optional;

/**
 * Decodes {@code pgoutput} messages, one message per buffer as the replication stream (or
 * {@code pg_logical_slot_get_binary_changes}) delivers them. It keeps one piece of state: whether it is
 * inside a streamed transaction's block (between Stream Start and Stream Stop), where messages carry
 * their transaction's id.
 */
public final class PgOutputDecoder {
    /** PostgreSQL counts time in microseconds since 2000-01-01 00:00 UTC. */
    private static final Instant POSTGRES_EPOCH = Instant.parse("2000-01-01T00:00:00Z");

    private boolean inStream;

    /** A decoder for a streamed transaction's messages kept apart and read again: each carries its transaction's id. */
    static PgOutputDecoder insideStream() {
        var decoder = new PgOutputDecoder();
        decoder.inStream = true;
        return decoder;
    }

    public PgOutput decode(ByteBuffer buffer) {
        char type = (char) buffer.get();
        return switch (type) {
            case 'B' -> new PgOutput.Begin(buffer.getLong(), time(buffer.getLong()), Integer.toUnsignedLong(buffer.getInt()));
            case 'C' -> new PgOutput.Commit(buffer.get(), buffer.getLong(), buffer.getLong(), time(buffer.getLong()));
            case 'O' -> new PgOutput.Origin(buffer.getLong(), string(buffer));
            case 'R' -> relation(buffer);
            case 'Y' -> new PgOutput.Type(xid(buffer), Integer.toUnsignedLong(buffer.getInt()), string(buffer), string(buffer));
            case 'I' -> insert(buffer);
            case 'U' -> update(buffer);
            case 'D' -> delete(buffer);
            case 'T' -> truncate(buffer);
            case 'M' -> message(buffer);
            case 'S' -> {
                inStream = true;
                yield new PgOutput.StreamStart(Integer.toUnsignedLong(buffer.getInt()), buffer.get() == 1);
            }
            case 'E' -> {
                inStream = false;
                yield new PgOutput.StreamStop();
            }
            case 'c' -> new PgOutput.StreamCommit(Integer.toUnsignedLong(buffer.getInt()), buffer.get(), buffer.getLong(), buffer.getLong(),
                time(buffer.getLong()));
            case 'A' -> new PgOutput.StreamAbort(Integer.toUnsignedLong(buffer.getInt()), Integer.toUnsignedLong(buffer.getInt()));
            default -> throw new IllegalArgumentException("pgoutput sent a message of unknown type '" + type + "' (" + (int) type + ")");
        };
    }

    private Optional<Long> xid(ByteBuffer buffer) {
        return inStream ? Optional.of(Integer.toUnsignedLong(buffer.getInt())) : Optional.empty();
    }

    private PgOutput relation(ByteBuffer buffer) {
        Optional<Long> xid = xid(buffer);
        long oid = Integer.toUnsignedLong(buffer.getInt());
        String namespace = string(buffer);
        String name = string(buffer);
        char identity = (char) buffer.get();
        int count = Short.toUnsignedInt(buffer.getShort());
        var columns = new ArrayList<PgOutput.Column>(count);
        for (int i = 0; i < count; i++) {
            boolean key = (buffer.get() & 1) != 0;
            columns.add(new PgOutput.Column(key, string(buffer), Integer.toUnsignedLong(buffer.getInt()), buffer.getInt()));
        }
        return new PgOutput.Relation(xid, oid, namespace, name, identity, columns);
    }

    private PgOutput insert(ByteBuffer buffer) {
        Optional<Long> xid = xid(buffer);
        long relation = Integer.toUnsignedLong(buffer.getInt());
        expect(buffer, 'N', "Insert");
        return new PgOutput.Insert(xid, relation, tuple(buffer));
    }

    private PgOutput update(ByteBuffer buffer) {
        Optional<Long> xid = xid(buffer);
        long relation = Integer.toUnsignedLong(buffer.getInt());
        char marker = (char) buffer.get();
        Optional<PgOutput.Tuple> old = Optional.empty();
        boolean keyOnly = false;
        if (marker == 'K' || marker == 'O') {
            keyOnly = marker == 'K';
            old = Optional.of(tuple(buffer));
            marker = (char) buffer.get();
        }
        if (marker != 'N') {
            throw new IllegalArgumentException("pgoutput sent an Update without its new row (marker '" + marker + "')");
        }
        return new PgOutput.Update(xid, relation, old, keyOnly, tuple(buffer));
    }

    private PgOutput delete(ByteBuffer buffer) {
        Optional<Long> xid = xid(buffer);
        long relation = Integer.toUnsignedLong(buffer.getInt());
        char marker = (char) buffer.get();
        if (marker != 'K' && marker != 'O') {
            throw new IllegalArgumentException("pgoutput sent a Delete without its old key or row (marker '" + marker + "')");
        }
        return new PgOutput.Delete(xid, relation, tuple(buffer), marker == 'K');
    }

    private PgOutput truncate(ByteBuffer buffer) {
        Optional<Long> xid = xid(buffer);
        int count = buffer.getInt();
        int options = buffer.get();
        var relations = new ArrayList<Long>(count);
        for (int i = 0; i < count; i++) {
            relations.add(Integer.toUnsignedLong(buffer.getInt()));
        }
        return new PgOutput.Truncate(xid, (options & 1) != 0, (options & 2) != 0, relations);
    }

    private PgOutput message(ByteBuffer buffer) {
        Optional<Long> xid = xid(buffer);
        boolean transactional = (buffer.get() & 1) != 0;
        long lsn = buffer.getLong();
        String prefix = string(buffer);
        byte[] content = new byte[buffer.getInt()];
        buffer.get(content);
        return new PgOutput.Message(xid, transactional, lsn, prefix, content);
    }

    private static PgOutput.Tuple tuple(ByteBuffer buffer) {
        int count = Short.toUnsignedInt(buffer.getShort());
        var values = new ArrayList<PgOutput.Value>(count);
        for (int i = 0; i < count; i++) {
            char kind = (char) buffer.get();
            values.add(switch (kind) {
                case 'n' -> new PgOutput.Value(PgOutput.Kind.NULL, null);
                case 'u' -> new PgOutput.Value(PgOutput.Kind.UNCHANGED_TOAST, null);
                case 't', 'b' -> {
                    byte[] bytes = new byte[buffer.getInt()];
                    buffer.get(bytes);
                    yield new PgOutput.Value(kind == 't' ? PgOutput.Kind.TEXT : PgOutput.Kind.BINARY, bytes);
                }
                default -> throw new IllegalArgumentException("pgoutput sent a column of unknown kind '" + kind + "'");
            });
        }
        return new PgOutput.Tuple(values);
    }

    private static void expect(ByteBuffer buffer, char marker, String message) {
        char got = (char) buffer.get();
        if (got != marker) {
            throw new IllegalArgumentException("pgoutput sent an " + message + " with marker '" + got + "', not '" + marker + "'");
        }
    }

    /** A NUL-terminated string in the server's encoding (UTF-8 for the datakits' connections). */
    private static String string(ByteBuffer buffer) {
        int end = buffer.position();
        while (buffer.get(end) != 0) {
            end++;
        }
        byte[] bytes = new byte[end - buffer.position()];
        buffer.get(bytes);
        buffer.get(); // the terminating NUL
        return new String(bytes, StandardCharsets.UTF_8);
    }

    private static Instant time(long microseconds) {
        return POSTGRES_EPOCH.plus(Duration.ofNanos(Math.multiplyExact(microseconds, 1000L)));
    }
}
