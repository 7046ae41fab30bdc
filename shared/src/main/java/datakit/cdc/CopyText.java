package datakit.cdc;

import java.nio.charset.StandardCharsets;
import java.sql.SQLException;
import java.util.Arrays;
import org.postgresql.copy.CopyIn;

/**
 * Rows in COPY's text format, built in a growing byte array: pgoutput sends values in their types' text
 * form, which is what COPY text reads, so a value only needs COPY's escapes (backslash, tab, newline,
 * carriage return), done on the UTF-8 bytes as they came.
 */
final class CopyText {
    private static final byte[] NULL = {'\\', 'N'};

    private byte[] bytes = new byte[1 << 16];
    private int size;
    private int rows;
    private boolean rowStarted;

    /** A value in its text form, escaped for COPY. */
    CopyText value(byte[] text) {
        separate();
        ensure((int) Math.min(2L * text.length, Integer.MAX_VALUE - 8L - size));
        for (byte b : text) {
            switch (b) {
                case '\\' -> put2('\\', '\\');
                case '\t' -> put2('\\', 't');
                case '\n' -> put2('\\', 'n');
                case '\r' -> put2('\\', 'r');
                default -> bytes[size++] = b;
            }
        }
        return this;
    }

    CopyText value(String text) {
        return value(text.getBytes(StandardCharsets.UTF_8));
    }

    /** A value known to need no escapes (an LSN, a number, a UUID, a fixed word). */
    CopyText plain(byte[] text) {
        separate();
        ensure(text.length);
        System.arraycopy(text, 0, bytes, size, text.length);
        size += text.length;
        return this;
    }

    CopyText nullValue() {
        return plain(NULL);
    }

    CopyText endRow() {
        ensure(1);
        bytes[size++] = '\n';
        rowStarted = false;
        rows++;
        return this;
    }

    int size() {
        return size;
    }

    int rows() {
        return rows;
    }

    /** Sends the rows to a COPY in progress and empties the buffer. */
    void sendTo(CopyIn copy) throws SQLException {
        copy.writeToCopy(bytes, 0, size);
        clear();
    }

    void clear() {
        size = 0;
        rows = 0;
        rowStarted = false;
    }

    private void separate() {
        if (rowStarted) {
            ensure(1);
            bytes[size++] = '\t';
        }
        rowStarted = true;
    }

    private void put2(char a, char b) {
        bytes[size++] = (byte) a;
        bytes[size++] = (byte) b;
    }

    private void ensure(int more) {
        if (size + more > bytes.length) {
            bytes = Arrays.copyOf(bytes, Math.max(bytes.length * 2, size + more));
        }
    }
}
