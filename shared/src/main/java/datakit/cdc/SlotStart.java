package datakit.cdc;

import datakit.db.Database;
import datakit.db.SqlErrors;
import datakit.error.DatakitException;
import datakit.wal.Lsn;
import java.sql.SQLException;
import java.util.Locale;
import java.util.Optional;
import org.jooq.exception.DataAccessException;

/**
 * How a change stream starts from its slot, decided the same way by a run and by its dry run, so a dry run
 * fails where the run would: make the slot (there is none), make it again ({@code --snapshot always}, or a
 * run that was making it ended before its snapshot committed), or resume it. A slot that cannot be resumed
 * is refused: another plugin's or database's, one in use by another process, one without a checkpoint in
 * bronze (unless {@code --snapshot never}), one whose publication is gone, one that has moved past bronze's checkpoint.
 *
 * A slot that is gone, or that the server invalidated, since the last run is no slot to resume: the run fails, unless
 * {@code --on-slot-lost resnapshot} has it made again with a new snapshot.
 *
 * @param slot    the slot as the server shows it, if it exists
 * @param warning what the run should warn of (the slot is gone since the last run), if anything
 * @param gapFrom when a slot is made again (lost, or --snapshot always): the checkpoint bronze held, where the change tables'
 *                gap begins
 */
record SlotStart(Action action, Optional<CdcSource.Slot> slot, String why, Optional<String> warning, Optional<Lsn> gapFrom) {

    enum Action {
        CREATE, RECREATE, RESUME
    }

    static SlotStart decide(CdcSource src, CdcRequest request, Optional<SlotCheckpoint.Stored> stored, boolean publicationExists) {
        Optional<CdcSource.Slot> slot = src.slot(request.slot());
        slot.ifPresent(src::checkSlotUsable);
        Optional<Lsn> checkpoint = stored.flatMap(SlotCheckpoint.Stored::lsn);
        boolean checkpointed = checkpoint.isPresent();
        if (slot.isPresent()) {
            boolean unfinished = stored.filter(s -> s.lsn().isEmpty() && request.slot().equals(s.slot())).isPresent();
            if (request.snapshotAlways() || unfinished) {
                // --snapshot always leaves the changes since the checkpoint unread: each change table marks that gap.
                return new SlotStart(Action.RECREATE, slot, unfinished ? "a run that was creating it ended before its snapshot committed"
                    : "--snapshot always", Optional.empty(), unfinished ? Optional.empty() : checkpoint);
            }
            if (slot.get().lost()) {
                String lost = "slot " + request.slot() + " was invalidated by the source (" + slot.get().invalidated().orElseThrow()
                    + (slot.get().invalidated().get().equals("wal_removed") ? ": it fell more than max_slot_wal_keep_size behind, and the "
                    + "server removed WAL it needed" : "") + ") and can never stream again";
                return remake(request, Action.RECREATE, slot, lost, checkpoint);
            }
            if (!checkpointed && !request.snapshotNever()) {
                throw DatakitException.badInput("Replication slot %s exists, but bronze has no checkpoint for it, so its "
                    + "changes cannot be matched to a snapshot. Use --snapshot never to stream from the slot's position, or "
                    + "--drop-slot to start over.", request.slot());
            }
            // pgoutput looks the publication up with the catalog of each change's time: one made now is not there.
            if (!publicationExists) {
                throw DatakitException.notReady(("Publication %s does not exist, and slot %s cannot stream through one "
                    + "made now: the slot reads each change with the catalog as it was then, where that publication is missing (was it "
                    + "dropped, or is --publication new to this stream?). Run once with --snapshot always to start over with a new slot "
                    + "and snapshot.")
                    .formatted(request.publication(), request.slot()));
            }
            checkpoint.ifPresent(lsn -> requireNotAhead(slot.get(), lsn));
            return new SlotStart(Action.RESUME, slot, "it exists", Optional.empty(), Optional.empty());
        }
        if (checkpointed && !request.snapshotAlways()) {
            return remake(request, Action.CREATE, slot, "slot " + request.slot() + " is gone from the source since the last run (dropped, "
                + "or not on this server after a failover or an upgrade)", checkpoint);
        }
        return new SlotStart(Action.CREATE, slot, "it does not exist", Optional.empty(), checkpoint.filter(lsn -> request.snapshotAlways()));
    }

    /**
     * A slot lost since the last run, whose changes since bronze's {@code checkpoint} are gone: made again with a new snapshot
     * under --on-slot-lost resnapshot, else the run fails before anything changes.
     */
    private static SlotStart remake(CdcRequest request, Action action, Optional<CdcSource.Slot> slot, String lost,
                                    Optional<Lsn> checkpoint) {
        String held = checkpoint.map(lsn -> ", and bronze holds its changes up to " + lsn + " only").orElse("");
        if (!request.resnapshotLostSlot()) {
            throw DatakitException.notReady(("%s%s: the changes made since are gone from the source. Run with --on-slot-lost "
                + "resnapshot to make the slot again and reload every table from its snapshot (each change table marks the gap), or "
                + "--drop-slot to start over.").formatted(Character.toUpperCase(lost.charAt(0)) + lost.substring(1), held));
        }
        String warning = lost + held + "; the changes made since then are lost to __changes" + (request.snapshotNever() ? ""
            : ", and the snapshot of the new slot brings the bronze tables up to date (each change table marks the gap)");
        return new SlotStart(action, slot, lost + " (--on-slot-lost resnapshot)", Optional.of(warning),
            checkpoint.filter(lsn -> !request.snapshotNever()));
    }

    /**
     * Fails when the slot has confirmed a position past the checkpoint bronze holds (the slot was advanced,
     * or read by another client; the warehouse was restored from an older backup): the changes committed in
     * between are gone from the slot, which starts a stream at its own position, and bronze never had them.
     */
    static void requireNotAhead(CdcSource.Slot slot, Lsn checkpoint) {
        Optional<Lsn> confirmed = slot.confirmedFlush();
        if (confirmed.isPresent() && confirmed.get().isAfter(checkpoint)) {
            throw DatakitException.notReady(String.format(Locale.ROOT, "Replication slot %s has confirmed %s, past the "
                + "checkpoint bronze holds for it, %s: the changes committed in the %,d bytes of WAL between them are gone from the slot and "
                + "not in bronze (was the slot advanced, or read by another client, or the warehouse restored from an older backup?). Run "
                + "once with --snapshot always to reload the tables from a new slot, or --drop-slot to start over.", slot.name(),
                confirmed.get(), checkpoint, confirmed.get().bytesSince(checkpoint)));
        }
    }

    /**
     * The stream's checkpoint, read where the bronze schema has its bookkeeping tables; none before the
     * schema's first run (a dry run, or {@code --drop-slot} of a slot made by hand, migrate nothing).
     */
    static Optional<SlotCheckpoint.Stored> stored(Database warehouse, String bronzeSchema, String stream) {
        var checkpoints = new SlotCheckpoint(bronzeSchema);
        try {
            return warehouse.inTransaction(connection -> checkpoints.exists(connection) ? checkpoints.read(connection, stream)
                : Optional.<SlotCheckpoint.Stored>empty());
        } catch (SQLException | DataAccessException e) {
            throw SqlErrors.failure("Reading the checkpoint of " + stream, e, warehouse);
        }
    }
}
