package datakit.cli;

import datakit.cdc.CdcRequest;
import datakit.error.DatakitException;
import datakit.sql.SqlFragment;
import datakit.sql.TableRef;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import picocli.CommandLine.Option;

/**
 * What a change stream captures and how it runs: the tables, the publication and slot, the initial
 * snapshot, and whether it stops at the WAL position it started at or follows until stopped.
 */
public class CdcOptions implements CheckedOptions {
    /** When the bronze tables are loaded from a snapshot. */
    public enum Snapshot {
        /** Once, when the slot is created (the default). */
        INITIAL,
        /** Never: bronze gets the changes from the slot's position on. */
        NEVER,
        /** Every run: the slot is made again and the tables reloaded; __changes has a gap between runs. */
        ALWAYS
    }

    @Option(names = "--table", paramLabel = "SCHEMA.TABLE", split = ",", descriptionKey = "SOURCE_TABLES",
        description = "Tables to capture (repeat, or separate with commas). Default: the publication's tables, or all tables "
            + "when the publication is created.")
    List<String> tables = new ArrayList<>();

    @Option(names = "--slot", paramLabel = "NAME", descriptionKey = "CDC_SLOT", defaultValue = "datakit_cdc",
        description = "Replication slot, created when missing (default: ${DEFAULT-VALUE}). One slot per stream.")
    String slot;

    @Option(names = "--publication", paramLabel = "NAME", descriptionKey = "CDC_PUBLICATION",
        description = "Publication, created when missing (default: the slot's name).")
    String publication;

    @Option(names = "--snapshot", paramLabel = "WHEN", descriptionKey = "CDC_SNAPSHOT", defaultValue = "initial",
        description = "initial (load the tables when the slot is created: snapshot and stream meet exactly), never, or always "
            + "(make the slot again and reload every run).")
    Snapshot snapshot;

    @Option(names = "--follow", description = "Keep streaming until stopped (SIGTERM commits what it has, then exits). "
        + "Without it, the run stops at the WAL position the server had when it started.")
    boolean follow;

    @Option(names = "--apply", descriptionKey = "CDC_APPLY",
        description = "Also keep each bronze table (the snapshot) equal to its source table, by primary key (a table without one, "
            + "REPLICA IDENTITY FULL: as a multiset of whole rows), in the same transaction as the changes.")
    boolean apply;

    @Option(names = "--streaming", paramLabel = "on|off", descriptionKey = "CDC_STREAMING", defaultValue = "on", arity = "1",
        description = "on (the default, PostgreSQL 14+): receive large transactions while they run, kept in a local file until they "
            + "commit; off: the server keeps them on its own disk and sends them after the commit.")
    String streaming;

    @Option(names = "--drop-slot", description = "Drop the slot (and this stream's checkpoint, and the publication this stream "
        + "created unless another slot of the database may read it), then exit: the server stops keeping WAL for it, and the next run "
        + "starts over with a new slot and snapshot.")
    boolean dropSlot;

    @Option(names = "--lag-warning", paramLabel = "BYTES", descriptionKey = "CDC_LAG_WARNING", defaultValue = "1073741824",
        description = "Warn when, after the run, the slot is more than this many bytes of WAL behind (default: ${DEFAULT-VALUE}, 1 GiB).")
    long lagWarning;

    @Option(names = "--heartbeat", paramLabel = "SECONDS", descriptionKey = "CDC_HEARTBEAT", defaultValue = "0",
        description = "With --follow, write a logical message (pg_logical_emit_message) into the source's WAL every so many seconds, "
            + "so the slot's own database always has WAL to read past and the checkpoint's time shows the stream is current "
            + "(default: 0, never).")
    int heartbeatSeconds;

    @Option(names = "--resnapshot", paramLabel = "SCHEMA.TABLE", split = ",",
        description = "Load this table of the stream again from a snapshot taken while the stream runs, at an exact WAL position "
            + "that its change table marks (repeat, or separate with commas); the other tables keep streaming.")
    List<String> resnapshot = new ArrayList<>();

    @Option(names = "--where", paramLabel = "CONDITION",
        description = "With one --resnapshot: load only the source rows matching this SQL condition, upserted by the table's key "
            + "(a partial backfill).")
    String where;

    @Option(names = "--on-slot-lost", paramLabel = "fail|resnapshot", descriptionKey = "CDC_ON_SLOT_LOST", defaultValue = "fail",
        description = "When the slot of a stream that ran before is gone or lost (dropped, invalidated by max_slot_wal_keep_size, "
            + "not on the server after a failover): fail (the default, exit 3), or resnapshot: make it again and reload every table, "
            + "marking the gap in each change table.")
    String onSlotLost;

    public CdcRequest request() {
        var names = new ArrayList<TableRef>();
        for (String table : tables) {
            names.add(TableRef.parse(table.strip(), "public", "--table"));
        }
        String slotName = name(slot, "--slot");
        String publicationName = publication == null ? slotName : name(publication, "--publication");
        DatakitException.check(!(dropSlot && follow), "--drop-slot ends the stream; it cannot be given with --follow.");
        DatakitException.check(streaming.equals("on") || streaming.equals("off"), "--streaming takes on or off, not %s.", streaming);
        DatakitException.check(lagWarning > 0, "--lag-warning must be a positive number of bytes, not %d.", lagWarning);
        DatakitException.check(heartbeatSeconds >= 0, "--heartbeat must be a number of seconds (0 for none), not %d.", heartbeatSeconds);
        DatakitException.check(heartbeatSeconds == 0 || follow, "--heartbeat %d writes heartbeats while a stream follows, and this run "
            + "ends at the WAL position it started at. Give it with --follow, or leave it out (CDC_HEARTBEAT too).", heartbeatSeconds);
        DatakitException.check(onSlotLost.equals("fail") || onSlotLost.equals("resnapshot"), "--on-slot-lost takes fail or resnapshot, "
            + "not %s.", onSlotLost);
        var again = new ArrayList<TableRef>();
        for (String table : resnapshot) {
            again.add(TableRef.parse(table.strip(), "public", "--resnapshot"));
        }
        DatakitException.check(where == null || again.size() == 1, "--where limits the rows of one --resnapshot table, and %s. Give "
            + "exactly one --resnapshot with it.", again.isEmpty() ? "no --resnapshot was given" : again.size() + " were given");
        Optional<String> condition = Optional.ofNullable(where).map(w -> SqlFragment.check(w, "--where"));
        DatakitException.check(again.isEmpty() || !dropSlot, "--resnapshot loads a table into a running stream, and --drop-slot ends "
            + "the stream. Give one or the other.");
        return new CdcRequest(List.copyOf(names), slotName, publicationName, snapshot.name().toLowerCase(Locale.ROOT), follow, apply,
            streaming.equals("on"), dropSlot, lagWarning, heartbeatSeconds, List.copyOf(again), condition,
            onSlotLost.equals("resnapshot"));
    }

    /** Slot names may only hold lower-case letters, digits and underscores; publications follow the same rule here. */
    private static String name(String value, String option) {
        DatakitException.check(value.matches("[a-z0-9_]{1,63}"), "%s %s is not a valid name: use 1 to 63 lower-case letters, digits "
            + "and underscores.", option, value);
        return value;
    }

    @Override
    public void check() {
        request();
    }
}
