package datakit.bronze;

import datakit.error.DatakitException;
import datakit.error.ExitCode;
import datakit.sql.Identifiers;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.function.Predicate;

/**
 * How a load's columns meet the columns its existing bronze table has, under the stream's {@link SchemaPolicy}: the
 * changes the table needs and where each landed column goes. Worked out from the two column lists alone, so a run and
 * its dry run agree, and every mode follows the same rules:
 * <ul>
 *   <li>a column the source gained is added (where PostgreSQL adds columns: at the end of the table);</li>
 *   <li>a column the source no longer has stays, NULL in the rows loaded from then on (a rename is both);</li>
 *   <li>a type that widens ({@link TypeWidening}) is applied to the bronze column in place; a narrower one loads into the
 *       wider column as it is;</li>
 *   <li>any other type change lands in a variant column beside the old one, {@code <column>__v_<type>}, which then takes
 *       the column's values while the old one keeps the rows from before; a replaced table is rebuilt with the new type
 *       instead, since every row is loaded again.</li>
 * </ul>
 * {@code fail} refuses every change; {@code freeze} does not load new columns and refuses a type the known column cannot
 * hold.
 *
 * @param changes what changes, in the landing's column order, then the columns the source no longer has
 * @param landsIn each landed column's bronze column (itself, or its variant column)
 * @param cleared bronze columns a merge sets NULL in the rows it writes: those the source no longer has, and those whose
 *                values moved to a variant column
 */
public record SchemaEvolution(List<SchemaChange> changes, Map<String, String> landsIn, List<String> cleared) {

    /** The rules applied to a load of {@code landing} into a table that has {@code bronze} (column to type), or none yet. */
    public static SchemaEvolution of(Optional<Map<String, String>> bronze, Landing landing, WriteMode mode, SchemaPolicy policy) {
        return of(bronze, landing, mode, policy, change -> false);
    }

    /**
     * As {@link #of(Optional, Landing, WriteMode, SchemaPolicy)}, for a load that meets the same shape again and again (a
     * change stream hears a table's columns at every run): the policy refuses only the changes not {@code followed}
     * already, such as a dropped column bronze keeps since an earlier run recorded it.
     */
    public static SchemaEvolution of(Optional<Map<String, String>> bronze, Landing landing, WriteMode mode, SchemaPolicy policy,
                                     Predicate<SchemaChange> followed) {
        if (bronze.isEmpty()) {
            var landsIn = new LinkedHashMap<String, String>();
            landing.names().forEach(c -> landsIn.put(c, c));
            return new SchemaEvolution(List.of(), landsIn, List.of());
        }
        Map<String, String> existing = bronze.get();
        var changes = new ArrayList<SchemaChange>();
        var landsIn = new LinkedHashMap<String, String>();
        var cleared = new ArrayList<String>();
        for (LandingColumn column : landing.columns()) {
            String name = column.name();
            String type = column.bronzeType();
            String now = existing.get(name);
            List<String> variants = variantsOf(name, existing);
            if (now == null) {
                if (policy == SchemaPolicy.FREEZE) {
                    changes.add(new SchemaChange(name, SchemaChange.Kind.IGNORED, Optional.empty(), Optional.of(type), Optional.empty()));
                } else {
                    changes.add(SchemaChange.added(name, type));
                    landsIn.put(name, name);
                }
            } else if (TypeWidening.widens(type, now)) {
                landsIn.put(name, name);
                if (mode == WriteMode.REPLACE && !type.equals(now)) {
                    changes.add(new SchemaChange(name, SchemaChange.Kind.RETYPED, Optional.of(now), Optional.of(type), Optional.of(name)));
                } else if (mode != WriteMode.REPLACE && !variants.isEmpty()) {
                    // The type went back to one the column holds: its values land there again, not in the variant column.
                    changes.add(new SchemaChange(name, SchemaChange.Kind.VARIANT, Optional.of(existing.get(variants.get(0))),
                        Optional.of(type), Optional.of(name)));
                }
            } else if (TypeWidening.widens(now, type)) {
                changes.add(new SchemaChange(name, SchemaChange.Kind.WIDENED, Optional.of(now), Optional.of(type), Optional.of(name)));
                landsIn.put(name, name);
            } else if (mode == WriteMode.REPLACE) {
                changes.add(new SchemaChange(name, SchemaChange.Kind.RETYPED, Optional.of(now), Optional.of(type), Optional.of(name)));
                landsIn.put(name, name);
            } else {
                landsIn.put(name, variantFor(name, type, now, existing, variants, changes));
                cleared.add(name);
            }
            // A value lands in one column of the source column's: a merge clears the others it has (a type that went back).
            String into = landsIn.get(name);
            variants.stream().filter(v -> into != null && !v.equals(into) && !cleared.contains(v) && !landing.names().contains(v))
                .forEach(cleared::add);
        }
        for (Map.Entry<String, String> column : existing.entrySet()) {
            String name = column.getKey();
            if (!BronzeMetadata.isMetadata(name) && !landing.names().contains(name) && !isVariantOfLanded(name, existing, landing)
                    && !landing.comesAndGoes(name) && !name.equals(UNKNOWN_VALUES)) {
                changes.add(SchemaChange.dropped(name, column.getValue()));
                cleared.add(name);
            }
        }
        var evolution = new SchemaEvolution(changes, landsIn, cleared);
        evolution.refuseUnder(policy, landing.origin(), followed);
        return evolution;
    }

    /** CDC's column of values an --apply table has not seen yet: the table's own, never the source's. */
    private static final String UNKNOWN_VALUES = "_cdc_unknown";

    public SchemaEvolution {
        changes = List.copyOf(changes);
        landsIn = Collections.unmodifiableMap(new LinkedHashMap<>(landsIn));
        cleared = List.copyOf(cleared);
    }

    /** {@code <column>__v_<type>}: the column a value of a type its column cannot hold lands in, fitted to PostgreSQL's names. */
    public static String variantName(String column, String type) {
        String suffix = type.toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9]+", "_").replaceAll("^_|_$", "");
        return Identifiers.fit(column + "__v_" + suffix);
    }

    /** Whether a bronze column is a variant column of one the load lands: it keeps the values of another type. */
    private static boolean isVariantOfLanded(String bronzeColumn, Map<String, String> existing, Landing landing) {
        return landing.names().stream().anyMatch(c -> isVariant(bronzeColumn, existing.get(bronzeColumn), c));
    }

    /** The bronze columns that hold source column {@code column}'s values: itself, where bronze has it, then its variant columns. */
    public static List<String> columnsHolding(String column, Map<String, String> bronze) {
        var holding = new ArrayList<String>();
        if (bronze.containsKey(column)) {
            holding.add(column);
        }
        holding.addAll(variantsOf(column, bronze));
        return holding;
    }

    /** The variant columns bronze has of the source column {@code column}, in table order. */
    private static List<String> variantsOf(String column, Map<String, String> existing) {
        return existing.entrySet().stream().filter(c -> isVariant(c.getKey(), c.getValue(), column)).map(Map.Entry::getKey).toList();
    }

    /** A variant column is named after its column and type; a long name is cut to fit, so it is found by the name it was given. */
    private static boolean isVariant(String bronzeColumn, String type, String column) {
        return !bronzeColumn.equals(column) && (bronzeColumn.startsWith(column + "__v_") || bronzeColumn.equals(variantName(column, type)));
    }

    /**
     * The variant column a value of {@code type} lands in: one bronze has that holds it, else one that widens to it (widened
     * in place), else a new one; the change is added to {@code changes} where there is one.
     */
    private static String variantFor(String name, String type, String now, Map<String, String> existing, List<String> variants,
                                     List<SchemaChange> changes) {
        Optional<String> holds = variants.stream().filter(v -> TypeWidening.widens(type, existing.get(v))).findFirst();
        if (holds.isPresent()) {
            changes.add(new SchemaChange(name, SchemaChange.Kind.VARIANT, Optional.of(now), Optional.of(existing.get(holds.get())),
                holds));
            return holds.get();
        }
        Optional<String> widens = variants.stream().filter(v -> TypeWidening.widens(existing.get(v), type)).findFirst();
        if (widens.isPresent()) {
            changes.add(new SchemaChange(name, SchemaChange.Kind.WIDENED, Optional.of(existing.get(widens.get())), Optional.of(type), widens));
            return widens.get();
        }
        String variant = variantName(name, type);
        changes.add(new SchemaChange(name, SchemaChange.Kind.VARIANT, Optional.of(now), Optional.of(type), Optional.of(variant)));
        return variant;
    }

    /**
     * The source columns of a table rebuilt from {@code landing} in place of one with the {@code old} columns (a replace,
     * a partitioned load), name to type: the old table's in their order (a column the source no longer has is kept, NULL),
     * then the landing's new ones; those {@code freeze} does not load are left out.
     */
    public Map<String, String> rebuiltColumns(Optional<Map<String, String>> old, Landing landing) {
        var columns = new LinkedHashMap<String, String>();
        var kept = changes.stream().filter(c -> c.kind() == SchemaChange.Kind.DROPPED).map(SchemaChange::column).toList();
        // A landed column takes the landing's type (put below, keeping this position).
        old.ifPresent(o -> o.forEach((c, type) -> {
            if (kept.contains(c) || landsIn.containsKey(c)) {
                columns.put(c, type);
            }
        }));
        landing.columns().stream().filter(c -> landsIn.containsKey(c.name())).forEach(c -> columns.put(c.name(), c.bronzeType()));
        return columns;
    }

    /**
     * The changes that need a kept table altered, given its columns: a column to add, or one whose type is not the new one yet
     * (values landing in a variant column that exists already, or in their column again, need nothing).
     */
    public List<SchemaChange> alterations(Map<String, String> bronze) {
        return changes.stream().filter(c -> c.kind() != SchemaChange.Kind.DROPPED && c.kind() != SchemaChange.Kind.IGNORED
            && !c.newType().equals(Optional.ofNullable(bronze.get(c.landsIn().orElseThrow())))).toList();
    }

    /** Fails before anything is written when the policy refuses one of the changes. */
    private void refuseUnder(SchemaPolicy policy, String origin, Predicate<SchemaChange> followed) {
        List<SchemaChange> refused = switch (policy) {
            case EVOLVE -> List.of();
            case FAIL -> changes.stream().filter(followed.negate()).toList();
            case FREEZE -> changes.stream().filter(c -> c.kind() == SchemaChange.Kind.WIDENED || c.kind() == SchemaChange.Kind.VARIANT
                || c.kind() == SchemaChange.Kind.RETYPED).filter(followed.negate()).toList();
        };
        if (!refused.isEmpty()) {
            throw new SchemaChangeRefused(("The columns of %s changed: %s; --on-schema-change %s stops the stream before anything is "
                + "written. Rerun with --on-schema-change evolve to follow the change%s.").formatted(origin,
                String.join("; ", refused.stream().map(SchemaChange::what).toList()), policy.label(),
                policy == SchemaPolicy.FREEZE ? "" : ", or freeze to keep loading the columns bronze has"), refused);
        }
    }

    /** A change the stream's policy refused: exit 3, and the failed run records the changes in its details. */
    public static final class SchemaChangeRefused extends DatakitException {
        public SchemaChangeRefused(String message, List<SchemaChange> changes) {
            super(ExitCode.NOT_READY, message, Map.of("schema_changes_refused",
                changes.stream().map(SchemaChange::toDetails).toList()));
        }
    }
}
