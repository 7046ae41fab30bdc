package datakit.cdc.pgoutput;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import datakit.wal.Lsn;
import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/**
 * The messages a test server does not send on its own (Origin, Type, Stream Abort, binary values), built
 * byte by byte as the protocol documentation lays them out.
 */
class PgOutputDecoderTest {
    /** Writes a message the way the server does: big-endian numbers, NUL-terminated strings. */
    static final class Message {
        final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        final DataOutputStream out = new DataOutputStream(bytes);

        Message(char type) throws IOException {
            out.writeByte(type);
        }

        Message int8(int v) throws IOException {
            out.writeByte(v);
            return this;
        }

        Message int16(int v) throws IOException {
            out.writeShort(v);
            return this;
        }

        Message int32(long v) throws IOException {
            out.writeInt((int) v);
            return this;
        }

        Message int64(long v) throws IOException {
            out.writeLong(v);
            return this;
        }

        Message string(String s) throws IOException {
            out.write(s.getBytes(StandardCharsets.UTF_8));
            out.writeByte(0);
            return this;
        }

        Message bytes(byte[] b) throws IOException {
            out.writeInt(b.length);
            out.write(b);
            return this;
        }

        ByteBuffer buffer() {
            return ByteBuffer.wrap(bytes.toByteArray());
        }
    }

    @Test
    void originTypeAndBeginDecodeWithUnsignedIdsAndPostgresTime() throws IOException {
        var decoder = new PgOutputDecoder();

        assertThat(decoder.decode(new Message('B').int64(0x10L).int64(1_000_000L).int32(0xFFFFFFFEL).buffer()))
            .isEqualTo(new PgOutput.Begin(Lsn.of(0x10L), Instant.parse("2000-01-01T00:00:01Z"), 4_294_967_294L));
        assertThat(decoder.decode(new Message('O').int64(42).string("node_a").buffer())).isEqualTo(new PgOutput.Origin(Lsn.of(42), "node_a"));
        assertThat(decoder.decode(new Message('Y').int32(16_500).string("shop").string("mood").buffer()))
            .isEqualTo(new PgOutput.Type(Optional.empty(), 16_500, "shop", "mood"));
    }

    @Test
    void insideAStreamedBlockMessagesCarryTheirTransactionAndAnAbortEndsIt() throws IOException {
        var decoder = new PgOutputDecoder();

        assertThat(decoder.decode(new Message('S').int32(700).int8(1).buffer())).isEqualTo(new PgOutput.StreamStart(700, true));
        var insert = (PgOutput.Insert) decoder.decode(new Message('I').int32(700).int32(16_400).int8('N')
            .int16(3).int8('b').bytes(new byte[] {0, 0, 0, 7}).int8('n').int8('u').buffer());
        assertThat(insert.xid()).contains(700L);
        assertThat(insert.row().values()).extracting(PgOutput.Value::kind)
            .containsExactly(PgOutput.Kind.BINARY, PgOutput.Kind.NULL, PgOutput.Kind.UNCHANGED_TOAST);
        assertThat(insert.row().values().get(0).bytes()).containsExactly(0, 0, 0, 7);
        assertThat(decoder.decode(new Message('E').buffer())).isEqualTo(new PgOutput.StreamStop());
        assertThat(decoder.decode(new Message('A').int32(700).int32(701).buffer())).isEqualTo(new PgOutput.StreamAbort(700, 701));

        var after = (PgOutput.Insert) decoder.decode(new Message('I').int32(16_400).int8('N').int16(0).buffer());
        assertThat(after.xid()).as("outside a streamed block there is no xid").isEmpty();
    }

    @Test
    void aMessageThatDoesNotFollowTheProtocolIsAnError() throws IOException {
        var decoder = new PgOutputDecoder();

        assertThatThrownBy(() -> decoder.decode(new Message('Z').buffer())).hasMessageContaining("unknown type 'Z'");
        assertThatThrownBy(() -> decoder.decode(new Message('U').int32(1).int8('X').buffer())).hasMessageContaining("without its new row");
        assertThatThrownBy(() -> decoder.decode(new Message('I').int32(1).int8('N').int16(1).int8('q').buffer()))
            .hasMessageContaining("unknown kind 'q'");
    }
}
