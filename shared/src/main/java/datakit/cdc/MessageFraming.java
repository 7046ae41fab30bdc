package datakit.cdc;

import datakit.cdc.pgoutput.MessageType;
import datakit.cdc.pgoutput.PgOutput;
import datakit.cdc.pgoutput.PgOutputDecoder;
import java.nio.ByteBuffer;
import java.util.Optional;

/**
 * Where each message of the stream belongs, as the reader takes it: Begin and Commit mark a transaction's
 * bounds, Stream Start and Stop a block's of a transaction streamed while in progress, whose messages go
 * to its file ({@link StreamedTransactions}), and a Stream Commit hands over the whole transaction. Only
 * those framing messages are decoded here; of the others only the type is read, and inside a block the
 * (sub)transaction. It also knows when the stream is between transactions, where a queue may end.
 */
final class MessageFraming implements AutoCloseable {
    private final StreamedTransactions streams = new StreamedTransactions();
    private boolean inTransaction;
    private boolean inBlock;

    /** What goes into the queue for {@code message}: empty when it went to the file of its streamed transaction. */
    Optional<MessageReader.Item> take(ByteBuffer message) {
        switch (MessageType.of(message)) {
            case BEGIN -> {
                inTransaction = true;
                return Optional.of(new MessageReader.Message(message));
            }
            case COMMIT -> {
                inTransaction = false;
                return Optional.of(new MessageReader.Message(message));
            }
            case STREAM_START, STREAM_STOP, STREAM_COMMIT, STREAM_ABORT -> {
                return streamControl(message);
            }
            default -> {
                if (inBlock) {
                    streams.add(message, PgOutputDecoder.transactionOf(message));
                    return Optional.empty();
                }
                return Optional.of(new MessageReader.Message(message));
            }
        }
    }

    private Optional<MessageReader.Item> streamControl(ByteBuffer message) {
        switch (PgOutputDecoder.streamControl(message)) {
            case PgOutput.StreamStart start -> {
                inBlock = true;
                streams.start(start.xid());
            }
            case PgOutput.StreamStop stop -> {
                inBlock = false;
                streams.stop();
            }
            case PgOutput.StreamAbort abort -> streams.abort(abort.xid(), abort.subXid());
            case PgOutput.StreamCommit commit -> {
                return Optional.of(new MessageReader.Streamed(commit, streams.finish(commit.xid())));
            }
        }
        return Optional.empty();
    }

    /** Whether the stream is between transactions, outside any streamed block: where the queue may end. */
    boolean atBoundary() {
        return !inTransaction && !inBlock;
    }

    /** Removes the files of streamed transactions not handed over. */
    @Override
    public void close() {
        streams.close();
    }
}
