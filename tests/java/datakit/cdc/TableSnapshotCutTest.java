package datakit.cdc;

import static org.assertj.core.api.Assertions.assertThat;

import datakit.wal.Lsn;
import org.junit.jupiter.api.Test;

class TableSnapshotCutTest {
    static final Lsn CUT = Lsn.parse("0/3000060");
    static final Lsn BEFORE = Lsn.parse("0/3000000");
    static final Lsn AT = CUT;
    static final Lsn AFTER = Lsn.parse("0/3000100");

    @Test
    void aTableNewToTheStreamLandsOnlyTheChangesFromItsCutAndAppliesThemAlone() {
        var cut = new TableSnapshot.Cut(1, CUT, true, false);
        assertThat(cut.lands(BEFORE)).isFalse();
        assertThat(cut.lands(AT)).isTrue();
        assertThat(cut.lands(AFTER)).isTrue();
        assertThat(cut.applies(BEFORE)).isFalse();
        assertThat(cut.applies(AT)).isTrue();
    }

    @Test
    void aReloadedTableKeepsItsHistoryButAppliesOnlyFromTheCutUnlessItWasPartial() {
        var whole = new TableSnapshot.Cut(1, CUT, false, false);
        assertThat(whole.lands(BEFORE)).isTrue();
        assertThat(whole.applies(BEFORE)).isFalse();
        assertThat(whole.applies(AFTER)).isTrue();
        var partial = new TableSnapshot.Cut(1, CUT, false, true);
        assertThat(partial.lands(BEFORE)).isTrue();
        assertThat(partial.applies(BEFORE)).isTrue();
    }
}
