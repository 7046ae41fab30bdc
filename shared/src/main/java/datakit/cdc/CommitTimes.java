package datakit.cdc;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;

/**
 * Commit times as COPY text for {@code _cdc_commit_ts}: ISO 8601 in UTC to the microsecond, as pgoutput sends them
 * ({@code 2026-12-04T23:20:24.123456Z}). Formatting an {@link Instant} in full for each of thousands of small transactions a
 * second cost more than decoding them, so the date and time of day are formatted once per second and the fraction is written
 * digit by digit.
 */
final class CommitTimes {
    private static final DateTimeFormatter SECOND = DateTimeFormatter.ofPattern("uuuu-MM-dd'T'HH:mm:ss").withZone(ZoneOffset.UTC);

    private long second = Long.MIN_VALUE;
    private byte[] secondText = new byte[0];

    byte[] text(Instant time) {
        if (time.getEpochSecond() != second) {
            second = time.getEpochSecond();
            secondText = SECOND.format(time).getBytes(StandardCharsets.US_ASCII);
        }
        byte[] text = new byte[secondText.length + 8];
        System.arraycopy(secondText, 0, text, 0, secondText.length);
        int micros = time.getNano() / 1000;
        int at = secondText.length;
        text[at] = '.';
        for (int digit = 6; digit >= 1; digit--) {
            text[at + digit] = (byte) ('0' + micros % 10);
            micros /= 10;
        }
        text[at + 7] = 'Z';
        return text;
    }
}
