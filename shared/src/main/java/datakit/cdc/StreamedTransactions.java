package datakit.cdc;

import datakit.cdc.pgoutput.MessageType;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Large transactions the server streams while they are still in progress (protocol version 2): their
 * messages are kept in a local file per transaction until its Stream Commit, when they are replayed
 * in order, or its Stream Abort, when they are dropped (all of them, or from an aborted
 * subtransaction's first message on). Nothing of a transaction reaches bronze before it committed, and
 * memory stays small however large it is. Files of a process that died are not needed: the server
 * streams an unconfirmed transaction again.
 */
final class StreamedTransactions implements AutoCloseable {
    private final Path directory;
    private final Map<Long, Spool> open = new HashMap<>();
    private Spool current;

    StreamedTransactions() {
        try {
            directory = Files.createTempDirectory("datakit-cdc-");
            directory.toFile().deleteOnExit();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create a directory for streamed transactions", e);
        }
    }

    /** Stream Start: the following messages belong to {@code xid}, until Stream Stop. */
    void start(long xid) {
        current = open.computeIfAbsent(xid, this::spool);
    }

    void stop() {
        if (current != null) {
            current.flush();
        }
        current = null;
    }

    /** Keeps a message of the current block; {@code xid} is its (sub)transaction. */
    void add(ByteBuffer message, long xid) {
        current.add(message, xid);
    }

    void abort(long xid, long subXid) {
        Spool spool = open.get(xid);
        if (spool == null) {
            return;
        }
        if (subXid == xid) {
            open.remove(xid).delete();
        } else {
            spool.abortSubtransaction(subXid);
        }
    }

    /** Takes a replayed message. */
    @FunctionalInterface
    interface Replay {
        void accept(ByteBuffer message) throws SQLException;
    }

    /**
     * Stream Commit: hands over the transaction's messages, to be replayed in order and then deleted
     * (by another thread: the file is complete). A transaction with no message kept gives an empty one.
     */
    Spooled finish(long xid) {
        Spool spool = open.remove(xid);
        if (spool == null) {
            return Spooled.EMPTY;
        }
        spool.flush();
        return spool;
    }

    /** A committed streamed transaction's messages. */
    interface Spooled {
        Spooled EMPTY = new Spooled() {
            @Override
            public void replay(Replay replay) {
            }

            @Override
            public void delete() {
            }
        };

        void replay(Replay replay) throws SQLException;

        void delete();
    }

    /** Transactions streamed but not ended yet. */
    int pending() {
        return open.size();
    }

    private Spool spool(long xid) {
        try {
            return new Spool(Files.createTempFile(directory, "xid-" + xid + "-", ".pgoutput"), xid);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create a file for streamed transaction " + xid, e);
        }
    }

    @Override
    public void close() {
        open.values().forEach(Spool::delete);
        open.clear();
        try {
            Files.deleteIfExists(directory);
        } catch (IOException e) {
            // A temporary directory left behind is harmless.
        }
    }

    /** One transaction's messages: length-prefixed, with where each subtransaction began. */
    private static final class Spool implements Spooled {
        private final Path file;
        private final long xid;
        private final FileChannel channel;
        private DataOutputStream out;
        private long size;
        private final Map<Long, Long> subtransactionStarts = new LinkedHashMap<>();

        Spool(Path file, long xid) throws IOException {
            this.file = file;
            this.xid = xid;
            this.channel = FileChannel.open(file, StandardOpenOption.WRITE, StandardOpenOption.READ);
            this.out = output();
        }

        private DataOutputStream output() {
            return new DataOutputStream(new BufferedOutputStream(Channels.newOutputStream(channel), 1 << 16));
        }

        void add(ByteBuffer message, long xid) {
            subtransactionStarts.putIfAbsent(xid, size);
            int length = message.remaining();
            try {
                out.writeInt(length);
                if (message.hasArray()) {
                    out.write(message.array(), message.arrayOffset() + message.position(), length);
                } else {
                    byte[] bytes = new byte[length];
                    message.duplicate().get(bytes);
                    out.write(bytes);
                }
            } catch (IOException e) {
                throw new UncheckedIOException("cannot keep a streamed transaction's message in " + file, e);
            }
            size += 4 + length;
        }

        void flush() {
            try {
                out.flush();
            } catch (IOException e) {
                throw new UncheckedIOException("cannot write " + file, e);
            }
        }

        /**
         * Drops the subtransaction's changes and those of every subtransaction after it. Relation and Type
         * messages among them are kept: the server sends a table's shape once per transaction, with the
         * subtransaction that first touched it, and later changes of the transaction rely on it.
         */
        void abortSubtransaction(long subXid) {
            Long start = subtransactionStarts.get(subXid);
            if (start == null) {
                return;
            }
            try {
                out.flush();
                var shapes = new ArrayList<ByteBuffer>();
                readFrom(start, m -> {
                    MessageType type = MessageType.of(m);
                    if (type == MessageType.RELATION || type == MessageType.TYPE) {
                        shapes.add(m);
                    }
                });
                channel.truncate(start);
                channel.position(start);
                out = output();
                size = start;
                subtransactionStarts.values().removeIf(offset -> offset >= start);
                shapes.forEach(m -> add(m, xid));
            } catch (IOException | SQLException e) {
                throw new UncheckedIOException("cannot drop an aborted subtransaction from " + file,
                    e instanceof IOException io ? io : new IOException(e));
            }
        }

        @Override
        public void replay(Replay replay) throws SQLException {
            try {
                readFrom(0, replay);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read back " + file, e);
            }
        }

        /** Reads the messages from byte {@code offset} on; the caller flushed what it wrote. */
        private void readFrom(long offset, Replay replay) throws IOException, SQLException {
            var raw = Files.newInputStream(file);
            raw.skipNBytes(offset);
            try (var in = new DataInputStream(new BufferedInputStream(raw, 1 << 16))) {
                while (true) {
                    int length;
                    try {
                        length = in.readInt();
                    } catch (EOFException end) {
                        return;
                    }
                    byte[] bytes = new byte[length];
                    in.readFully(bytes);
                    replay.accept(ByteBuffer.wrap(bytes));
                }
            }
        }

        @Override
        public void delete() {
            try {
                channel.close();
                Files.deleteIfExists(file);
            } catch (IOException e) {
                // A temporary file left behind is harmless.
            }
        }
    }
}
