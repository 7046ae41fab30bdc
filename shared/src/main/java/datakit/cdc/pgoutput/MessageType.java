package datakit.cdc.pgoutput;

import java.nio.ByteBuffer;

/**
 * The type of a pgoutput message, named by its first byte (Byte1), as in PostgreSQL's "Logical Replication
 * Message Formats". The stream's reader sorts messages by it before they are decoded.
 */
public enum MessageType {
    BEGIN('B'), COMMIT('C'), ORIGIN('O'), RELATION('R'), TYPE('Y'), INSERT('I'), UPDATE('U'), DELETE('D'), TRUNCATE('T'),
    MESSAGE('M'), STREAM_START('S'), STREAM_STOP('E'), STREAM_COMMIT('c'), STREAM_ABORT('A');

    private final char code;

    MessageType(char code) {
        this.code = code;
    }

    /**
     * The type of {@code message}, read at its position without moving past it.
     *
     * @throws IllegalArgumentException when its first byte names no type of protocol version 1 or 2
     */
    public static MessageType of(ByteBuffer message) {
        return of((char) message.get(message.position()));
    }

    static MessageType of(char code) {
        for (MessageType type : values()) {
            if (type.code == code) {
                return type;
            }
        }
        throw new IllegalArgumentException("pgoutput sent a message of unknown type '" + code + "' (" + (int) code + ")");
    }

    /** Whether messages of this type frame a transaction streamed while in progress: Stream Start, Stop, Commit and Abort. */
    boolean controlsStreaming() {
        return this == STREAM_START || this == STREAM_STOP || this == STREAM_COMMIT || this == STREAM_ABORT;
    }
}
