package datakit.checkpoint;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** Checkpoints survive their trip through extraction_checkpoints.cursor_value unchanged, and say what they are. */
class CheckpointJsonTest {

    @Test
    void aCursorCheckpointRoundTripsWithItsKeyValuesAndFilter() {
        var checkpoint = new CursorCheckpoint("updated_at", "timestamp with time zone", List.of("region", "id"),
            Optional.of(new Position("2026-11-21 10:00:00.123456+00", List.of("eu \"west\"", "42"))), "where status <> 'x'; every column", Map.of("a", "h1", "b", "h2"));

        Checkpoint back = CheckpointStore.read(CheckpointStore.write(checkpoint));

        assertThat(back).isEqualTo(checkpoint);
        assertThat(back.describe()).isEqualTo("updated_at > 2026-11-21 10:00:00.123456+00 (region, id eu \"west\", 42)");
    }

    @Test
    void aCursorCheckpointWithoutRowsYetSaysSo() {
        var empty = new CursorCheckpoint("closed_on", "date", List.of("id"), Optional.empty(), "all rows; every column", Map.of("id", "h1", "closed_on", "h2"));

        assertThat(CheckpointStore.read(CheckpointStore.write(empty))).isEqualTo(empty);
        assertThat(empty.describe()).isEqualTo("no row with a closed_on yet");
        assertThat(empty.at(new Position("2026-01-01", List.of("7"))).describe()).isEqualTo("closed_on > 2026-01-01 (id 7)");
    }

    @Test
    void anXminCheckpointKeepsItsSnapshotAndTheTransactionsItSaw() {
        var checkpoint = new XminCheckpoint("4294967396:4294967400:", Optional.of(XidRanges.of(List.of(4294967399L, 4294967397L))),
            "all rows; every column", Map.of("id", ""));

        Checkpoint back = CheckpointStore.read(CheckpointStore.write(checkpoint));

        assertThat(back).isEqualTo(checkpoint);
        assertThat(((XminCheckpoint) back).xmin()).isEqualTo(4294967396L);
        assertThat(back.describe()).isEqualTo("transactions from 4294967396 on but 4294967397, 4294967399 (snapshot 4294967396:4294967400:)");
        var none = new XminCheckpoint("900:900:", Optional.of(XidRanges.NONE), "all rows; every column", Map.of("id", ""));
        assertThat(CheckpointStore.read(CheckpointStore.write(none))).isEqualTo(none);
        assertThat(none.describe()).isEqualTo("transactions from 900 on (snapshot 900:900:)");
    }

    @Test
    void theTransactionsAnXminCheckpointSawAreKeptAsRangesOfConsecutiveIds() {
        var ids = new java.util.ArrayList<Long>();
        for (long id = 1_000; id < 41_000; id++) {
            ids.add(id);
        }
        ids.addAll(List.of(50_000L, 50_002L, 50_003L));
        var checkpoint = new XminCheckpoint("999:60000:", Optional.of(XidRanges.of(ids)), "all rows; every column", Map.of("id", ""));

        String json = CheckpointStore.write(checkpoint);

        assertThat(json).contains("\"seen\":[[1000,40999],50000,[50002,50003]]").hasSizeLessThan(150);
        assertThat(CheckpointStore.read(json)).isEqualTo(checkpoint);
        assertThat(checkpoint.seen().get().count()).isEqualTo(40_003);
        assertThat(checkpoint.describe()).isEqualTo("transactions from 999 on but 1000-40999, 50000, 50002-50003 (snapshot 999:60000:)");
        assertThat(new XminCheckpoint("1:99:", Optional.of(XidRanges.of(List.of(2L, 4L, 6L, 8L, 9L, 10L))), "", Map.of()).describe())
            .isEqualTo("transactions from 1 on but 2, 4, 6 and 1 more range (snapshot 1:99:)");
    }

    @Test
    void anXminCheckpointWrittenAsAListOfIdsReadsAsRanges() {
        Checkpoint old = CheckpointStore.read("{\"mode\": \"xmin\", \"snapshot\": \"10:20:\", \"seen\": [11, 12, 13, 15], \"filter\": \"\"}");

        assertThat(old).isEqualTo(new XminCheckpoint("10:20:", Optional.of(new XidRanges(List.of(new XidRanges.Range(11, 13),
            new XidRanges.Range(15, 15)))), "", Map.of()));
    }

    @Test
    void aSourceIsBehindAnXminCheckpointUnlessItsSnapshotHoldsEverythingTheCheckpointRead() {
        var checkpoint = new XminCheckpoint("100:110:", Optional.of(XidRanges.of(List.of(104L, 105L))), "", Map.of());

        assertThat(checkpoint.behind("100:110:", XidRanges.NONE)).isEmpty();
        assertThat(checkpoint.behind("105:130:", XidRanges.NONE)).isEmpty();
        assertThat(checkpoint.behind("100:108:", XidRanges.NONE)).contains("its snapshot 100:108: is older than the checkpoint's 100:110:");
        assertThat(checkpoint.behind("99:120:", XidRanges.NONE)).contains("its snapshot 99:120: is older than the checkpoint's 100:110:");
        assertThat(checkpoint.behind("100:120:", XidRanges.of(List.of(105L))))
            .contains("1 of the transactions whose rows the last run read (105) are not committed there yet");
    }

    @Test
    void anXminCheckpointWrittenBeforeTheSeenListKeepsFollowingItsSnapshot() {
        Checkpoint old = CheckpointStore.read("{\"mode\": \"xmin\", \"snapshot\": \"4294967396:4294967400:4294967397,4294967398\", "
            + "\"filter\": \"all rows; columns id\"}");

        assertThat(old).isEqualTo(new XminCheckpoint("4294967396:4294967400:4294967397,4294967398", Optional.empty(), "all rows; columns id",
            Map.of("id", "")));
        assertThat(old.describe()).isEqualTo("transactions not visible in snapshot 4294967396:4294967400:4294967397,4294967398");
        assertThat(CheckpointStore.read(CheckpointStore.write(old))).isEqualTo(old);
    }

    @Test
    void aCheckpointKeepsWhereItsSourceStoodAndOneWrittenBeforeThatHasNoPosition() {
        var at = Optional.of(new SourcePosition("7715493745152187379", "0/3000060"));
        var cursor = new CursorCheckpoint("at", "date", List.of("id"), Optional.of(new Position("2026-01-01", List.of("7"))), "", Map.of(), at);
        var xmin = new XminCheckpoint("900:900:", Optional.of(XidRanges.NONE), "", Map.of(), at);

        assertThat(CheckpointStore.write(cursor)).contains("\"source\":{\"system_identifier\":\"7715493745152187379\",\"lsn\":\"0/3000060\"}");
        assertThat(CheckpointStore.read(CheckpointStore.write(cursor))).isEqualTo(cursor);
        assertThat(CheckpointStore.read(CheckpointStore.write(xmin))).isEqualTo(xmin);
        assertThat(cursor.at(new Position("2026-01-02", List.of("1"))).source()).isEqualTo(at);
        assertThat(CheckpointStore.read("{\"mode\": \"cursor\", \"column\": \"at\", \"type\": \"date\", \"filter\": \"\"}").source()).isEmpty();
    }

    @Test
    void aSourceIsBehindACheckpointAtAnEarlierWalPositionOfTheSameClusterOnly() {
        var checkpoint = new CursorCheckpoint("at", "date", List.of("id"), Optional.empty(), "", Map.of())
            .readAt(Optional.of(new SourcePosition("7715", "1/A0000028")));

        assertThat(checkpoint.behindAt(Optional.of(new SourcePosition("7715", "1/9FFFFFF0"))))
            .contains("its WAL position 1/9FFFFFF0 is before the 1/A0000028 the last run read at");
        assertThat(checkpoint.behindAt(Optional.of(new SourcePosition("7715", "0/FFFFFFFF")))).isPresent();
        assertThat(checkpoint.behindAt(Optional.of(new SourcePosition("7715", "1/A0000028")))).isEmpty();
        assertThat(checkpoint.behindAt(Optional.of(new SourcePosition("7715", "2/0")))).isEmpty();
        // Another cluster (a dump restored elsewhere), a source that will not tell, a checkpoint from before positions: no check.
        assertThat(checkpoint.behindAt(Optional.of(new SourcePosition("8120", "0/1")))).isEmpty();
        assertThat(checkpoint.behindAt(Optional.empty())).isEmpty();
        assertThat(checkpoint.readAt(Optional.empty()).behindAt(Optional.of(new SourcePosition("7715", "0/1")))).isEmpty();
    }
}
