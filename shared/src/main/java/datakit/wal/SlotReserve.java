package datakit.wal;

import java.util.Locale;
import java.util.Optional;

/**
 * How close a replication slot is to being invalidated, as {@code pg_replication_slots} says: its {@code wal_status}, and
 * with {@code max_slot_wal_keep_size} set, how much further it may fall behind ({@code safe_wal_size}). The server
 * invalidates a slot whose WAL would pass that limit at its next checkpoint; such a slot can never stream again, and its
 * stream must start over from a snapshot. Said by the run's summary and by postgres-health, in the same words.
 *
 * @param walStatus      reserved, extended, unreserved or lost
 * @param safeWalBytes   safe_wal_size, when max_slot_wal_keep_size limits the slot
 * @param keepLimitBytes max_slot_wal_keep_size, when set
 */
public record SlotReserve(String slot, String walStatus, Optional<Long> safeWalBytes, Optional<Long> keepLimitBytes) {
    /** Below this share of max_slot_wal_keep_size left, the slot's reserve runs low. */
    static final double LOW_SHARE = 0.5;

    /** The warning the slot's state calls for, if any: its WAL unreserved, or its reserve below half of max_slot_wal_keep_size. */
    public Optional<String> warning() {
        if (walStatus.equals("unreserved")) {
            return Optional.of(("slot %s keeps WAL past max_slot_wal_keep_size (wal_status unreserved): the server invalidates it at its "
                + "next checkpoint unless the stream catches up first; run it now, and more often (or raise max_slot_wal_keep_size)")
                .formatted(slot));
        }
        if (safeWalBytes.isPresent() && keepLimitBytes.isPresent() && safeWalBytes.get() < LOW_SHARE * keepLimitBytes.get()) {
            return Optional.of(String.format(Locale.ROOT, "slot %s can fall only %s further behind before the server invalidates it "
                + "(safe_wal_size, of max_slot_wal_keep_size %s): run its stream more often, or raise max_slot_wal_keep_size", slot,
                mib(Math.max(0, safeWalBytes.get())), mib(keepLimitBytes.get())));
        }
        return Optional.empty();
    }

    /** Whether the slot's WAL is still reserved: 0 once the server may remove WAL the slot needs, for a metric. */
    public boolean reserved() {
        return walStatus.equals("reserved") || walStatus.equals("extended");
    }

    private static String mib(long bytes) {
        return String.format(Locale.ROOT, "%,d MiB", bytes >> 20);
    }
}
