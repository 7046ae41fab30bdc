package datakit.cli;

import datakit.error.DatakitException;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Sizes as options take them: bytes, or a number with K, M or G (binary: 64M is 64 MiB). */
final class SizeOption {
    private static final Pattern SIZE = Pattern.compile("([0-9]{1,10})([KMG]?)", Pattern.CASE_INSENSITIVE);

    private SizeOption() {
    }

    static long bytes(String size, String option) {
        Matcher matcher = SIZE.matcher(size.strip());
        DatakitException.check(matcher.matches(), "%s is \"%s\": give bytes, or a number with K, M or G (64M).", option, size);
        return Long.parseLong(matcher.group(1)) << switch (matcher.group(2).toUpperCase(Locale.ROOT)) {
            case "K" -> 10;
            case "M" -> 20;
            case "G" -> 30;
            default -> 0;
        };
    }
}
