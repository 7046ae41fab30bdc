package datakit.cdc;

import com.fasterxml.jackson.core.io.JsonStringEncoder;
import datakit.cdc.pgoutput.PgOutput;
import datakit.db.CopyPipe;
import datakit.wal.Lsn;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;

/**
 * The changes of one or more source transactions on their way into bronze, in one open warehouse
 * transaction: rows are gathered per change table in COPY text form and sent whenever a table's
 * buffer fills (so a million-row transaction needs a few megabytes, not a gigabyte), and at the end.
 * The caller commits the warehouse transaction together with the checkpoint.
 */
final class ChangeBatch {
    /** A buffer sent as one COPY once it holds this much. */
    private static final int SEND_BYTES = 4 << 20;
    private static final byte[] INSERT = bytes("insert");
    private static final byte[] UPDATE = bytes("update");
    private static final byte[] DELETE = bytes("delete");
    private static final byte[] TRUNCATE = bytes("truncate");
    private static final JsonStringEncoder JSON_TEXT = JsonStringEncoder.getInstance();

    private final Connection connection;
    private final byte[] runId;
    private final Map<ChangeTable, CopyText> buffers = new IdentityHashMap<>();
    /** Per change table, the columns some change left unknown (unchanged TOAST with no old row to copy from). */
    private final Map<ChangeTable, Set<String>> unknown = new LinkedHashMap<>();
    private final Map<String, Long> rowsPerTable = new LinkedHashMap<>();
    private final Set<ChangeTable> touched = new LinkedHashSet<>();
    private long changes;
    private long bytes;

    /** The transaction whose changes are being added: its commit LSN, time and id, as COPY text. */
    private Lsn commitLsn;
    private byte[] lsn;
    private byte[] commitTime;
    private byte[] xid;
    private int seq;
    private final CommitTimes commitTimes = new CommitTimes();

    ChangeBatch(Connection connection, UUID runId) {
        this.connection = connection;
        this.runId = bytes(runId.toString());
    }

    Connection connection() {
        return connection;
    }

    void begin(Lsn commitLsn, Instant commitTime, long xid) {
        this.commitLsn = commitLsn;
        this.lsn = bytes(commitLsn.toString());
        this.commitTime = commitTimes.text(commitTime);
        this.xid = bytes(Long.toString(xid));
        this.seq = 0;
    }

    /** The last change added: its transaction's commit LSN and its {@code _cdc_seq}. */
    StateApply.After lastChange() {
        return new StateApply.After(commitLsn, seq);
    }

    void insert(ChangeTable table, PgOutput.Tuple row) throws SQLException {
        CopyText out = start(table, INSERT, null, false);
        values(out, table, row, null);
        end(table, out);
    }

    /**
     * An update's new row. A value the update did not touch and the server did not send (unchanged TOAST)
     * is taken from the old row when the server sent it whole (REPLICA IDENTITY FULL), else marked
     * unknown and filled from the last known image before the batch commits.
     */
    void update(ChangeTable table, PgOutput.Update update) throws SQLException {
        PgOutput.Tuple old = update.old().orElse(null);
        CopyText out = start(table, UPDATE, old, update.oldIsKeyOnly());
        values(out, table, update.row(), update.oldIsKeyOnly() ? null : old);
        end(table, out);
    }

    /** A delete lands what the server sent of the row: its key (other columns NULL), or the whole row under FULL. */
    void delete(ChangeTable table, PgOutput.Delete delete) throws SQLException {
        CopyText out = start(table, DELETE, delete.old(), delete.oldIsKeyOnly());
        values(out, table, delete.old(), null);
        end(table, out);
    }

    void truncate(ChangeTable table) throws SQLException {
        CopyText out = start(table, TRUNCATE, null, false);
        out.nullValue().plain(runId);
        for (int i = 0; i < table.landed().length; i++) {
            out.nullValue();
        }
        end(table, out);
    }

    private CopyText start(ChangeTable table, byte[] op, PgOutput.Tuple old, boolean keyOnly) {
        CopyText out = buffers.computeIfAbsent(table, t -> new CopyText());
        out.plain(lsn).plain(bytes(Integer.toString(++seq))).plain(op).plain(commitTime).plain(xid);
        if (old == null) {
            out.nullValue();
        } else {
            out.value(oldJson(table, old, keyOnly));
        }
        return out;
    }

    /** The values of the columns that land, in the change table's COPY order. */
    private void values(CopyText out, ChangeTable table, PgOutput.Tuple row, PgOutput.Tuple old) {
        List<String> names = table.columns();
        int[] landed = table.landed();
        var values = new ArrayList<PgOutput.Value>(landed.length);
        List<String> missing = new ArrayList<>(0);
        for (int i : landed) {
            PgOutput.Value value = row.values().get(i);
            if (value.kind() == PgOutput.Kind.UNCHANGED_TOAST && old != null) {
                value = old.values().get(i);
            }
            if (value.kind() == PgOutput.Kind.UNCHANGED_TOAST) {
                missing.add(names.get(i));
            }
            values.add(value);
        }
        if (missing.isEmpty()) {
            out.nullValue();
        } else {
            out.value(textArray(missing));
            unknown.computeIfAbsent(table, t -> new LinkedHashSet<>()).addAll(missing);
        }
        out.plain(runId);
        for (PgOutput.Value value : values) {
            switch (value.kind()) {
                case TEXT -> out.value(value.bytes());
                case NULL, UNCHANGED_TOAST -> out.nullValue();
                case BINARY -> throw new IllegalStateException("pgoutput sent a binary value, which this stream did not ask for");
            }
        }
    }

    private void end(ChangeTable table, CopyText out) throws SQLException {
        out.endRow();
        changes++;
        touched.add(table);
        rowsPerTable.merge(table.name(), 1L, Long::sum);
        if (out.size() >= SEND_BYTES) {
            send(table);
        }
    }

    /** Sends what is gathered for {@code table}; before its shape changes, and at the end of the batch. */
    void send(ChangeTable table) throws SQLException {
        CopyText out = buffers.get(table);
        if (out == null || out.rows() == 0) {
            return;
        }
        bytes += out.size();
        CopyPipe.copyIn(connection, table.copySql(), out::sendTo);
    }

    void sendAll() throws SQLException {
        for (ChangeTable table : new ArrayList<>(buffers.keySet())) {
            send(table);
        }
    }

    /** Change tables with values left unknown in this batch, and which columns. */
    Map<ChangeTable, Set<String>> unknown() {
        return unknown;
    }

    /** The change tables this batch wrote to. */
    Set<ChangeTable> touched() {
        return touched;
    }

    long changes() {
        return changes;
    }

    long bytes() {
        return bytes;
    }

    Map<String, Long> rowsPerTable() {
        return rowsPerTable;
    }

    boolean isEmpty() {
        return changes == 0;
    }

    /** Ready for the next batch, on the same connection. */
    void clear() {
        buffers.values().forEach(CopyText::clear);
        unknown.clear();
        touched.clear();
        rowsPerTable.clear();
        changes = 0;
        bytes = 0;
    }

    /**
     * The old row as a JSON object of text values, by source column: only the key when the server sent only the
     * key ({@code keyOnly}), else every column that lands.
     */
    private static String oldJson(ChangeTable table, PgOutput.Tuple old, boolean keyOnly) {
        List<String> names = table.columns();
        var json = new StringBuilder("{");
        for (int i : table.landed()) {
            PgOutput.Value value = old.values().get(i);
            if (keyOnly && !table.keyColumns().contains(names.get(i)) || value.kind() == PgOutput.Kind.UNCHANGED_TOAST) {
                continue;
            }
            if (json.length() > 1) {
                json.append(',');
            }
            json.append('"').append(JSON_TEXT.quoteAsString(names.get(i))).append("\":");
            if (value.kind() == PgOutput.Kind.NULL) {
                json.append("null");
            } else {
                json.append('"').append(JSON_TEXT.quoteAsString(value.text())).append('"');
            }
        }
        return json.append('}').toString();
    }

    /** A text[] literal of column names, each quoted, for _cdc_unknown. */
    private static String textArray(List<String> names) {
        var sb = new StringBuilder("{");
        for (String name : names) {
            if (sb.length() > 1) {
                sb.append(',');
            }
            sb.append('"').append(name.replace("\\", "\\\\").replace("\"", "\\\"")).append('"');
        }
        return sb.append('}').toString();
    }

    private static byte[] bytes(String text) {
        return text.getBytes(StandardCharsets.UTF_8);
    }
}
