package datakit.cdc;

import datakit.db.Database;
import datakit.db.SqlErrors;
import datakit.report.RunContext;
import datakit.report.RunSummary;
import datakit.report.Sizes;
import java.sql.SQLException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.jooq.exception.DataAccessException;

/**
 * {@code postgres-cdc --drop-slot}: drops the stream's slot and its checkpoint, and the publication the
 * stream created (its checkpoint keeps the name) when nothing else may read it; with {@code --dry-run},
 * says what it would do. A publication is kept while any other pgoutput slot of the source database
 * exists: another stream (of any bronze schema) or a subscription may read it, and its slot would fail on
 * every change from then on ("publication does not exist"), even once the publication is made again.
 */
final class SlotDrop {
    private final RunContext run;
    private final Database source;
    private final Database warehouse;

    SlotDrop(RunContext run, Database source, Database warehouse) {
        this.run = run;
        this.source = source;
        this.warehouse = warehouse;
    }

    /** What becomes of a publication: {@code drop}, {@code keep} or {@code none} (it does not exist), and why. */
    record PublicationFate(String name, String action, String reason) {
        String words(boolean dryRun) {
            return switch (action) {
                case "drop" -> (dryRun ? "would drop " : "dropped ") + name + " (" + reason + ")";
                case "keep" -> (dryRun ? "would keep " : "kept ") + name + " (" + reason + ")";
                default -> name + " " + reason;
            };
        }

        Map<String, Object> plan() {
            var plan = new LinkedHashMap<String, Object>();
            plan.put("name", name);
            plan.put("action", action);
            plan.put("reason", reason);
            return plan;
        }
    }

    void drop(CdcSource src, CdcRequest request, String bronzeSchema) {
        Optional<CdcSource.Slot> slot = src.slot(request.slot());
        slot.ifPresent(src::checkSlotUsable);
        var checkpoints = new SlotCheckpoint(bronzeSchema);
        boolean bookkept;
        Optional<String> created;
        String inUse;
        try {
            bookkept = warehouse.inTransaction(checkpoints::exists);
            created = bookkept ? warehouse.inTransaction(connection -> checkpoints.createdPublication(connection, request.stream()))
                : Optional.empty();
            inUse = (bookkept ? warehouse.inTransaction(connection -> checkpoints.publication(connection, request.stream()))
                : Optional.<String>empty()).orElse(request.publication());
        } catch (SQLException | DataAccessException e) {
            throw SqlErrors.failure("Reading the checkpoint of " + request.stream(), e, warehouse);
        }
        PublicationFate publication = created.map(p -> fateOfCreated(src, request, p, inUse))
            .orElseGet(() -> src.publications().exists(inUse) ? new PublicationFate(inUse, "keep", "this stream did not create it")
                : new PublicationFate(inUse, "none", "does not exist"));
        if (run.dryRun()) {
            CdcDryRun.dropSlot(run, source.settings(), request, slot, publication);
            return;
        }
        slot.ifPresent(s -> src.dropSlot(s.name()));
        if (publication.action().equals("drop")) {
            src.publications().drop(publication.name());
        }
        if (bookkept) {
            try {
                warehouse.inTransaction(connection -> {
                    checkpoints.delete(connection, request.stream());
                    return null;
                });
            } catch (SQLException | DataAccessException e) {
                throw SqlErrors.failure("Deleting the checkpoint of " + request.stream(), e, warehouse);
            }
        }
        var details = new LinkedHashMap<String, Object>();
        details.put("slot", slot.map(s -> "dropped " + s.name() + "; the server no longer keeps WAL for it (it kept "
            + Sizes.bytes(s.retainedBytes()) + ")").orElse(request.slot() + " did not exist"));
        details.put("publication", publication.words(false));
        details.put("next run", "makes a new slot" + (request.snapshotNever() ? "" : " and loads the tables from its snapshot")
            + "; changes made until then are not captured");
        new RunSummary("succeeded", run.datakit(), run.runId(), source.settings().describe(), "slot " + request.slot(), bronzeSchema,
            "none", 0, 0, 0, details).print(run);
    }

    /** The publication this stream created: dropped, unless it is gone, or the source is a standby, or another slot may read it. */
    private static PublicationFate fateOfCreated(CdcSource src, CdcRequest request, String created, String inUse) {
        if (!src.publications().exists(created)) {
            return new PublicationFate(created, "none", "no longer exists");
        }
        if (src.standby()) {
            return new PublicationFate(created, "keep", "the source is a hot standby; drop it on the primary once no stream reads it");
        }
        List<String> others = src.otherPgoutputSlots(request.slot());
        if (!others.isEmpty()) {
            return new PublicationFate(created, "keep", "this stream created it, but %s of this database may read it too (a stream of "
                .formatted((others.size() == 1 ? "slot " : "slots ") + String.join(", ", others))
                + "another bronze schema, or a subscription), which would fail for good without it; drop it once none does");
        }
        return new PublicationFate(created, "drop", "this stream created it"
            + (created.equals(inUse) ? "" : "; it streams through " + inUse + " since, which it did not create and keeps"));
    }
}
