package datakit.cli;

import datakit.bronze.ConflictPolicy;
import datakit.error.DatakitException;
import datakit.incremental.Increment;
import datakit.source.Selection;
import datakit.sql.Identifiers;
import datakit.tableset.SetIncrement;
import java.time.Duration;
import java.time.format.DateTimeParseException;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.OptionalLong;
import picocli.CommandLine.Option;

/**
 * How an incremental load follows a table: {@code --cursor-field} and {@code --primary-key} (or the seed
 * style {@code sync_mode}, {@code cursor_field}, {@code primary_key} from the environment or a
 * {@code --config} file), where a first run starts, the lookback for late commits, the chunk size, and
 * the policies for conflicts, vanished rows and unusable checkpoints; for a set of tables, what every table follows.
 */
public class IncrementalOptions implements CheckedOptions {
    @Option(names = "--sync-mode", paramLabel = "MODE", descriptionKey = "SYNC_MODE",
        description = "incremental (by --cursor-field, the default), xmin (by transaction id, for tables without a cursor column) "
            + "or full_refresh (reload everything every run).")
    String syncMode;

    @Option(names = "--cursor-field", paramLabel = "COLUMN", descriptionKey = "CURSOR_FIELD",
        description = "Column that grows with every change: timestamp(tz), date, integer, bigint, numeric, text or uuid.")
    String cursorField;

    @Option(names = "--primary-key", paramLabel = "A,B", descriptionKey = "PRIMARY_KEY",
        description = "Columns that identify a row and order rows sharing a cursor value (default: the table's primary key).")
    String primaryKey;

    @Option(names = "--initial-value", paramLabel = "VALUE", descriptionKey = "INITIAL_VALUE",
        description = "A first run reads rows whose cursor is at least this (default: all rows).")
    String initialValue;

    @Option(names = "--lookback", paramLabel = "DURATION", descriptionKey = "LOOKBACK",
        description = "Read again the rows this far before the checkpoint (ISO-8601, e.g. PT5M), to catch transactions that "
            + "committed late. Merge mode absorbs the re-reads; append mode lands them again.")
    String lookback;

    @Option(names = "--chunk-rows", paramLabel = "ROWS", descriptionKey = "CHUNK_ROWS",
        description = "Commit every this many rows, each part with its checkpoint (default: one commit per run).")
    Long chunkRows;

    @Option(names = "--on-conflict", paramLabel = "POLICY", descriptionKey = "ON_CONFLICT", defaultValue = "overwrite",
        description = "merge mode, a key already in bronze: overwrite (default), skip, or fail.")
    ConflictPolicy onConflict;

    @Option(names = "--detect-deletes", descriptionKey = "DETECT_DELETES",
        description = "Also compare keys with the source and set _bronze_deleted_at on rows deleted there.")
    boolean detectDeletes;

    @Option(names = "--on-bad-checkpoint", paramLabel = "POLICY", descriptionKey = "ON_BAD_CHECKPOINT", defaultValue = "fail",
        description = "When the stored checkpoint cannot be used (column type changed, checkpoint lost, bronze table dropped): "
            + "fail (default) or full-refresh.")
    String onBadCheckpoint;

    @Option(names = "--full-refresh", description = "Reload the whole table now, then go on incrementally.")
    boolean fullRefresh;

    /** The increment over {@code selection}, checked. */
    public Increment increment(Selection selection) {
        check();
        // A full refresh on every run needs no cursor; without one its checkpoint follows transaction ids.
        DatakitException.check(!syncMode().equals("incremental") || cursorField != null,
            "No cursor to follow. Give --cursor-field with a column that grows with every change, or --sync-mode xmin.");
        return new Increment(selection, cursor(),
            primaryKey == null ? List.of() : Identifiers.split(primaryKey, ',', "--primary-key"),
            Optional.ofNullable(initialValue), lookback(), chunkRows(), onConflict, detectDeletes, badCheckpoint(), fullRefresh());
    }

    /**
     * What every table of a set ({@code setDescription}) follows: --cursor-field where a table has it, or xmin for all with
     * --sync-mode xmin; without either, each table's own update time or xmin. Options that name one table's columns or values
     * are refused.
     */
    public SetIncrement forSet(String setDescription) {
        check();
        DatakitException.check(primaryKey == null, "--primary-key names columns of one table, and %s selects a set of tables. Each "
            + "table of a set is merged by its own primary key (a table without one is copied whole); load a table that needs "
            + "another key on its own with --primary-key, and leave it out of the set with --exclude-table.", setDescription);
        DatakitException.check(initialValue == null, "--initial-value names a value of one table's cursor, and %s selects a set of "
            + "tables. Each table of a set starts from its first row; load a table that must start later on its own with "
            + "--initial-value, and leave it out of the set with --exclude-table.", setDescription);
        return new SetIncrement(cursor(), syncMode().equals("xmin"), lookback(), chunkRows(), onConflict, detectDeletes, badCheckpoint(),
            fullRefresh());
    }

    private Optional<String> cursor() {
        return Optional.ofNullable(cursorField).map(c -> Identifiers.one(c, "--cursor-field"));
    }

    private Optional<Duration> lookback() {
        return Optional.ofNullable(lookback).map(IncrementalOptions::duration);
    }

    private OptionalLong chunkRows() {
        return chunkRows == null ? OptionalLong.empty() : OptionalLong.of(chunkRows);
    }

    private Optional<String> fullRefresh() {
        return fullRefresh ? Optional.of("--full-refresh was given")
            : syncMode().equals("full_refresh") ? Optional.of("sync_mode is full_refresh") : Optional.empty();
    }

    /** Checks every option, for one table or a set; the selection is SelectionOptions' to check. */
    @Override
    public void check() {
        String sync = syncMode();
        DatakitException.check(List.of("incremental", "xmin", "full_refresh").contains(sync),
            "--sync-mode (or sync_mode) is \"%s\"; give incremental, xmin or full_refresh.", syncMode);
        DatakitException.check(!sync.equals("xmin") || cursorField == null, ("--sync-mode xmin follows transaction ids, but a cursor "
            + "column is set (%s, from --cursor-field or CURSOR_FIELD). Unset it, or use --sync-mode incremental."), cursorField);
        DatakitException.check(chunkRows == null || chunkRows >= 1, "--chunk-rows is %d; give a positive number of rows.", chunkRows);
        if (cursorField != null) {
            Identifiers.one(cursorField, "--cursor-field");
        }
        if (primaryKey != null) {
            Identifiers.split(primaryKey, ',', "--primary-key");
        }
        if (lookback != null) {
            duration(lookback);
        }
        badCheckpoint();
    }

    private String syncMode() {
        return syncMode == null ? "incremental" : syncMode.toLowerCase(Locale.ROOT).replace('-', '_');
    }

    private Increment.BadCheckpoint badCheckpoint() {
        return switch (onBadCheckpoint.toLowerCase(Locale.ROOT).replace('_', '-')) {
            case "fail" -> Increment.BadCheckpoint.FAIL;
            case "full-refresh" -> Increment.BadCheckpoint.FULL_REFRESH;
            default -> throw DatakitException.badInput("--on-bad-checkpoint is \"%s\"; give fail or full-refresh.", onBadCheckpoint);
        };
    }

    private static Duration duration(String text) {
        try {
            Duration duration = Duration.parse(text);
            DatakitException.check(!duration.isNegative(), "--lookback is %s; give a positive duration such as PT5M.", text);
            return duration;
        } catch (DateTimeParseException e) {
            throw DatakitException.badInput("--lookback is \"%s\", which is not a duration of days, hours, minutes or seconds "
                + "(months and years have no fixed length). Write PT5M for five minutes, PT1H for an hour, P1D for a day.", text);
        }
    }

}
