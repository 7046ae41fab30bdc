package datakit.wal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;

class LsnTest {

    @Test
    void theTextFormReadsAndWritesAsPostgresPrintsIt() {
        for (String text : List.of("0/0", "0/3000060", "16/B374D848", "1/0", "FFFFFFFF/FFFFFFFF")) {
            assertThat(Lsn.parse(text).toString()).isEqualTo(text);
        }
        assertThat(Lsn.parse("16/B374D848").value()).isEqualTo(0x16_B374D848L);
        assertThat(Lsn.of(0x16_B374D848L)).hasToString("16/B374D848");
        assertThat(Lsn.of(-1)).hasToString("FFFFFFFF/FFFFFFFF");
        assertThat(Lsn.ZERO).hasToString("0/0");
    }

    @Test
    void lowerCaseAndLeadingZerosAreReadButWrittenAsPostgresWritesThem() {
        assertThat(Lsn.parse("16/b374d848")).isEqualTo(Lsn.parse("16/B374D848")).hasToString("16/B374D848");
        assertThat(Lsn.parse("0000000A/0000000b")).hasToString("A/B");
    }

    @Test
    void positionsCompareUnsignedAsTheServerComparesThem() {
        Lsn belowHalf = Lsn.parse("7FFFFFFF/FFFFFFFF");
        Lsn half = Lsn.parse("80000000/0");
        Lsn last = Lsn.parse("FFFFFFFF/FFFFFFFF");

        assertThat(half.value()).as("the 64-bit value is negative when read signed").isNegative();
        assertThat(half.isAfter(belowHalf)).isTrue();
        assertThat(belowHalf.isBefore(half)).isTrue();
        assertThat(List.of(last, half, Lsn.ZERO, belowHalf).stream().sorted().toList()).containsExactly(Lsn.ZERO, belowHalf, half, last);
        assertThat(Lsn.max(belowHalf, last)).isEqualTo(last);
        assertThat(Lsn.min(half, belowHalf)).isEqualTo(belowHalf);
        assertThat(last.isAfter(last)).isFalse();
        assertThat(Lsn.parse("8000000/0").isBefore(belowHalf)).as("the high half is a number, not a digit string").isTrue();
    }

    @Test
    void bytesBetweenPositionsAreTheirDifference() {
        assertThat(Lsn.parse("1/0").bytesSince(Lsn.parse("0/FFFFFF00"))).isEqualTo(256);
        assertThat(Lsn.parse("1/0").minus(24)).isEqualTo(Lsn.parse("0/FFFFFFE8"));
    }

    @Test
    void textThatIsNoPositionIsRefused() {
        for (String text : List.of("", "/", "0/", "/0", "0", "0//0", "0/0/0", "G/0", "0/-1", "-1/0", "+1/0", " 0/0", "0/0 ", "123456789/0",
            "0/123456789", "0x1/0", "１/0")) {
            assertThatThrownBy(() -> Lsn.parse(text)).as(text).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("is not a WAL position (pg_lsn)");
        }
    }
}
