package datakit.checkpoint;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** Checkpoints survive their trip through extraction_checkpoints.cursor_value unchanged, and say what they are. */
class CheckpointJsonTest {

    @Test
    void aCursorCheckpointRoundTripsWithItsKeyValuesAndFilter() {
        var checkpoint = new CursorCheckpoint("updated_at", "timestamp with time zone", List.of("region", "id"),
            Optional.of(new Position("2026-11-21 10:00:00.123456+00", List.of("eu \"west\"", "42"))), "where status <> 'x'; columns a,b");

        Checkpoint back = CheckpointStore.read(CheckpointStore.write(checkpoint));

        assertThat(back).isEqualTo(checkpoint);
        assertThat(back.describe()).isEqualTo("updated_at > 2026-11-21 10:00:00.123456+00 (region, id eu \"west\", 42)");
    }

    @Test
    void aCursorCheckpointWithoutRowsYetSaysSo() {
        var empty = new CursorCheckpoint("closed_on", "date", List.of("id"), Optional.empty(), "all rows; columns id,closed_on");

        assertThat(CheckpointStore.read(CheckpointStore.write(empty))).isEqualTo(empty);
        assertThat(empty.describe()).isEqualTo("no row with a closed_on yet");
        assertThat(empty.at(new Position("2026-01-01", List.of("7"))).describe()).isEqualTo("closed_on > 2026-01-01 (id 7)");
    }

    @Test
    void anXminCheckpointKeepsItsSnapshotAndTheTransactionsItSaw() {
        var checkpoint = new XminCheckpoint("4294967396:4294967400:", Optional.of(List.of(4294967397L, 4294967399L)), "all rows; columns id");

        Checkpoint back = CheckpointStore.read(CheckpointStore.write(checkpoint));

        assertThat(back).isEqualTo(checkpoint);
        assertThat(((XminCheckpoint) back).xmin()).isEqualTo(4294967396L);
        assertThat(back.describe()).isEqualTo("transactions from 4294967396 on but 4294967397, 4294967399 (snapshot 4294967396:4294967400:)");
        var none = new XminCheckpoint("900:900:", Optional.of(List.of()), "all rows; columns id");
        assertThat(CheckpointStore.read(CheckpointStore.write(none))).isEqualTo(none);
        assertThat(none.describe()).isEqualTo("transactions from 900 on (snapshot 900:900:)");
        assertThat(new XminCheckpoint("1:9:", Optional.of(List.of(2L, 3L, 4L, 5L, 6L)), "").describe())
            .isEqualTo("transactions from 1 on but 2, 3, 4 and 2 more (snapshot 1:9:)");
    }

    @Test
    void anXminCheckpointWrittenBeforeTheSeenListKeepsFollowingItsSnapshot() {
        Checkpoint old = CheckpointStore.read("{\"mode\": \"xmin\", \"snapshot\": \"4294967396:4294967400:4294967397,4294967398\", "
            + "\"filter\": \"all rows; columns id\"}");

        assertThat(old).isEqualTo(new XminCheckpoint("4294967396:4294967400:4294967397,4294967398", Optional.empty(), "all rows; columns id"));
        assertThat(old.describe()).isEqualTo("transactions not visible in snapshot 4294967396:4294967400:4294967397,4294967398");
        assertThat(CheckpointStore.read(CheckpointStore.write(old))).isEqualTo(old);
    }
}
