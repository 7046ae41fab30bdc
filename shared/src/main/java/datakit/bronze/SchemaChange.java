package datakit.bronze;

import datakit.sql.TableRef;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * One change of a bronze table's columns that follows the source's, as a load makes it, records it in
 * {@code schema_changes} and reports it.
 *
 * @param column  the source column ({@code ""} for a change of the table itself, {@link Kind#RENAMED})
 * @param kind    what changed
 * @param oldType the bronze column's type before (empty for an added column); for a renamed table, its old name
 * @param newType the source's type now (empty for a dropped column); for a renamed table, its new name
 * @param landsIn the bronze column the source column's values land in from now on (a variant column's name for
 *                {@link Kind#VARIANT}; empty where they land nowhere: dropped, ignored)
 */
public record SchemaChange(String column, Kind kind, Optional<String> oldType, Optional<String> newType, Optional<String> landsIn) {

    /** What happened to the column. */
    public enum Kind {
        /** The source gained it; bronze gained it too. */
        ADDED,
        /** The source no longer has it (dropped, or renamed: a rename is a drop and an add); bronze keeps it, NULL from then on. */
        DROPPED,
        /** Its type widened; the bronze column was altered to the new type in place, keeping its values. */
        WIDENED,
        /** Its type changed to one the bronze column cannot take without loss; its values land in a new column beside it. */
        VARIANT,
        /** A replaced table was rebuilt with the source's new type (every row is loaded again, so nothing is lost). */
        RETYPED,
        /** The source gained it, and {@code --on-schema-change freeze} does not load it. */
        IGNORED,
        /** The source table was renamed, and the stream follows it by its identity into the same bronze table (postgres-cdc). */
        RENAMED;

        public String label() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    static SchemaChange added(String column, String type) {
        return new SchemaChange(column, Kind.ADDED, Optional.empty(), Optional.of(type), Optional.of(column));
    }

    static SchemaChange dropped(String column, String type) {
        return new SchemaChange(column, Kind.DROPPED, Optional.of(type), Optional.empty(), Optional.empty());
    }

    /** The source table, once {@code from}, is now {@code to}. */
    public static SchemaChange renamed(TableRef from, TableRef to) {
        return new SchemaChange("", Kind.RENAMED, Optional.of(from.toString()), Optional.of(to.toString()), Optional.empty());
    }

    /** What changed at the source, in words: {@code "amount went from integer to bigint"}. */
    public String what() {
        String name = kind == Kind.RENAMED ? "" : TableRef.display(column);
        return switch (kind) {
            case ADDED, IGNORED -> "%s is new (%s)".formatted(name, newType.orElseThrow());
            case DROPPED -> "%s is gone (dropped or renamed)".formatted(name);
            case WIDENED, VARIANT, RETYPED -> "%s went from %s to %s".formatted(name, oldType.orElseThrow(), newType.orElseThrow());
            case RENAMED -> "%s was renamed to %s".formatted(oldType.orElseThrow(), newType.orElseThrow());
        };
    }

    /** What changed and what bronze did about it, for the run's warning. */
    public String describe() {
        String name = kind == Kind.RENAMED ? "" : TableRef.display(column);
        return switch (kind) {
            case ADDED -> "added %s (%s)".formatted(name, newType.orElseThrow());
            case DROPPED -> "%s is no longer in the source (dropped or renamed): kept, NULL in the rows loaded from now on".formatted(name);
            case WIDENED -> "widened %s from %s to %s in place".formatted(TableRef.display(landsIn.orElseThrow()), oldType.orElseThrow(),
                newType.orElseThrow());
            case VARIANT -> landsIn.orElseThrow().equals(column)
                ? "%s went back to %s: its values land in %s again, and its variant columns are NULL from now on".formatted(name,
                    newType.orElseThrow(), name)
                : "%s went from %s to %s, which it cannot hold: its values land in %s from now on".formatted(name,
                    oldType.orElseThrow(), newType.orElseThrow(), TableRef.display(landsIn.orElseThrow()));
            case RETYPED -> "rebuilt %s as %s (was %s)".formatted(name, newType.orElseThrow(), oldType.orElseThrow());
            case IGNORED -> "%s is new (%s) and not loaded (--on-schema-change freeze)".formatted(name, newType.orElseThrow());
            case RENAMED -> "%s was renamed to %s on the source; the stream follows it by its identity, so it keeps landing here"
                .formatted(oldType.orElseThrow(), newType.orElseThrow());
        };
    }

    /** The change as the run's details list it: {@code {"column", "change", "old_type", "new_type", "lands_in"}}. */
    public Map<String, Object> toDetails() {
        var details = new LinkedHashMap<String, Object>();
        details.put("column", column);
        details.put("change", kind.label());
        oldType.ifPresent(t -> details.put("old_type", t));
        newType.ifPresent(t -> details.put("new_type", t));
        landsIn.filter(c -> !c.equals(column)).ifPresent(c -> details.put("lands_in", c));
        return details;
    }

    /** A change as {@link #toDetails()} lists it (a failed run's {@code schema_changes_refused}), to say it again in words. */
    public static SchemaChange fromDetails(Map<String, ?> details) {
        String column = String.valueOf(details.get("column"));
        Kind kind = Kind.valueOf(String.valueOf(details.get("change")).toUpperCase(Locale.ROOT));
        Optional<String> landsIn = Optional.ofNullable((String) details.get("lands_in"))
            .or(() -> kind == Kind.DROPPED || kind == Kind.IGNORED ? Optional.empty() : Optional.of(column));
        return new SchemaChange(column, kind, Optional.ofNullable((String) details.get("old_type")),
            Optional.ofNullable((String) details.get("new_type")), landsIn);
    }
}
