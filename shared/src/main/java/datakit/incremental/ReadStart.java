package datakit.incremental;

import datakit.checkpoint.Checkpoint;
import datakit.checkpoint.CursorCheckpoint;
import datakit.checkpoint.Position;
import datakit.checkpoint.XminCheckpoint;
import datakit.source.IncrementalSource;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Where an incremental run starts reading from its checkpoint: the predicates that select the rows past it (after the
 * cursor position, or a lookback before it, or from --initial-value; in xmin mode, the transactions the checkpoint did not
 * read), and what the rows land with in {@code _bronze_checkpoint}; and where the parts of the read end. A run and its dry
 * run start at the same place.
 */
record ReadStart(List<String> predicates, String describe) {

    static ReadStart of(Increment increment, IncrementalSource src, Optional<Checkpoint> from) {
        return switch (from.orElse(null)) {
            case XminCheckpoint x -> new ReadStart(List.of(src.notSeenBy(x)), x.describe());
            case CursorCheckpoint c when c.last().isPresent() && increment.lookback().isPresent() -> new ReadStart(
                List.of(src.lookback(c.last().get(), increment.lookback().get())),
                c.column() + " >= " + c.last().get().cursor() + " - " + increment.lookback().get() + " (lookback)");
            case CursorCheckpoint c when c.last().isPresent() -> new ReadStart(List.of(src.after(c.last().get())), c.describe());
            case null, default -> new ReadStart(increment.initialValue().filter(v -> src.cursorColumn().isPresent())
                .map(v -> List.of(src.cursorAtLeast(v))).orElse(List.of()), from.map(Checkpoint::describe).orElse(""));
        };
    }

    /**
     * Where the parts of the read end, up to {@code high}, the highest row past the start: every --chunk-rows-th row, and
     * {@code high} last.
     */
    List<Position> partEnds(Increment increment, IncrementalSource src, Position high) {
        var upToHigh = new ArrayList<>(predicates);
        upToHigh.add(src.upTo(high));
        List<Position> ends = new ArrayList<>();
        increment.chunkRows().ifPresent(n -> ends.addAll(src.boundaries(upToHigh, n)));
        if (ends.isEmpty() || !ends.get(ends.size() - 1).equals(high)) {
            ends.add(high);
        }
        return ends;
    }
}
