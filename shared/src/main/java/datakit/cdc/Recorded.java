package datakit.cdc;

import datakit.bronze.SchemaChange;
import datakit.bronze.WriteMode;
import datakit.run.SchemaChangeNotes;
import datakit.sql.TableRef;
import java.util.List;
import java.util.function.Consumer;

/**
 * A schema change a change stream recorded for one of its bronze tables, written as {@code mode} (a change table appends;
 * an --apply table is kept equal to the source, as a replaced table is), for the run to say.
 */
record Recorded(TableRef table, SchemaChange change, WriteMode mode) {
    /** What the run says of {@code recorded}: a warning each, to {@code warn}, and the details' {@code schema_changes}. */
    static SchemaChangeNotes notes(List<Recorded> recorded, Consumer<String> warn) {
        var notes = new SchemaChangeNotes(warn, WriteMode.APPEND);
        recorded.forEach(r -> notes.said(r.table(), List.of(r.change()), r.mode()));
        return notes;
    }
}
