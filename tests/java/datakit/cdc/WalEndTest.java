package datakit.cdc;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class WalEndTest {
    static final int BLOCK = 8192;
    static final long SEGMENT = 16L << 20;

    @Test
    void anInsertPositionInsideAPageIsWhereTheLastRecordEnds() {
        assertThat(WalEnd.ofInsertPosition(0x1D7C458L, BLOCK, SEGMENT)).isEqualTo(0x1D7C458L);
    }

    @Test
    void anInsertPositionRightAfterAPageHeaderMeansTheLastRecordEndedAtThePageStart() {
        long pageStart = 0x1D7C000L;
        assertThat(WalEnd.ofInsertPosition(pageStart + 24, BLOCK, SEGMENT)).isEqualTo(pageStart);
    }

    @Test
    void anInsertPositionRightAfterASegmentHeaderMeansTheLastRecordEndedAtTheSegmentStart() {
        long segmentStart = 3 * SEGMENT;
        assertThat(WalEnd.ofInsertPosition(segmentStart + 40, BLOCK, SEGMENT)).isEqualTo(segmentStart);
        // 40 bytes into an ordinary page is a position a record can end at.
        assertThat(WalEnd.ofInsertPosition(segmentStart + BLOCK + 40, BLOCK, SEGMENT)).isEqualTo(segmentStart + BLOCK + 40);
    }
}
