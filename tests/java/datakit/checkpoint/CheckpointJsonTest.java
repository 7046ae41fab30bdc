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
    void anXminCheckpointKeepsTheWholeSnapshot() {
        var checkpoint = new XminCheckpoint("4294967396:4294967400:4294967397,4294967398", "all rows; columns id");

        Checkpoint back = CheckpointStore.read(CheckpointStore.write(checkpoint));

        assertThat(back).isEqualTo(checkpoint);
        assertThat(((XminCheckpoint) back).xmin()).isEqualTo(4294967396L);
        assertThat(back.describe()).isEqualTo("transactions not visible in snapshot 4294967396:4294967400:4294967397,4294967398");
    }
}
