package datakit.cdc.pgoutput;

import datakit.wal.Lsn;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
import java.util.Optional;

/**
 * The messages of PostgreSQL's built-in logical replication output plugin, {@code pgoutput}, as its
 * documentation ("Logical Replication Message Formats") defines them, up to protocol version 2
 * (streaming of large transactions in progress); {@link PgOutputDecoder} reads them, and documents
 * each one's bytes. {@code xid} is present on messages inside a streamed transaction, and empty elsewhere.
 */
public sealed interface PgOutput {

    record Begin(Lsn finalLsn, Instant commitTime, long xid) implements PgOutput {
    }

    record Commit(int flags, Lsn commitLsn, Lsn endLsn, Instant commitTime) implements PgOutput {
    }

    record Origin(Lsn commitLsn, String name) implements PgOutput {
    }

    /** A column of a relation: its name, type, and whether it is part of the replica identity. */
    record Column(boolean key, String name, long typeOid, int typmod) {
    }

    /** Describes a table before its first change in a session, and again after it changes shape. */
    record Relation(Optional<Long> xid, long oid, String namespace, String name, char replicaIdentity, List<Column> columns)
        implements PgOutput {
        public Relation {
            columns = List.copyOf(columns);
        }
    }

    record Type(Optional<Long> xid, long oid, String namespace, String name) implements PgOutput {
    }

    record Insert(Optional<Long> xid, long relation, Tuple row) implements PgOutput {
    }

    /**
     * @param old the old key ({@code K}, when the key changed) or the whole old row ({@code O}, REPLICA
     *            IDENTITY FULL); empty when the old row is not sent
     */
    record Update(Optional<Long> xid, long relation, Optional<Tuple> old, boolean oldIsKeyOnly, Tuple row) implements PgOutput {
    }

    /** @param old the key ({@code oldIsKeyOnly}) or, under REPLICA IDENTITY FULL, the whole old row */
    record Delete(Optional<Long> xid, long relation, Tuple old, boolean oldIsKeyOnly) implements PgOutput {
    }

    record Truncate(Optional<Long> xid, boolean cascade, boolean restartIdentity, List<Long> relations) implements PgOutput {
        public Truncate {
            relations = List.copyOf(relations);
        }
    }

    /** A message written with {@code pg_logical_emit_message}. */
    record Message(Optional<Long> xid, boolean transactional, Lsn lsn, String prefix, byte[] content) implements PgOutput {
    }

    /**
     * The messages that frame a transaction streamed while in progress: the stream's reader sorts the messages
     * between them by transaction (see {@link PgOutputDecoder#streamControl}).
     */
    sealed interface StreamControl extends PgOutput {
    }

    record StreamStart(long xid, boolean firstSegment) implements StreamControl {
    }

    record StreamStop() implements StreamControl {
    }

    record StreamCommit(long xid, int flags, Lsn commitLsn, Lsn endLsn, Instant commitTime) implements StreamControl {
    }

    record StreamAbort(long xid, long subXid) implements StreamControl {
    }

    /** How one column of a row arrived. */
    enum Kind {
        /** SQL NULL. */
        NULL,
        /** A TOASTed value the change did not touch: not sent, and not NULL. */
        UNCHANGED_TOAST,
        /** The value in the type's text form. */
        TEXT,
        /** The value in the type's binary form (the {@code binary} option). */
        BINARY
    }

    /** One column's value in a row, as sent. */
    record Value(Kind kind, byte[] bytes) {
        public String text() {
            return kind == Kind.TEXT ? new String(bytes, StandardCharsets.UTF_8) : null;
        }
    }

    record Tuple(List<Value> values) {
        public Tuple {
            values = List.copyOf(values);
        }
    }
}
