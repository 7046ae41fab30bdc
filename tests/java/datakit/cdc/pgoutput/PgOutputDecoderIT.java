package datakit.cdc.pgoutput;

import static org.assertj.core.api.Assertions.assertThat;

import datakit.testing.TestDatabase;
import datakit.testing.TestPostgres;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The pgoutput decoder on what a real server sends (through pg_logical_slot_get_binary_changes, which
 * yields the same messages as the replication protocol): every message type of protocol version 2,
 * including a large transaction streamed while in progress.
 */
class PgOutputDecoderIT {
    TestDatabase db;

    @BeforeEach
    void createSlot() {
        db = TestPostgres.createDatabase("pgoutput");
        db.execute("CREATE TABLE public.items (id int PRIMARY KEY, name text, big text, qty int)",
            "CREATE PUBLICATION datakit_pub FOR TABLE items",
            "SELECT pg_create_logical_replication_slot('datakit_slot_" + db.name() + "', 'pgoutput')");
    }

    /** A slot keeps WAL for as long as it exists: never leave one behind. */
    @AfterEach
    void dropSlot() {
        db.execute("SELECT pg_drop_replication_slot('datakit_slot_" + db.name() + "')");
    }

    /** The slot's messages, decoded in order; the slot is consumed. */
    List<PgOutput> changes() {
        var decoder = new PgOutputDecoder();
        return db.rows("SELECT encode(data, 'base64') FROM pg_logical_slot_get_binary_changes('datakit_slot_" + db.name() + "', NULL, "
                + "NULL, 'proto_version', '2', 'publication_names', 'datakit_pub', 'streaming', 'on', 'messages', 'true')").stream()
            .map(row -> decoder.decode(ByteBuffer.wrap(Base64.getMimeDecoder().decode(row.get(0))))).toList();
    }

    static List<String> texts(PgOutput.Tuple tuple) {
        return tuple.values().stream().map(v -> v.kind() == PgOutput.Kind.TEXT ? v.text() : v.kind().name()).toList();
    }

    @Test
    void eachKindOfChangeDecodesToWhatWasWritten() {
        String big = db.value("SELECT string_agg(md5(g::text), '') FROM generate_series(1, 500) g");
        db.execute("INSERT INTO items VALUES (1, 'a', '" + big + "', NULL)",
            "UPDATE items SET qty = 5 WHERE id = 1",
            "UPDATE items SET id = 2 WHERE id = 1",
            "DELETE FROM items WHERE id = 2",
            "BEGIN; INSERT INTO items VALUES (9, 'rolled back', NULL, NULL); ROLLBACK",
            "SELECT pg_logical_emit_message(true, 'datakit', 'hello')",
            "TRUNCATE items");

        List<PgOutput> changes = changes();

        // The server describes a relation before its first change, and again whenever its cache of it was reset.
        assertThat(changes).filteredOn(m -> !(m instanceof PgOutput.Begin || m instanceof PgOutput.Commit || m instanceof PgOutput.Relation))
            .extracting(m -> m.getClass().getSimpleName())
            .containsExactly("Insert", "Update", "Update", "Delete", "Message", "Truncate");
        var relation = (PgOutput.Relation) changes.get(1);
        assertThat(relation.namespace() + "." + relation.name()).isEqualTo("public.items");
        assertThat(relation.columns()).extracting(c -> c.name() + (c.key() ? " key" : "")).containsExactly("id key", "name", "big", "qty");
        assertThat(texts(((PgOutput.Insert) changes.get(2)).row())).containsExactly("1", "a", big, "NULL");

        var updates = changes.stream().filter(PgOutput.Update.class::isInstance).map(PgOutput.Update.class::cast).toList();
        assertThat(texts(updates.get(0).row())).as("the TOASTed value the update did not touch is not sent")
            .containsExactly("1", "a", "UNCHANGED_TOAST", "5");
        assertThat(updates.get(0).old()).isEmpty();
        assertThat(updates.get(1).oldIsKeyOnly()).isTrue();
        assertThat(texts(updates.get(1).old().orElseThrow())).as("a changed key sends the old key").containsExactly("1", "NULL", "NULL", "NULL");

        var delete = changes.stream().filter(PgOutput.Delete.class::isInstance).map(PgOutput.Delete.class::cast).findFirst().orElseThrow();
        assertThat(delete.oldIsKeyOnly()).isTrue();
        assertThat(texts(delete.old()).get(0)).isEqualTo("2");
        var message = changes.stream().filter(PgOutput.Message.class::isInstance).map(PgOutput.Message.class::cast).findFirst().orElseThrow();
        assertThat(message.prefix() + ": " + new String(message.content(), StandardCharsets.UTF_8)).isEqualTo("datakit: hello");
        assertThat(message.transactional()).isTrue();
        var truncate = changes.stream().filter(PgOutput.Truncate.class::isInstance).map(PgOutput.Truncate.class::cast).findFirst().orElseThrow();
        assertThat(truncate.relations()).containsExactly(relation.oid());

        var begins = changes.stream().filter(PgOutput.Begin.class::isInstance).map(PgOutput.Begin.class::cast).toList();
        var commits = changes.stream().filter(PgOutput.Commit.class::isInstance).map(PgOutput.Commit.class::cast).toList();
        assertThat(begins).as("the rolled-back transaction sends nothing").hasSize(6).hasSameSizeAs(commits);
        assertThat(commits.get(0).commitTime()).isBetween(java.time.Instant.now().minusSeconds(60), java.time.Instant.now().plusSeconds(60));
    }

    @Test
    void aLargeTransactionStreamsInBlocksThatCarryItsId() {
        // The sandbox commits asynchronously; decoding reads only flushed WAL, so this commit waits for its flush.
        db.execute("ALTER DATABASE " + db.name() + " SET logical_decoding_work_mem = '64kB'", "SET synchronous_commit = on",
            "INSERT INTO items SELECT g, repeat('x', 100), NULL, g FROM generate_series(1, 3000) g");

        List<PgOutput> changes = changes();

        var start = changes.stream().filter(PgOutput.StreamStart.class::isInstance).map(PgOutput.StreamStart.class::cast).findFirst();
        assertThat(start).as("the transaction was streamed in progress").isPresent();
        long xid = start.get().xid();
        var inserts = changes.stream().filter(PgOutput.Insert.class::isInstance).map(PgOutput.Insert.class::cast).toList();
        assertThat(inserts).hasSize(3000).allSatisfy(i -> assertThat(i.xid()).contains(xid));
        assertThat(inserts.get(2999).row().values().get(0).text()).isEqualTo("3000");
        assertThat(changes).filteredOn(PgOutput.StreamStop.class::isInstance).hasSameSizeAs(
            changes.stream().filter(PgOutput.StreamStart.class::isInstance).toList());
        assertThat(changes.get(changes.size() - 1)).isInstanceOfSatisfying(PgOutput.StreamCommit.class, c -> assertThat(c.xid()).isEqualTo(xid));
    }
}
