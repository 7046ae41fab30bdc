package datakit.sql;

import datakit.error.DatakitException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.regex.Pattern;

/**
 * Reads identifiers the way PostgreSQL does: unquoted names fold to lower case, {@code "Quoted"}
 * names keep their case and may contain anything ({@code ""} is a quote inside them).
 */
public final class Identifiers {
    private static final Pattern PLAIN = Pattern.compile("[a-z_][a-z0-9_]*");
    /** What PostgreSQL accepts unquoted: letters (any script), digits, _ and $, not starting with a digit or $. */
    private static final Pattern UNQUOTED = Pattern.compile("[\\p{L}_][\\p{L}\\p{N}_$]*");

    private Identifiers() {
    }

    /** One identifier: {@code Orders} is {@code orders}, {@code "Orders"} is {@code Orders}. */
    public static String one(String text, String what) {
        List<String> parts = split(text, '.', what);
        DatakitException.check(parts.size() == 1,
            "%s \"%s\" must be a single name. Quote a name that contains a dot: '\"%s\"'.", what, text, text.replace("\"", ""));
        return parts.get(0);
    }

    /**
     * One identifier that needs no quotes ({@code [a-z_][a-z0-9_]*} once folded), for names that SQL
     * files use unquoted, such as the bronze schema in the migrations.
     */
    public static String plain(String text, String what) {
        String name = one(text, what);
        DatakitException.check(PLAIN.matcher(name).matches(),
            "%s \"%s\" must be a plain name (lower-case letters, digits and _, not starting with a digit): "
                + "the bronze migrations use it without quotes. Choose a name such as bronze or raw_crm.", what, text);
        return name;
    }

    /** Identifiers separated by {@code separator} outside quotes ({@code a,"B,c"} or {@code s.t}). */
    public static List<String> split(String text, char separator, String what) {
        var parts = new ArrayList<String>();
        var current = new StringBuilder();
        boolean quoted = false;
        boolean wasQuoted = false;
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (quoted) {
                if (c == '"' && i + 1 < text.length() && text.charAt(i + 1) == '"') {
                    current.append('"');
                    i++;
                } else if (c == '"') {
                    quoted = false;
                } else {
                    current.append(c);
                }
            } else if (c == '"') {
                if (current.toString().isBlank()) {
                    current.setLength(0);
                }
                quoted = true;
                wasQuoted = true;
            } else if (c == separator) {
                parts.add(finish(current, wasQuoted, text, what));
                current.setLength(0);
                wasQuoted = false;
            } else if (!wasQuoted || !Character.isWhitespace(c)) {
                current.append(c);
            }
        }
        if (quoted) {
            throw DatakitException.badInput("%s \"%s\" has an unclosed double quote. Close it, or drop the quotes.", what, text);
        }
        parts.add(finish(current, wasQuoted, text, what));
        return parts;
    }

    /** PostgreSQL folds only A-Z in UTF-8 databases; Ä stays Ä. */
    private static String foldAscii(String name) {
        var folded = new StringBuilder(name.length());
        for (int i = 0; i < name.length(); i++) {
            char c = name.charAt(i);
            folded.append(c >= 'A' && c <= 'Z' ? (char) (c + ('a' - 'A')) : c);
        }
        return folded.toString();
    }

    private static String finish(StringBuilder part, boolean quoted, String text, String what) {
        String raw = part.toString().strip();
        if (raw.isEmpty()) {
            throw DatakitException.badInput("%s \"%s\" has an empty name. Check for a stray separator.", what, text);
        }
        if (quoted) {
            return part.toString();
        }
        DatakitException.check(UNQUOTED.matcher(raw).matches(),
            "%s \"%s\": %s is not a name PostgreSQL takes without quotes. Put it in double quotes to use it as written: '\"%s\"'.",
            what, text, raw, raw);
        return foldAscii(raw);
    }

    /**
     * {@code name} if PostgreSQL takes it whole, else cut to fit and ended with a hash of the whole, so it
     * stays unique and the same at every run.
     */
    public static String fit(String name) {
        byte[] bytes = name.getBytes(StandardCharsets.UTF_8);
        if (bytes.length <= TableRef.MAX_IDENTIFIER_BYTES) {
            return name;
        }
        String hash = "_" + sha1(name).substring(0, 8);
        var cut = new StringBuilder();
        for (int i = 0; i < name.length(); ) {
            int next = name.offsetByCodePoints(i, 1);
            if ((cut + name.substring(i, next)).getBytes(StandardCharsets.UTF_8).length > TableRef.MAX_IDENTIFIER_BYTES - hash.length()) {
                break;
            }
            cut.append(name, i, next);
            i = next;
        }
        return cut + hash;
    }

    private static String sha1(String text) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-1").digest(text.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
