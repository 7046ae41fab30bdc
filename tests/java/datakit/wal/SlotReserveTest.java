package datakit.wal;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Optional;
import org.junit.jupiter.api.Test;

class SlotReserveTest {
    static final long MIB = 1L << 20;

    @Test
    void aSlotWithoutALimitOrWithHalfItsReserveLeftIsNotWarnedOf() {
        assertThat(new SlotReserve("s", "reserved", Optional.empty(), Optional.empty()).warning()).isEmpty();
        assertThat(new SlotReserve("s", "extended", Optional.of(24 * MIB), Optional.of(48 * MIB)).warning()).isEmpty();
        assertThat(new SlotReserve("s", "extended", Optional.of(24 * MIB), Optional.of(48 * MIB)).reserved()).isTrue();
    }

    @Test
    void aSlotBelowHalfItsReserveOrUnreservedIsWarnedOfWithWhatToDo() {
        assertThat(new SlotReserve("s", "reserved", Optional.of(17 * MIB), Optional.of(48 * MIB)).warning()).contains("slot s can fall only "
            + "17 MiB further behind before the server invalidates it (safe_wal_size, of max_slot_wal_keep_size 48 MiB): run its stream more "
            + "often, or raise max_slot_wal_keep_size");
        var unreserved = new SlotReserve("s", "unreserved", Optional.of(-5 * MIB), Optional.of(48 * MIB));
        assertThat(unreserved.warning()).hasValueSatisfying(w -> assertThat(w).startsWith("slot s keeps WAL past max_slot_wal_keep_size "
            + "(wal_status unreserved)"));
        assertThat(unreserved.reserved()).isFalse();
    }
}
