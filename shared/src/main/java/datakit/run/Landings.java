package datakit.run;

import datakit.bronze.Landing;
import datakit.bronze.LandingColumn;
import datakit.source.LargeObjects;
import datakit.source.ReadPlan;

/**
 * Where a read meets its landing: a read plan described in the bronze side's terms ({@link Landing}). The reader and
 * the landing side know nothing of each other; the modes join them here (and {@link JsonLoad} for what JSON adds).
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
                objects.capBytes(), checks.key(),
                checks.flatKeys().stream().map(k -> new Landing.FlatKey(k.column(), k.document(), k.path())).toList()),
            plan.selection().flatten().specs().stream().map(s -> s.column() + "__").toList());
    }
}
