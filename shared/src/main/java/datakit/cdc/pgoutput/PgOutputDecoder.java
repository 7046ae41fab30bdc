package datakit.cdc.pgoutput;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Optional;

/**
 * Decodes {@code pgoutput} messages, one message per buffer as the replication stream (or
 * {@code pg_logical_slot_get_binary_changes}) delivers them, with one method per message type. Each
 * method's comment lists the fields it reads after the type byte, in order, as PostgreSQL's
 * <a href="https://www.postgresql.org/docs/current/protocol-logicalrep-message-formats.html">Logical
 * Replication Message Formats</a> lays them out (protocol versions 1 and 2).
 *
 * <p>It keeps one piece of state: whether it is inside a streamed transaction's block (between Stream
 * Start and Stream Stop), where the messages that describe and change tables carry their transaction's
 * id as their first field.
 */
public final class PgOutputDecoder {
    private boolean inStream;

    /** A decoder for a streamed transaction's messages kept apart and read again: each carries its transaction's id. */
    public static PgOutputDecoder insideStream() {
        var decoder = new PgOutputDecoder();
        decoder.inStream = true;
        return decoder;
    }

    /** Decodes one whole message, from the buffer's position on. */
    public PgOutput decode(ByteBuffer message) {
        var in = new MessageBuffer(message);
        return switch (MessageType.of(in.byte1())) {
            case BEGIN -> begin(in);
            case COMMIT -> commit(in);
            case ORIGIN -> origin(in);
            case RELATION -> relation(in);
            case TYPE -> type(in);
            case INSERT -> insert(in);
            case UPDATE -> update(in);
            case DELETE -> delete(in);
            case TRUNCATE -> truncate(in);
            case MESSAGE -> message(in);
            case STREAM_START -> {
                inStream = true;
                yield streamStart(in);
            }
            case STREAM_STOP -> {
                inStream = false;
                yield new PgOutput.StreamStop();
            }
            case STREAM_COMMIT -> streamCommit(in);
            case STREAM_ABORT -> streamAbort(in);
        };
    }

    /**
     * Decodes a message that frames a streamed transaction (its type {@link MessageType#controlsStreaming()}),
     * for the stream's reader, which sorts the messages between them by transaction without decoding those.
     */
    public static PgOutput.StreamControl streamControl(ByteBuffer message) {
        var in = new MessageBuffer(message);
        MessageType type = MessageType.of(in.byte1());
        return switch (type) {
            case STREAM_START -> streamStart(in);
            case STREAM_STOP -> new PgOutput.StreamStop();
            case STREAM_COMMIT -> streamCommit(in);
            case STREAM_ABORT -> streamAbort(in);
            default -> throw new IllegalArgumentException("a " + type + " message does not frame a streamed transaction");
        };
    }

    /**
     * The (sub)transaction a message inside a streamed block belongs to: its first field after the type byte,
     * Int32 (TransactionId). Reads a copy of the buffer, so the message stays whole.
     */
    public static long transactionOf(ByteBuffer message) {
        var in = new MessageBuffer(message.duplicate());
        in.byte1();
        return in.uint32();
    }

    /**
     * Begin ({@code B}), sent when the transaction has committed:
     * <pre>
     * Int64 (XLogRecPtr)     the final LSN of the transaction
     * Int64 (TimestampTz)    commit timestamp
     * Int32 (TransactionId)  xid of the transaction
     * </pre>
     */
    private static PgOutput.Begin begin(MessageBuffer in) {
        var finalLsn = in.lsn();
        var commitTime = in.timestamp();
        return new PgOutput.Begin(finalLsn, commitTime, in.uint32());
    }

    /**
     * Commit ({@code C}):
     * <pre>
     * Int8                   flags (unused, 0)
     * Int64 (XLogRecPtr)     the LSN of the commit
     * Int64 (XLogRecPtr)     the end LSN of the transaction
     * Int64 (TimestampTz)    commit timestamp
     * </pre>
     */
    private static PgOutput.Commit commit(MessageBuffer in) {
        int flags = in.int8();
        var commitLsn = in.lsn();
        var endLsn = in.lsn();
        return new PgOutput.Commit(flags, commitLsn, endLsn, in.timestamp());
    }

    /**
     * Origin ({@code O}), for a transaction replicated from another node:
     * <pre>
     * Int64 (XLogRecPtr)     the LSN of the commit on the origin server
     * String                 name of the origin
     * </pre>
     */
    private static PgOutput.Origin origin(MessageBuffer in) {
        var commitLsn = in.lsn();
        return new PgOutput.Origin(commitLsn, in.string());
    }

    /**
     * Relation ({@code R}), a table's shape before its first change (and again after it changed):
     * <pre>
     * Int32 (TransactionId)  xid, inside a streamed block only
     * Int32 (Oid)            OID of the relation
     * String                 namespace (empty for pg_catalog)
     * String                 relation name
     * Int8                   replica identity (relreplident: d, n, f or i)
     * Int16                  number of columns, then for each column:
     *   Int8                 flags: 1 marks a column of the key
     *   String               name of the column
     *   Int32 (Oid)          OID of its data type
     *   Int32                its type modifier (atttypmod)
     * </pre>
     */
    private PgOutput.Relation relation(MessageBuffer in) {
        Optional<Long> xid = xid(in);
        long oid = in.uint32();
        String namespace = in.string();
        String name = in.string();
        char identity = in.byte1();
        int count = in.uint16();
        var columns = new ArrayList<PgOutput.Column>(count);
        for (int i = 0; i < count; i++) {
            boolean key = (in.int8() & 1) != 0;
            String column = in.string();
            long typeOid = in.uint32();
            columns.add(new PgOutput.Column(key, column, typeOid, in.int32()));
        }
        return new PgOutput.Relation(xid, oid, namespace, name, identity, columns);
    }

    /**
     * Type ({@code Y}), a data type before a relation first uses it (user-defined types only):
     * <pre>
     * Int32 (TransactionId)  xid, inside a streamed block only
     * Int32 (Oid)            OID of the data type
     * String                 namespace (empty for pg_catalog)
     * String                 name of the data type
     * </pre>
     */
    private PgOutput.Type type(MessageBuffer in) {
        Optional<Long> xid = xid(in);
        long oid = in.uint32();
        String namespace = in.string();
        return new PgOutput.Type(xid, oid, namespace, in.string());
    }

    /**
     * Insert ({@code I}):
     * <pre>
     * Int32 (TransactionId)  xid, inside a streamed block only
     * Int32 (Oid)            OID of the relation
     * Byte1 ('N')            a new row follows
     * TupleData              the new row (see {@link MessageBuffer#tupleData})
     * </pre>
     */
    private PgOutput.Insert insert(MessageBuffer in) {
        Optional<Long> xid = xid(in);
        long relation = in.uint32();
        char marker = in.byte1();
        if (marker != 'N') {
            throw new IllegalArgumentException("pgoutput sent an Insert with marker '" + marker + "', not 'N'");
        }
        return new PgOutput.Insert(xid, relation, in.tupleData());
    }

    /**
     * Update ({@code U}):
     * <pre>
     * Int32 (TransactionId)  xid, inside a streamed block only
     * Int32 (Oid)            OID of the relation
     * Byte1 ('K' or 'O')     optional: the old key follows (K: the update changed a column of the replica identity
     *                        index) or the whole old row (O: REPLICA IDENTITY FULL); never both
     * TupleData              the old key or row, when K or O came
     * Byte1 ('N')            the new row follows
     * TupleData              the new row
     * </pre>
     */
    private PgOutput.Update update(MessageBuffer in) {
        Optional<Long> xid = xid(in);
        long relation = in.uint32();
        char marker = in.byte1();
        Optional<PgOutput.Tuple> old = Optional.empty();
        boolean keyOnly = false;
        if (marker == 'K' || marker == 'O') {
            keyOnly = marker == 'K';
            old = Optional.of(in.tupleData());
            marker = in.byte1();
        }
        if (marker != 'N') {
            throw new IllegalArgumentException("pgoutput sent an Update without its new row (marker '" + marker + "')");
        }
        return new PgOutput.Update(xid, relation, old, keyOnly, in.tupleData());
    }

    /**
     * Delete ({@code D}):
     * <pre>
     * Int32 (TransactionId)  xid, inside a streamed block only
     * Int32 (Oid)            OID of the relation
     * Byte1 ('K' or 'O')     the old key follows (K: REPLICA IDENTITY DEFAULT or USING INDEX) or the whole old row
     *                        (O: REPLICA IDENTITY FULL)
     * TupleData              the old key or row
     * </pre>
     */
    private PgOutput.Delete delete(MessageBuffer in) {
        Optional<Long> xid = xid(in);
        long relation = in.uint32();
        char marker = in.byte1();
        if (marker != 'K' && marker != 'O') {
            throw new IllegalArgumentException("pgoutput sent a Delete without its old key or row (marker '" + marker + "')");
        }
        return new PgOutput.Delete(xid, relation, in.tupleData(), marker == 'K');
    }

    /**
     * Truncate ({@code T}):
     * <pre>
     * Int32 (TransactionId)  xid, inside a streamed block only
     * Int32                  number of relations
     * Int8                   options: 1 for CASCADE, 2 for RESTART IDENTITY
     * Int32 (Oid)            OID of each relation, as many as counted
     * </pre>
     */
    private PgOutput.Truncate truncate(MessageBuffer in) {
        Optional<Long> xid = xid(in);
        int count = in.int32();
        int options = in.int8();
        var relations = new ArrayList<Long>(count);
        for (int i = 0; i < count; i++) {
            relations.add(in.uint32());
        }
        return new PgOutput.Truncate(xid, (options & 1) != 0, (options & 2) != 0, relations);
    }

    /**
     * Message ({@code M}), written with {@code pg_logical_emit_message} (sent with the {@code messages} option):
     * <pre>
     * Int32 (TransactionId)  xid, inside a streamed block only
     * Int8                   flags: 1 if the message is transactional
     * Int64 (XLogRecPtr)     the LSN of the message
     * String                 its prefix
     * Int32                  length of its content
     * Byten                  its content
     * </pre>
     */
    private PgOutput.Message message(MessageBuffer in) {
        Optional<Long> xid = xid(in);
        boolean transactional = (in.int8() & 1) != 0;
        var lsn = in.lsn();
        String prefix = in.string();
        return new PgOutput.Message(xid, transactional, lsn, prefix, in.bytes(in.int32()));
    }

    /**
     * Stream Start ({@code S}), the start of a block of a transaction still in progress (protocol version 2):
     * <pre>
     * Int32 (TransactionId)  xid of the transaction
     * Int8                   1 for the transaction's first block, else 0
     * </pre>
     * Stream Stop ({@code E}), the block's end, has no fields.
     */
    private static PgOutput.StreamStart streamStart(MessageBuffer in) {
        long xid = in.uint32();
        return new PgOutput.StreamStart(xid, in.int8() == 1);
    }

    /**
     * Stream Commit ({@code c}), the commit of a streamed transaction:
     * <pre>
     * Int32 (TransactionId)  xid of the transaction
     * Int8                   flags (unused, 0)
     * Int64 (XLogRecPtr)     the LSN of the commit
     * Int64 (XLogRecPtr)     the end LSN of the transaction
     * Int64 (TimestampTz)    commit timestamp
     * </pre>
     */
    private static PgOutput.StreamCommit streamCommit(MessageBuffer in) {
        long xid = in.uint32();
        int flags = in.int8();
        var commitLsn = in.lsn();
        var endLsn = in.lsn();
        return new PgOutput.StreamCommit(xid, flags, commitLsn, endLsn, in.timestamp());
    }

    /**
     * Stream Abort ({@code A}), the rollback of a streamed transaction or of one of its subtransactions:
     * <pre>
     * Int32 (TransactionId)  xid of the transaction
     * Int32 (TransactionId)  xid of the subtransaction (the transaction's own for the whole transaction)
     * </pre>
     */
    private static PgOutput.StreamAbort streamAbort(MessageBuffer in) {
        long xid = in.uint32();
        return new PgOutput.StreamAbort(xid, in.uint32());
    }

    /** The Int32 (TransactionId) that leads a message inside a streamed block; nothing outside one. */
    private Optional<Long> xid(MessageBuffer in) {
        return inStream ? Optional.of(in.uint32()) : Optional.empty();
    }
}
