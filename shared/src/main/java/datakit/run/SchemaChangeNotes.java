package datakit.run;

import datakit.bronze.SchemaChange;
import datakit.bronze.WriteMode;
import datakit.report.RunContext;
import datakit.sql.TableRef;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * What a run says of the schema changes its loads recorded ({@link datakit.bronze.BronzeLoad#recorded()}): a warning per
 * change, once across the run's attempts and parts, and the list in the run's details ({@code schema_changes}: the
 * summary, {@code --json}, extraction_runs, the NOTIFY of the run's end).
 */
public final class SchemaChangeNotes {
    private final Consumer<String> warn;
    private final WriteMode mode;
    private final Map<String, Map<String, Object>> said = new LinkedHashMap<>();

    public SchemaChangeNotes(RunContext run, WriteMode mode) {
        this(run::warn, mode);
    }

    /** Notes whose warnings go to {@code warn}: a change stream gathers them for its summary. */
    public SchemaChangeNotes(Consumer<String> warn, WriteMode mode) {
        this.warn = warn;
        this.mode = mode;
    }

    /** Says the changes a load of {@code table} recorded, those not said yet. */
    public void said(TableRef table, List<SchemaChange> recorded) {
        said(table, recorded, mode);
    }

    /**
     * Says the changes recorded for {@code table}, written as {@code tableMode}, for a run that writes tables more than one
     * way (a change stream's change tables append; its --apply tables are kept equal to the source, as a replace is).
     */
    public void said(TableRef table, List<SchemaChange> recorded, WriteMode tableMode) {
        for (SchemaChange change : recorded) {
            Map<String, Object> details = new LinkedHashMap<>(Map.of("table", table.toString()));
            details.putAll(change.toDetails());
            if (said.putIfAbsent(table + "\u0000" + details, details) == null) {
                warn.accept("%s: %s%s".formatted(table, change.describe(), consequence(change, tableMode)));
            }
        }
    }

    /** What the rows already in bronze hold where a column was added, which depends on how the table is written. */
    private static String consequence(SchemaChange change, WriteMode mode) {
        if (change.kind() != SchemaChange.Kind.ADDED) {
            return "";
        }
        return switch (mode) {
            case REPLACE -> "";
            case APPEND -> "; the versions appended before have NULL there";
            case MERGE -> "";
        };
    }

    /** The changes said so far, as the run's details hold them (nothing when there are none). */
    public Map<String, Object> details() {
        var details = new LinkedHashMap<String, Object>();
        addTo(details);
        return details;
    }

    /** Adds the changes said so far to {@code details}, as {@code schema_changes}. */
    public void addTo(Map<String, Object> details) {
        if (!said.isEmpty()) {
            details.put("schema_changes", new ArrayList<>(said.values()));
        }
    }
}
