package datakit.cdc;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** The reader's sorting of messages, on messages built as the protocol documentation lays them out. */
class MessageFramingTest {
    static ByteBuffer begin() {
        return ByteBuffer.allocate(21).put((byte) 'B').putLong(0x10).putLong(0).putInt(700).flip();
    }

    static ByteBuffer commit() {
        return ByteBuffer.allocate(26).put((byte) 'C').put((byte) 0).putLong(0x10).putLong(0x20).putLong(0).flip();
    }

    /** An Insert with no columns; inside a streamed block it carries its transaction first. */
    static ByteBuffer insert(Optional<Integer> xid) {
        var bytes = ByteBuffer.allocate(12).put((byte) 'I');
        xid.ifPresent(bytes::putInt);
        return bytes.putInt(16_400).put((byte) 'N').putShort((short) 0).flip();
    }

    static ByteBuffer streamStart(int xid) {
        return ByteBuffer.allocate(6).put((byte) 'S').putInt(xid).put((byte) 1).flip();
    }

    static ByteBuffer streamStop() {
        return ByteBuffer.allocate(1).put((byte) 'E').flip();
    }

    static ByteBuffer streamCommit(int xid) {
        return ByteBuffer.allocate(30).put((byte) 'c').putInt(xid).put((byte) 0).putLong(0x30).putLong(0x40).putLong(0).flip();
    }

    @Test
    void aTransactionsMessagesGoToTheQueueAndItsCommitIsABoundary() {
        try (var framing = new MessageFraming()) {
            assertThat(framing.atBoundary()).isTrue();
            assertThat(framing.take(begin())).containsInstanceOf(MessageReader.Message.class);
            assertThat(framing.atBoundary()).isFalse();
            assertThat(framing.take(insert(Optional.empty()))).containsInstanceOf(MessageReader.Message.class);
            assertThat(framing.atBoundary()).isFalse();
            assertThat(framing.take(commit())).containsInstanceOf(MessageReader.Message.class);
            assertThat(framing.atBoundary()).isTrue();
        }
    }

    @Test
    void aStreamedTransactionWaitsInItsFileUntilItsStreamCommitHandsItOver() throws SQLException {
        try (var framing = new MessageFraming()) {
            assertThat(framing.take(streamStart(700))).isEmpty();
            assertThat(framing.atBoundary()).as("inside a block").isFalse();
            ByteBuffer insert = insert(Optional.of(700));
            assertThat(framing.take(insert.duplicate())).isEmpty();
            assertThat(framing.take(streamStop())).isEmpty();
            assertThat(framing.atBoundary()).isTrue();

            var streamed = (MessageReader.Streamed) framing.take(streamCommit(700)).orElseThrow();
            assertThat(streamed.commit().xid()).isEqualTo(700);
            var replayed = new ArrayList<ByteBuffer>();
            streamed.messages().replay(replayed::add);
            streamed.messages().delete();
            assertThat(replayed).containsExactly(insert);
        }
    }
}
