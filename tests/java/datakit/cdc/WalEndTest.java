package datakit.cdc;

import static org.assertj.core.api.Assertions.assertThat;

import datakit.wal.Lsn;
import org.junit.jupiter.api.Test;

class WalEndTest {
    static final int BLOCK = 8192;
    static final long SEGMENT = 16L << 20;

    @Test
    void anInsertPositionInsideAPageIsWhereTheLastRecordEnds() {
        assertThat(WalEnd.ofInsertPosition(Lsn.of(0x1D7C458L), BLOCK, SEGMENT)).isEqualTo(Lsn.of(0x1D7C458L));
    }

    @Test
    void anInsertPositionRightAfterAPageHeaderMeansTheLastRecordEndedAtThePageStart() {
        long pageStart = 0x1D7C000L;
        assertThat(WalEnd.ofInsertPosition(Lsn.of(pageStart + 24), BLOCK, SEGMENT)).isEqualTo(Lsn.of(pageStart));
    }

    @Test
    void anInsertPositionRightAfterASegmentHeaderMeansTheLastRecordEndedAtTheSegmentStart() {
        long segmentStart = 3 * SEGMENT;
        assertThat(WalEnd.ofInsertPosition(Lsn.of(segmentStart + 40), BLOCK, SEGMENT)).isEqualTo(Lsn.of(segmentStart));
        // 40 bytes into an ordinary page is a position a record can end at.
        assertThat(WalEnd.ofInsertPosition(Lsn.of(segmentStart + BLOCK + 40), BLOCK, SEGMENT)).isEqualTo(Lsn.of(segmentStart + BLOCK + 40));
    }
}
