package datakit.bronze;

import datakit.sql.TableRef;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import org.jooq.DSLContext;

/**
 * The bronze schema's {@code schema_changes}: every change of a bronze table's columns that followed the source's, written
 * in the transaction that makes it. A change is written once, by the first run that finds it: a column the source dropped
 * stays dropped run after run, and only its first run says so. A column back after it was dropped (or ignored) is
 * written as added again.
 *
 * @param stream the bronze table, {@code schema.table}
 * @param source the source table read, empty for a query
 */
public record SchemaChangeLog(DSLContext db, TableRef stream, Optional<String> source, UUID runId) {

    /**
     * Writes those of {@code changes} that are new for the stream, and an added row for each of {@code landed} (the
     * columns this load lands) whose last row says it was dropped or ignored; returns what it wrote, for the run to say.
     */
    public List<SchemaChange> record(List<SchemaChange> changes, Collection<LandingColumn> landed) {
        var written = new ArrayList<SchemaChange>();
        for (SchemaChange change : changes) {
            if (!isLatest(change.column(), change.kind(), change.newType())) {
                insert(change);
                written.add(change);
            }
        }
        Set<String> gone = landed.isEmpty() ? Set.of() : gone();
        for (LandingColumn column : landed) {
            if (changes.stream().noneMatch(c -> c.column().equals(column.name())) && gone.contains(column.name())) {
                SchemaChange back = SchemaChange.added(column.name(), column.bronzeType());
                insert(back);
                written.add(back);
            }
        }
        return written;
    }

    /** Whether the stream's last row for the change's column already says it: a change followed before, not new. */
    public boolean holds(SchemaChange change) {
        // A bronze schema not migrated yet (a dry run's first look after an upgrade) has recorded nothing.
        boolean kept = Boolean.TRUE.equals(db.resultQuery("SELECT pg_catalog.to_regclass(?) IS NOT NULL", table()).fetchOne(0, Boolean.class));
        return kept && isLatest(change.column(), change.kind(), change.newType());
    }

    private boolean isLatest(String column, SchemaChange.Kind kind, Optional<String> newType) {
        return db.resultQuery("SELECT change = ? AND new_type IS NOT DISTINCT FROM ? FROM " + table()
                + " WHERE stream = ? AND column_name = ? ORDER BY change_id DESC LIMIT 1",
            kind.label(), newType.orElse(null), stream.toString(), column).fetchOptional(0, Boolean.class).orElse(false);
    }

    /** The columns whose last row says they were dropped or ignored: one query, however many columns a load lands. */
    private Set<String> gone() {
        return new HashSet<>(db.resultQuery("SELECT column_name FROM (SELECT DISTINCT ON (column_name) column_name, change FROM " + table()
            + " WHERE stream = ? ORDER BY column_name, change_id DESC) l WHERE change IN ('dropped', 'ignored')", stream.toString())
            .fetch(0, String.class));
    }

    private void insert(SchemaChange change) {
        db.execute("INSERT INTO " + table() + " (stream, source_object, run_id, column_name, change, old_type, new_type, lands_in) "
                + "VALUES (?, ?, ?::uuid, ?, ?, ?, ?, ?)", stream.toString(), source.orElse(null), runId.toString(), change.column(),
            change.kind().label(), change.oldType().orElse(null), change.newType().orElse(null), change.landsIn().orElse(null));
    }

    private String table() {
        return TableRef.of(stream.schema(), "schema_changes").sql();
    }
}
