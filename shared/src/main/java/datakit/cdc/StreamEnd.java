package datakit.cdc;

import datakit.report.RunContext;
import datakit.wal.Lsn;
import java.util.Optional;

/**
 * Where a run of a change stream ends: nowhere ({@code --follow}), or where the source's WAL ended when the
 * run started, so it takes every transaction committed before it.
 *
 * <p>The server sends only WAL it has written to disk, though, and WAL of a transaction still open may wait
 * in its memory for up to 15 s (until the server's next running-transactions record). Every commit before
 * the start is on disk within {@link StreamSource#asynchronousCommitDelay()}, so after that the run may end
 * at the WAL on disk, when that is earlier. Should the WAL on disk end inside a record (at a page's end, the
 * rest of the record still in memory), the server cannot say it has read that far, and the run waits for
 * the rest as before.
 */
final class StreamEnd {
    private Optional<Lsn> position;
    private final long flushedCheckAt;
    private boolean flushedChecked;

    private StreamEnd(Optional<Lsn> position, long flushedCheckAt) {
        this.position = position;
        this.flushedCheckAt = flushedCheckAt;
    }

    static StreamEnd of(CdcRequest request, StreamSource sources) {
        if (request.follow()) {
            return new StreamEnd(Optional.empty(), 0);
        }
        return new StreamEnd(Optional.of(sources.walEnd()), System.nanoTime() + sources.asynchronousCommitDelay().toNanos());
    }

    /** Where the run ends; empty while it follows. */
    Optional<Lsn> position() {
        return position;
    }

    /** After a crash the source's WAL may end before the end this run began with: what was lost never committed. */
    void afterReconnection(StreamSource sources) {
        position = position.map(e -> Lsn.min(e, sources.walEnd()));
    }

    /** While the stream is quiet: ends the run at the WAL on the source's disk once every commit before the start is there. */
    void whileQuiet(StreamSource sources, MessageReader messages, RunContext run) {
        if (position.isEmpty() || flushedChecked || System.nanoTime() - flushedCheckAt < 0) {
            return;
        }
        flushedChecked = true;
        Lsn flushed = sources.walFlushed();
        if (flushed.isBefore(position.get())) {
            run.info("the source's WAL on disk ends at %s, before %s (a transaction still open wrote the rest): the run ends there"
                .formatted(flushed, position.get()));
            position = Optional.of(flushed);
            messages.endAt(flushed);
        }
    }
}
