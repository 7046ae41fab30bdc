package datakit.bookkeeping;

import datakit.error.DatakitException;
import datakit.sql.Sql;
import datakit.sql.TableRef;
import java.sql.Connection;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

/**
 * A stream whose source table was renamed at the source ({@code --renamed-from}): its bronze table keeps its rows, history
 * and checkpoint (all keyed by the stream) and reads the new name from then on. The run that first reads the new name
 * records the rename in {@code schema_changes} when it succeeds; its {@code extraction_runs.source_object} is the new name,
 * which is what later runs of the stream are compared with, so they need no flag. Also what a run meets of a rename recorded
 * before: the flag no longer needed, or the new name loaded into a bronze table of its own without {@code --target-table}.
 *
 * @param stream the bronze table that keeps the stream, {@code schema.table}
 * @param from   the name the source table had
 * @param to     its new name
 * @param seen   how this run meets the rename
 * @param target the bronze table this run loads: {@code stream}, but for {@link Seen#ELSEWHERE}
 */
public record StreamRename(String stream, String from, String to, Seen seen, String target) {

    /** How a run meets a rename. */
    public enum Seen {
        /** This run moves the stream to the new name. */
        NOW,
        /** An earlier run did: --renamed-from is no longer needed. */
        BEFORE,
        /** Another stream follows the renamed table, and this run starts a stream of its own from it. */
        ELSEWHERE
    }

    /**
     * What a run that says the table it reads was called {@code from} finds of {@code stream}: the rename to make, or made
     * before; a stream that never read {@code from} is refused (exit 2), one that holds another table's rows too (exit 3).
     */
    static StreamRename decide(String stream, Optional<RunLog.PreviousRun> last, String reading, String from) {
        if (last.isEmpty()) {
            throw DatakitException.badInput("No run loaded %s into %s, so --renamed-from %s has no stream to keep. Check --renamed-from "
                + "and --target-table, or drop --renamed-from to start a new stream.", from, stream, from);
        }
        Optional<String> read = last.get().sourceObject();
        if (read.filter(from::equals).isPresent()) {
            return new StreamRename(stream, from, reading, Seen.NOW, stream);
        }
        if (read.filter(reading::equals).isPresent()) {
            return new StreamRename(stream, from, reading, Seen.BEFORE, stream);
        }
        throw DatakitException.notReady(("%s holds the rows of %s, not those of %s (--renamed-from). Give --target-table the bronze table "
            + "%s was loaded into, or drop --renamed-from.").formatted(stream, read.orElse("a query"), from, from));
    }

    /**
     * The rename that moved another stream to {@code reading}, for the first run of a new stream of it: a scheduled command
     * that lost its --renamed-from and not gained the --target-table that goes with it.
     */
    static Optional<StreamRename> elsewhere(Connection connection, String stream, String reading) {
        String table = changes(stream).sql();
        if (!Sql.using(connection).resultQuery("SELECT pg_catalog.to_regclass(?) IS NOT NULL", table).fetchOne(0, Boolean.class)) {
            return Optional.empty();
        }
        return Sql.using(connection).resultQuery("SELECT stream, old_type FROM " + table + " WHERE change = 'renamed' AND new_type = ? "
                + "AND stream <> ? ORDER BY change_id DESC LIMIT 1", reading, stream)
            .fetchOptional(r -> new StreamRename(r.get(0, String.class), r.get(1, String.class), reading, Seen.ELSEWHERE, stream));
    }

    /**
     * Records the rename in {@code schema_changes} (column_name '', old and new name as old_type and new_type, as postgres-cdc
     * records a table it follows to a new name); call in the transaction that marks the run succeeded.
     */
    void record(Connection transaction, UUID runId) {
        Sql.using(transaction).execute("INSERT INTO " + changes(stream).sql() + " (stream, source_object, run_id, column_name, change, "
            + "old_type, new_type) VALUES (?, ?, ?::uuid, '', 'renamed', ?, ?)", stream, to, runId.toString(), from, to);
    }

    /** Whether this run moves the stream, which its success records. */
    public boolean now() {
        return seen == Seen.NOW;
    }

    /** Adds {@code renamed_from} to a run's details where this run moves the stream. */
    public void addTo(Map<String, Object> details) {
        if (now()) {
            details.put("renamed_from", from);
        }
    }

    /** What the run says of it, one line. */
    public String describe(boolean dryRun) {
        String table = TableRef.display(TableRef.parse(stream, "public", "the stream").table());
        return switch (seen) {
            case NOW -> dryRun
                ? "%s was renamed %s at the source: the run would keep the stream %s and read %s from now on."
                    .formatted(from, to, stream, to)
                : ("%s was renamed %s at the source: %s keeps its stream and reads %s from now on (recorded in %s). Later runs need no "
                    + "--renamed-from: --table %s --target-table %s.").formatted(from, to, stream, to, changes(stream), to, table);
            case BEFORE -> "--renamed-from %s is no longer needed: %s reads %s since an earlier run. Run with --table %s --target-table %s."
                .formatted(from, stream, to, to, table);
            case ELSEWHERE -> ("%s was renamed from %s, and %s reads it since: this run starts another stream, %s. To go on loading %s, "
                + "pass --target-table %s.").formatted(to, from, stream, target, stream, table);
        };
    }

    /** The schema_changes table of the stream's bronze schema. */
    private static TableRef changes(String stream) {
        return TableRef.of(TableRef.parse(stream, "public", "the stream").schema(), "schema_changes");
    }
}
