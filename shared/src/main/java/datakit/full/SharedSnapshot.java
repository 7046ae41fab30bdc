package datakit.full;

import java.time.OffsetDateTime;

/**
 * A source snapshot exported for several loads (the tables of a set), and when it was taken on the warehouse's clock: a load of
 * it finds out whether another run loaded its table after that, from a newer snapshot.
 *
 * @param id      what {@code pg_export_snapshot()} returned; the exporting transaction stays open while loads import it
 * @param takenAt the warehouse's {@code clock_timestamp()} just after the export: a run that started later read a newer state
 */
public record SharedSnapshot(String id, OffsetDateTime takenAt) {
}
