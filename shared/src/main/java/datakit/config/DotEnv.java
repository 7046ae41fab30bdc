package datakit.config;

import datakit.error.DatakitException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Parses {@code .env} files the way docker compose and most dotenv libraries do: {@code KEY=value}
 * lines, an optional {@code export} prefix, {@code #} comments, and single or double quotes (double
 * quotes understand {@code \n}, {@code \"} and {@code \\}). Variables are not expanded.
 */
final class DotEnv {
    private static final Pattern KEY = Pattern.compile("[A-Za-z_][A-Za-z0-9_.]*");

    private DotEnv() {
    }

    static Map<String, String> parse(String fileName, String text) {
        var values = new LinkedHashMap<String, String>();
        String[] lines = text.split("\r?\n", -1);
        for (int i = 0; i < lines.length; i++) {
            String line = lines[i].strip();
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            if (line.startsWith("export ")) {
                line = line.substring("export ".length()).strip();
            }
            int eq = line.indexOf('=');
            String key = eq < 0 ? line : line.substring(0, eq).strip();
            if (eq < 0 || !KEY.matcher(key).matches()) {
                throw DatakitException.badInput("%s line %d is not KEY=value. Fix or remove the line.", fileName, i + 1);
            }
            values.put(key, value(fileName, i + 1, line.substring(eq + 1).strip()));
        }
        return values;
    }

    private static String value(String fileName, int lineNumber, String raw) {
        if (raw.startsWith("\"") || raw.startsWith("'")) {
            char quote = raw.charAt(0);
            int end = closingQuote(raw, quote);
            if (end < 0) {
                throw DatakitException.badInput("%s line %d has an opening %s quote and no closing one. Close the quote.",
                    fileName, lineNumber, quote == '"' ? "double" : "single");
            }
            String inner = raw.substring(1, end);
            return quote == '"' ? unescape(inner) : inner;
        }
        if (raw.startsWith("#")) {
            return "";
        }
        int comment = raw.indexOf(" #");
        return (comment < 0 ? raw : raw.substring(0, comment)).strip();
    }

    private static int closingQuote(String raw, char quote) {
        for (int i = 1; i < raw.length(); i++) {
            char c = raw.charAt(i);
            if (c == '\\' && quote == '"') {
                i++;
            } else if (c == quote) {
                return i;
            }
        }
        return -1;
    }

    private static String unescape(String s) {
        var out = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '\\' && i + 1 < s.length()) {
                char next = s.charAt(++i);
                out.append(switch (next) {
                    case 'n' -> '\n';
                    case 't' -> '\t';
                    case 'r' -> '\r';
                    default -> next;
                });
            } else {
                out.append(c);
            }
        }
        return out.toString();
    }
}
