package datakit.incremental;

import datakit.bronze.BronzeMetadata;
import datakit.bronze.BronzeTable;
import datakit.bronze.WriteMode;
import datakit.checkpoint.Checkpoint;
import datakit.json.FlattenSpec;
import datakit.report.RunContext;
import datakit.source.IncrementalSource;
import datakit.source.Selection;
import datakit.sql.TableRef;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * How an incremental stream follows columns added, dropped or renamed at the source, and says so once. The checkpoint does
 * not hold the source's columns ({@link datakit.checkpoint.ReadFilter}), so the run goes on; bronze gains the new columns
 * ({@link datakit.bronze.BronzeLoad#schemaChanges}) and keeps those the source no longer has, which a merge sets NULL in
 * the rows it writes from then on. A column is said added when a part adds it to bronze, and no longer read when the run
 * that wrote the checkpoint read it and this one does not: each in a warning, and in the run's details
 * ({@code schema_changes}: the summary, --json, extraction_runs). A rename is both.
 */
final class SchemaChanges {
    private final RunContext run;
    private final TableRef target;
    private final Map<String, Object> details;
    /** Across the run's attempts, so a retry does not say it again. */
    private final Set<String> added = new LinkedHashSet<>();
    private final Set<String> noLongerRead = new LinkedHashSet<>();

    SchemaChanges(RunContext run, TableRef target, Map<String, Object> details) {
        this.run = run;
        this.target = target;
        this.details = details;
    }

    /**
     * The columns of {@code bronze} that a load of the {@code landed} columns leaves out, which the source no longer has: not
     * metadata, and not a key flattened from a JSON column (which a sample may miss one run and find the next).
     */
    static List<String> notWritten(Optional<BronzeTable> bronze, List<String> landed, Selection selection) {
        List<String> flattened = selection.flatten().specs().stream().map(FlattenSpec::column).map(c -> c + "__").toList();
        return bronze.map(b -> b.columns().keySet().stream()
                .filter(c -> !BronzeMetadata.isMetadata(c) && !landed.contains(c) && flattened.stream().noneMatch(c::startsWith))
                .toList())
            .orElse(List.of());
    }

    /** The columns the run that wrote {@code stored} read, which {@code src} does not and {@code bronze} keeps. */
    static List<String> noLongerRead(Optional<Checkpoint> stored, IncrementalSource src, Optional<BronzeTable> bronze) {
        return stored.map(Checkpoint::columnsRead).orElse(List.of()).stream()
            .filter(c -> !src.columns().contains(c) && bronze.map(b -> b.columns().containsKey(c)).orElse(false))
            .toList();
    }

    /** Says that the source no longer has {@code columns}, which bronze keeps. */
    void noLongerRead(List<String> columns, TableRef source) {
        for (String column : columns) {
            if (noLongerRead.add(column)) {
                run.warn(("%s is no longer in %s (dropped or renamed there): %s keeps it, NULL in the rows loaded from now on")
                    .formatted(TableRef.display(column), source, target));
            }
        }
        record();
    }

    /** Says that a part added {@code columns} to bronze. */
    void added(List<String> columns, WriteMode mode) {
        List<String> fresh = columns.stream().filter(added::add).toList();
        if (!fresh.isEmpty()) {
            run.warn("added %s to %s: %s".formatted(String.join(", ", fresh.stream().map(TableRef::display).toList()), target,
                mode == WriteMode.APPEND ? "the versions appended before have NULL there"
                    : "rows loaded before have NULL there until they change again; --full-refresh fills them"));
        }
        record();
    }

    private void record() {
        if (added.isEmpty() && noLongerRead.isEmpty()) {
            return;
        }
        var changes = new LinkedHashMap<String, Object>();
        if (!added.isEmpty()) {
            changes.put("added", List.copyOf(added));
        }
        if (!noLongerRead.isEmpty()) {
            changes.put("no_longer_read", List.copyOf(noLongerRead));
        }
        details.put("schema_changes", changes);
    }
}
