package datakit.source;

import java.util.Optional;
import java.util.OptionalInt;

/**
 * How to split a big table into parts: a partitioned table by its partitions, kept to those whose
 * range bounds overlap [{@code from}, {@code to}); a plain table into {@code chunks} block ranges.
 */
public record Split(Optional<String> from, Optional<String> to, OptionalInt chunks) {

    /** Every partition, or every member of an inheritance tree. */
    static Split partitions() {
        return new Split(Optional.empty(), Optional.empty(), OptionalInt.empty());
    }

    /** Whether the interval keeps every partition. */
    boolean everyPartition() {
        return from.isEmpty() && to.isEmpty();
    }
}
