package datakit.partitioned;

import datakit.bookkeeping.RunLog;
import datakit.bookkeeping.StreamGuard;
import datakit.bookkeeping.StreamLock;
import datakit.bronze.BronzeParts;
import datakit.bronze.BronzeTable;
import datakit.bronze.WriteMode;
import datakit.checkpoint.PartStore;
import datakit.error.DatakitException;
import datakit.report.RunContext;
import datakit.run.SchemaChangeNotes;
import datakit.source.Part;
import datakit.sql.Sql;
import datakit.sql.TableRef;
import java.sql.Connection;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.function.Function;
import java.util.function.Predicate;
import java.util.stream.Collectors;

/**
 * The load of a stream's parts that one or several processes share. A process joins the unfinished
 * load when it reads the same table the same way (resuming a run that stopped, or as one more shard),
 * or starts a new one; the process that finds every part staged publishes them. Both happen under a
 * transaction lock on the stream's bookkeeping, so exactly one process publishes.
 */
final class SharedLoad {
    private final RunContext run;
    private final TableRef target;
    private final String stream;
    private final PartStore store;
    private final RunLog runs;

    /** The load joined, and whether it resumed one that earlier runs began. */
    record Joined(PartStore.Load load, boolean resumed) {
    }

    SharedLoad(RunContext run, TableRef target, RunLog runs) {
        this.run = run;
        this.target = target;
        this.stream = target.toString();
        this.store = new PartStore(target.schema());
        this.runs = runs;
    }

    /**
     * The refusals of a load, made before anything is written, by the run and by its dry run alike: a part's table that is not
     * the load's own, a bronze table that holds another stream or was loaded in another mode ({@link StreamGuard}); and what the
     * stream meets of a rename of its source table, which {@code runs} keeps (the parts are the stream's, so a rename keeps them).
     */
    static void refuseWhatTheRunWould(Connection transaction, PartitionedPlan plan, BronzeParts bronze, TableRef target, RunLog runs) {
        bronze.checkTargets(Sql.using(transaction), plan.sourceTables());
        boolean exists = BronzeTable.inspect(Sql.using(transaction), target).isPresent();
        runs.follows(StreamGuard.check(runs, transaction, target.toString(), exists, plan.read().table().map(TableRef::toString),
            plan.read().selection().renamedFrom().map(TableRef::toString), WriteMode.REPLACE));
    }

    /**
     * Joins the unfinished load of the stream, or starts one, in {@code transaction}; {@code lock} is this
     * process's hold on the stream, shared with the other processes of the load.
     */
    Joined join(Connection transaction, StreamLock lock, PartitionedPlan plan, PartitionedLoad how, String fingerprint, BronzeParts bronze) {
        StreamLock.waitForTransaction(transaction, stream, "load");
        refuseWhatTheRunWould(transaction, plan, bronze, target, runs);
        boolean alone = lock.otherHolders() == 0;
        if (alone) {
            runs.abandonStale(transaction, stream, run.runId());
        }
        Optional<PartStore.Load> current = store.load(transaction, stream);
        String published = current.map(PartStore.Load::bronzeFingerprint).orElse("");
        String publishedSchema = current.map(PartStore.Load::bronzeSourceSchema).orElse(null);
        Joined joined;
        if (current.isPresent() && !current.get().published()) {
            PartStore.Load unfinished = current.get();
            boolean same = unfinished.fingerprint().equals(fingerprint) && sameParts(unfinished, plan.parts());
            // Updated rows move between blocks: block ranges read in two snapshots can hold a row twice or not at all.
            boolean otherSnapshot = plan.parts().stream().anyMatch(Part::byBlocks) && !unfinished.startedBy().equals(run.runId());
            if (same && otherSnapshot && !alone) {
                throw DatakitException.notReady(("Another run is copying the block ranges of %s, which must all be read "
                    + "in one snapshot, so it cannot share them. Wait for it to finish, or stop it first.").formatted(stream));
            }
            if (same && !how.restart() && !otherSnapshot) {
                if (unfinished.shards() != how.shard().count()) {
                    if (!alone) {
                        throw DatakitException.notReady(("The unfinished load of %s is shared by %d processes, and other "
                            + "processes are still at it. Give the same shard count (--shard i/%d).")
                            .formatted(stream, unfinished.shards(), unfinished.shards()));
                    }
                    unfinished = unfinished.withShards(how.shard().count(), assign(plan.parts(), how.shard().count()));
                }
                joined = new Joined(unfinished, true);
            } else {
                if (!alone) {
                    throw DatakitException.notReady(("Other processes are loading %s %s. Wait for them to finish, "
                        + "or stop them first.").formatted(stream, same ? "and --restart would discard their work"
                        : "with another plan (other partitions, columns, filter, layout or source schema)"));
                }
                boolean schemaChanged = unfinished.sourceSchema() != null && !unfinished.sourceSchema().equals(plan.schema().hash());
                run.warn("giving up the unfinished load of " + stream + " begun by run " + unfinished.startedBy()
                    + (schemaChanged ? ": the schema of " + plan.read().describe() + " changed at the source since it began"
                    : same && otherSnapshot && !how.restart() ? ": block ranges read in its snapshot cannot be kept with ones read in this "
                    + "run's (updated rows move between blocks)" : ""));
                unstage(transaction, unfinished.id(), name -> true);
                joined = new Joined(newLoad(plan, how, fingerprint, published, publishedSchema), false);
            }
        } else {
            joined = new Joined(newLoad(plan, how, fingerprint, published, publishedSchema), false);
        }
        store.saveLoad(transaction, stream, joined.load(), run.runId());
        return joined;
    }

    /**
     * Whether the load has these parts, read the same way: the same names, and the same bounds and
     * conditions ({@code --from}/{@code --to} narrow some parts). A load begun before bounds were recorded
     * compares by name, unless this plan narrows a part: such a load read every partition whole, so its
     * staged DEFAULT and straddling partitions hold rows outside the interval.
     */
    static boolean sameParts(PartStore.Load load, List<Part> parts) {
        if (load.parts().size() != parts.size()) {
            return false;
        }
        boolean narrowed = parts.stream().anyMatch(Part::narrowed);
        for (int i = 0; i < parts.size(); i++) {
            PartStore.PlannedPart planned = load.parts().get(i);
            boolean sameBounds = planned.bounds() == null ? !narrowed : planned.bounds().equals(parts.get(i).bounds());
            if (!planned.name().equals(parts.get(i).name()) || !sameBounds) {
                return false;
            }
        }
        return true;
    }

    private PartStore.Load newLoad(PartitionedPlan plan, PartitionedLoad how, String fingerprint, String published, String publishedSchema) {
        return new PartStore.Load(UUID.randomUUID(), fingerprint, how.layout().label(), how.shard().count(),
            assign(plan.parts(), how.shard().count()), false, published, run.runId(), plan.schema().hash(), publishedSchema);
    }

    /**
     * Why no part of the load bronze holds can be kept, when the source's schema is why: DDL since that load changed what
     * decides the values read ({@link datakit.source.SchemaFingerprint}), which rewrote no row, or rows the part check would
     * also find. Empty when parts may be kept, with {@code --full}, or when only the read changed (columns, filter, layout).
     * The run and its dry run say it alike.
     *
     * @param bronzeFingerprint   the fingerprint of the load bronze holds, "" if none
     * @param bronzeSourceSchema  its source schema's hash, null if an earlier version made it
     */
    static Optional<String> schemaChange(String bronzeFingerprint, String bronzeSourceSchema, String fingerprint, PartitionedPlan plan,
                                         PartitionedLoad how) {
        if (!how.keepUnchanged() || bronzeFingerprint.isEmpty() || bronzeFingerprint.equals(fingerprint)) {
            return Optional.empty();
        }
        String table = plan.read().describe();
        if (bronzeSourceSchema == null) {
            return Optional.of(("the last load of %s kept no fingerprint of the source's schema (an earlier version made it): parts "
                + "copied again, once").formatted(table));
        }
        return bronzeSourceSchema.equals(plan.schema().hash()) ? Optional.empty()
            : Optional.of("schema of %s changed at the source since the last load: parts copied again".formatted(table));
    }

    /**
     * Numbers the parts in catalog order and gives each to a shard: largest first, each to the shard with
     * the fewest rows so far, so shards finish at about the same time. The load stores the result, so
     * every process uses the same assignment even if estimates change meanwhile.
     */
    static List<PartStore.PlannedPart> assign(List<Part> parts, int shards) {
        var order = new ArrayList<Integer>();
        for (int i = 0; i < parts.size(); i++) {
            order.add(i);
        }
        order.sort(Comparator.<Integer>comparingLong(i -> -Math.max(0, parts.get(i).estimatedRows())).thenComparing(i -> i));
        long[] rows = new long[shards];
        int[] shardOf = new int[parts.size()];
        for (int i : order) {
            int lightest = 0;
            for (int s = 1; s < shards; s++) {
                lightest = rows[s] < rows[lightest] ? s : lightest;
            }
            shardOf[i] = lightest;
            rows[lightest] += Math.max(1, parts.get(i).estimatedRows());
        }
        var planned = new ArrayList<PartStore.PlannedPart>();
        for (int i = 0; i < parts.size(); i++) {
            planned.add(new PartStore.PlannedPart(parts.get(i).name(), i, shardOf[i], parts.get(i).estimatedRows(), parts.get(i).bounds()));
        }
        return planned;
    }

    /**
     * Forgets what the load {@code loadId} staged for the parts {@code named} picks, dropping the tables it copied (kept parts
     * are the published tables, which stay). Returns how many parts it forgot.
     */
    int unstage(Connection transaction, UUID loadId, Predicate<String> named) {
        var tables = new ArrayList<TableRef>();
        int[] forgotten = {0};
        store.parts(transaction, stream).forEach((name, record) -> record.stagedIn(loadId).filter(staged -> named.test(name)).ifPresent(staged -> {
            if (!staged.kept()) {
                tables.add(staged.copy().ref());
            }
            store.savePart(transaction, stream, name, new PartStore.PartRecord(record.published(), null), run.runId());
            forgotten[0]++;
        }));
        BronzeParts.discard(Sql.using(transaction), tables);
        return forgotten[0];
    }

    /**
     * Forgets the parts this run staged in a snapshot that ended, under the stream's bookkeeping lock, so they are copied
     * again in the new one: parts read in two snapshots could hold a row twice or not at all.
     */
    int unstageReadIn(Connection transaction, UUID loadId, Set<String> parts) {
        StreamLock.waitForTransaction(transaction, stream, "load");
        return unstage(transaction, loadId, parts::contains);
    }

    /** What became of the load when this process finished its parts. */
    enum Outcome {
        /** This run published the load. */
        PUBLISHED,
        /** Another run published the load, this run's parts with it. */
        PUBLISHED_BY_ANOTHER_RUN,
        /** Parts of other shards are not in yet; the run that stages the last one publishes. */
        WAITING_FOR_OTHERS
    }

    record Ending(Outcome outcome, List<String> waitingFor, long bronzeRows) {
        boolean published() {
            return outcome != Outcome.WAITING_FOR_OTHERS;
        }

        /** Adds what became of the load to a run's details. */
        Ending describeIn(Map<String, Object> details) {
            details.put("published", published());
            details.put("published_by", switch (outcome) {
                case PUBLISHED -> "this run";
                case PUBLISHED_BY_ANOTHER_RUN -> "another run";
                case WAITING_FOR_OTHERS -> "the last shard to finish (" + waitingFor.size() + " parts to go)";
            });
            if (published()) {
                details.put("bronze_rows", bronzeRows);
            }
            return this;
        }
    }

    /**
     * Publishes the load if every part is staged, marking this run succeeded; otherwise marks it staged,
     * for the last process to publish. The caller commits {@code transaction} either way.
     */
    Ending finish(Connection transaction, PartitionedPlan plan, UUID loadId, BronzeParts bronze, Map<String, Object> details) {
        StreamLock.waitForTransaction(transaction, stream, "load");
        PartStore.Load load = store.load(transaction, stream).filter(l -> l.id().equals(loadId)).orElseThrow(() -> DatakitException.notReady(
            "Another run gave up this load of %s while it ran (--restart, or another plan). Run again.".formatted(stream)));
        Map<String, PartStore.PartRecord> records = store.parts(transaction, stream);
        if (load.published()) {
            long rows = load.parts().stream().map(p -> records.get(p.name())).flatMap(r -> r.publishedCopy().stream())
                .mapToLong(PartStore.Copy::rows).sum();
            var ending = new Ending(Outcome.PUBLISHED_BY_ANOTHER_RUN, List.of(), rows).describeIn(details);
            runs.stage(transaction, run.runId(), details);
            return ending;
        }
        List<String> waiting = load.parts().stream().map(PartStore.PlannedPart::name)
            .filter(name -> records.get(name) == null || records.get(name).stagedIn(loadId).isEmpty()).toList();
        long rows = load.parts().stream().map(p -> records.get(p.name())).filter(r -> r != null && r.stagedIn(loadId).isPresent())
            .mapToLong(r -> r.staged().copy().rows()).sum();
        if (!waiting.isEmpty()) {
            var ending = new Ending(Outcome.WAITING_FOR_OTHERS, waiting, rows).describeIn(details);
            runs.stage(transaction, run.runId(), details);
            return ending;
        }
        publish(transaction, plan, load, records, bronze);
        var schemaChanges = new SchemaChangeNotes(run, WriteMode.REPLACE);
        bronze.recorded().forEach(r -> schemaChanges.said(r.table(), r.changes()));
        schemaChanges.addTo(details);
        var ending = new Ending(Outcome.PUBLISHED, List.of(), rows).describeIn(details);
        runs.succeedInParts(transaction, run.runId(), details);
        return ending;
    }

    private void publish(Connection transaction, PartitionedPlan plan, PartStore.Load load, Map<String, PartStore.PartRecord> records,
                         BronzeParts bronze) {
        Map<String, Part> parts = plan.parts().stream().collect(Collectors.toMap(Part::name, Function.identity()));
        var loaded = new ArrayList<BronzeParts.Placed>();
        var kept = new ArrayList<BronzeParts.Placed>();
        for (PartStore.PlannedPart planned : load.parts()) {
            PartStore.Staged staged = records.get(planned.name()).staged();
            TableRef table = staged.copy().ref();
            if (staged.kept()) {
                kept.add(new BronzeParts.Placed(planned.name(), table, table));
            } else {
                loaded.add(new BronzeParts.Placed(planned.name(), table, bronze.home(parts.get(planned.name()).relation(), table)));
            }
        }
        List<TableRef> previous = records.values().stream().flatMap(r -> r.publishedCopy().stream()).map(PartStore.Copy::ref).toList();
        Map<String, TableRef> homes = bronze.publish(Sql.using(transaction), load.id(), loaded, kept, previous);
        for (PartStore.PlannedPart planned : load.parts()) {
            PartStore.Copy copy = records.get(planned.name()).staged().copy();
            TableRef home = homes.get(planned.name());
            var published = new PartStore.Copy(home.schema(), home.table(), copy.oid(), copy.bounds(), copy.rows(), copy.bytes(),
                copy.horizon(), copy.runId());
            store.savePart(transaction, stream, planned.name(), new PartStore.PartRecord(published, null), run.runId());
        }
        var names = load.parts().stream().map(PartStore.PlannedPart::name).collect(Collectors.toSet());
        store.deleteParts(transaction, stream, records.keySet().stream().filter(n -> !names.contains(n)).toList());
        store.saveLoad(transaction, stream, load.publish(), run.runId());
    }
}
