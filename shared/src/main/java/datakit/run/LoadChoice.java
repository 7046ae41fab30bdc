package datakit.run;

import datakit.sql.TableRef;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * Which datakit loads a table, and how, from what its catalog says: the one rule behind
 * {@code postgres-discover --emit-jobs}, kept here so that a load over a pattern of tables follows it too.
 * <ol>
 *   <li>a time cursor (the given --cursor-field where the table has it, else the first timestamp or date
 *       column postgres-discover ranks: it leads a btree index) and a primary key: {@code postgres-incremental},
 *       merge by the key (a date cursor re-reads its last day);</li>
 *   <li>a partitioned table of {@link #PARTITIONED_FROM_BYTES} or more: {@code postgres-partitioned};</li>
 *   <li>a primary key: {@code postgres-incremental --sync-mode xmin}, merge;</li>
 *   <li>otherwise {@code postgres-extract}, a full copy each run.</li>
 * </ol>
 * Integer candidates are not chosen: an id moves with inserts only, and a cursor that misses updates would lose
 * them silently; xmin sees both. For the same reason a time named as an insert time ({@code created_at}) is not chosen,
 * one named as an update time ({@code updated_at}) comes first, and any other chosen time says that updates must set it. Without a primary key postgres-incremental refuses the table in every mode (it
 * orders rows that share a cursor value by the key), so a full copy is the only safe load.
 */
public record LoadChoice(String datakit, Optional<String> cursorField, boolean xmin, Optional<String> writeMode,
                         Optional<String> lookback, String why, List<String> notes) {
    /** From this size a partitioned table with neither a time cursor and a key is loaded part by part. */
    public static final long PARTITIONED_FROM_BYTES = 1L << 30;
    /** The rule in words, for the files and pages that show it. */
    public static final List<String> RULE = List.of(
        "a time cursor (timestamp or date leading an index) and a primary key -> postgres-incremental, merge by the key",
        "a partitioned table of 1 GiB or more                                 -> postgres-partitioned",
        "a primary key, no time cursor                                        -> postgres-incremental, sync-mode xmin, merge",
        "no primary key                                                       -> postgres-extract, a full copy each run");

    /** What the rule needs to know of a table, as postgres-discover reads it ({@code estimatedRows} -1: never analyzed). */
    public record Table(TableRef ref, boolean partitioned, long sizeBytes, List<String> primaryKey, List<Column> columns,
                        List<Candidate> cursorCandidates, long estimatedRows) {
    }

    /** A column with its type as {@code format_type} writes it. */
    public record Column(String name, String type, boolean nullable) {
    }

    /** A column an incremental load could follow, in postgres-discover's ranking, with why it is one. */
    public record Candidate(String column, String type, String why) {
    }

    /** The choice for {@code table}; {@code cursorField} is a cursor the user named for every table that has it. */
    public static LoadChoice of(Table table, Optional<String> cursorField) {
        Optional<Column> cursor = cursor(table, cursorField);
        List<String> key = table.primaryKey();
        String keyText = names(key);
        var notes = notes(table, cursor);
        if (cursor.isPresent() && !key.isEmpty()) {
            Column c = cursor.get();
            boolean date = c.type().equals("date");
            return new LoadChoice("postgres-incremental", Optional.of(c.name()), false, Optional.of("merge"),
                date ? Optional.of("P1D") : Optional.empty(),
                "%s (%s) %s, and the primary key is %s: each run reads the rows changed since the last one and merges them by the key%s."
                    .formatted(TableRef.display(c.name()), c.type(), reason(table, c), keyText,
                        date ? "; a date cursor re-reads its last day (lookback P1D), since rows changed later that day keep the date" : ""),
                notes);
        }
        if (table.partitioned() && table.sizeBytes() >= PARTITIONED_FROM_BYTES) {
            return new LoadChoice("postgres-partitioned", Optional.empty(), false, Optional.empty(), Optional.empty(),
                "a partitioned table of %,d bytes with %s: each partition is a part in its own transaction, and a rerun copies only the "
                    .formatted(table.sizeBytes(), cursor.isEmpty() ? "no time cursor" : "no primary key")
                    + "partitions that changed.", notes);
        }
        if (!key.isEmpty()) {
            return new LoadChoice("postgres-incremental", Optional.empty(), true, Optional.of("merge"), Optional.empty(),
                ("no time cursor, and the primary key is %s: xmin mode follows the transaction ids that wrote the rows, merged by the key. "
                    + "Each run scans the table but copies only the rows changed; deletes are not seen (--detect-deletes).").formatted(keyText),
                notes);
        }
        return new LoadChoice("postgres-extract", Optional.empty(), false, Optional.empty(), Optional.empty(),
            "no primary key, and postgres-incremental needs one in every mode (to order rows that share a cursor value, and to merge): "
                + "a full copy each run, replacing bronze's atomically. Give the table a key (or --primary-key) to load it incrementally.",
            notes);
    }

    /** The datakit's options for the table, as a job file names them (without dashes), in a fixed order. */
    public Map<String, String> options(TableRef table) {
        var options = new LinkedHashMap<String, String>();
        options.put("table", table.toString());
        cursorField.ifPresent(c -> options.put("cursor-field", TableRef.display(c)));
        if (xmin) {
            options.put("sync-mode", "xmin");
        }
        writeMode.ifPresent(m -> options.put("mode", m));
        lookback.ifPresent(l -> options.put("lookback", l));
        return options;
    }

    /** The named cursor where the table has it; else the first time candidate (candidates come time columns first). */
    private static Optional<Column> cursor(Table table, Optional<String> cursorField) {
        if (cursorField.isPresent()) {
            Optional<Column> named = table.columns().stream().filter(c -> c.name().equals(cursorField.get())).findFirst();
            if (named.isPresent()) {
                return named;
            }
        }
        List<Candidate> times = table.cursorCandidates().stream().filter(c -> isTime(c.type())).toList();
        return times.stream().filter(c -> UPDATE_TIME.matcher(c.column()).find()).findFirst()
            .or(() -> times.stream().filter(c -> !INSERT_TIME.matcher(c.column()).find()).findFirst())
            .flatMap(c -> table.columns().stream().filter(column -> column.name().equals(c.column())).findFirst());
    }

    /**
     * Names that say a column moves on every update, and names that say it holds when a row was made: an insert time is
     * never chosen by itself, since a cursor that updates do not move loses them without a word.
     */
    private static final Pattern UPDATE_TIME = Pattern.compile("updat|modif|chang|edit|touch", Pattern.CASE_INSENSITIVE);
    private static final Pattern INSERT_TIME = Pattern.compile("creat|insert|added|born", Pattern.CASE_INSENSITIVE);

    private static String reason(Table table, Column cursor) {
        return table.cursorCandidates().stream().filter(c -> c.column().equals(cursor.name())).findFirst()
            .map(Candidate::why).orElse("was named as the cursor");
    }

    /**
     * What a load that follows {@code cursor} risks, for a run that follows it without review to say: a nullable cursor, and a
     * time whose name does not say updates set it.
     */
    public static List<String> cursorNotes(Column cursor) {
        var notes = new ArrayList<String>();
        if (cursor.nullable()) {
            notes.add(("%s allows NULL: rows with NULL there are read again on every run (merge keeps one copy). Make it NOT NULL "
                + "where you can.").formatted(TableRef.display(cursor.name())));
        }
        if (!UPDATE_TIME.matcher(cursor.name()).find()) {
            notes.add(("%s is followed as the time rows last changed: every update must set it, or the changes it does not move are "
                + "never loaded. If it is not, use sync-mode xmin.").formatted(TableRef.display(cursor.name())));
        }
        return notes;
    }

    /** What the user may want to change: a nullable cursor, integer candidates passed over, JSON columns. */
    private static List<String> notes(Table table, Optional<Column> cursor) {
        var notes = new ArrayList<String>(cursor.map(LoadChoice::cursorNotes).orElse(List.of()));
        List<String> inserts = table.cursorCandidates().stream().filter(c -> isTime(c.type()) && INSERT_TIME.matcher(c.column()).find())
            .filter(c -> cursor.map(chosen -> !chosen.name().equals(c.column())).orElse(true)).map(c -> TableRef.display(c.column())).toList();
        if (!inserts.isEmpty()) {
            notes.add(("%s: the time a row was made, which updates do not move, so it is not followed; name it as cursor-field only for a "
                + "table whose rows are never updated.").formatted(String.join(", ", inserts)));
        }
        List<String> numbers = table.cursorCandidates().stream().filter(c -> !isTime(c.type())).map(c -> TableRef.display(c.column())).toList();
        if (!numbers.isEmpty() && cursor.isEmpty() && !table.primaryKey().isEmpty()) {
            notes.add(("%s could be a cursor only if every insert and update raises it (a version number, an insert-only table); "
                + "then use cursor-field instead of sync-mode xmin.").formatted(String.join(", ", numbers)));
        }
        List<String> json = table.columns().stream().filter(c -> c.type().startsWith("json")).map(c -> TableRef.display(c.name())).toList();
        if (!json.isEmpty()) {
            notes.add(("%s: JSON, copied exactly as it is. To turn its keys into columns, load the table with postgres-jsonb --flatten "
                + "(docs/postgres-jsonb.md).").formatted(String.join(", ", json)));
        }
        return notes;
    }

    private static boolean isTime(String type) {
        return type.startsWith("timestamp") || type.equals("date");
    }

    private static String names(List<String> columns) {
        String names = String.join(", ", columns.stream().map(TableRef::display).toList());
        return columns.size() > 1 ? "(" + names + ")" : names;
    }
}
