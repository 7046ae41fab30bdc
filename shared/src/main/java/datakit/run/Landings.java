package datakit.run;

import datakit.bronze.BronzeTable;
import datakit.bronze.Landing;
import datakit.bronze.LandingColumn;
import datakit.source.LargeObjects;
import datakit.source.ReadPlan;
import datakit.source.Selection;
import datakit.sql.TableRef;
import org.jooq.DSLContext;

/**
 * Where a read meets its landing: a read plan described in the bronze side's terms ({@link Landing}), and a
 * selection adjusted to the bronze table it adds to. The reader and the landing side know nothing of each other;
 * the modes join them here.
 */
public final class Landings {
    private Landings() {
    }

    /** What the planned rows land as: their columns with bronze types, where they came from, and what is checked. */
    public static Landing of(ReadPlan plan) {
        ReadPlan.Checks checks = plan.checks();
        LargeObjects objects = checks.largeObjects();
        return new Landing(plan.describe(), plan.table(),
            plan.columns().stream().map(c -> new LandingColumn(c.name(), c.bronzeType(), c.sourceType())).toList(),
            new Landing.Checks(checks.jsonText(),
                objects.columns().stream().map(c -> new Landing.LargeObject(c, LargeObjects.contentColumn(c))).toList(),
                objects.capBytes(), checks.key()));
    }

    /**
     * {@code selection} with its flattened keys keeping the types the bronze table {@code target} already
     * gives them: a load that adds rows to a table must not change its columns' types.
     */
    public static Selection keepingFlattenedTypes(DSLContext db, TableRef target, Selection selection) {
        if (selection.flatten().isEmpty()) {
            return selection;
        }
        return BronzeTable.inspect(db, target).map(t -> selection.flatten(selection.flatten().keeping(t.columns()))).orElse(selection);
    }
}
